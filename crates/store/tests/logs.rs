//! Step logs: gzip files on disk, safe names, and reading them back.

use std::fs;

use slipway_store::{Store, StoreError, LOGS_DIR};

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

fn lines(texts: &[&str]) -> Vec<String> {
    texts.iter().map(|text| (*text).to_owned()).collect()
}

#[test]
fn a_log_round_trips_through_a_gzip_file() {
    let temp = tempfile::tempdir().unwrap();
    let store = Store::open(temp.path()).unwrap();
    // Repetitive output, as logs are, so compression has something to do.
    let mut written = lines(&["$ bin/test", "", "  indented ✓ ünïcode", "tab\there", "cr\r"]);
    written.extend((0..200).map(|i| format!("test_case_{i} ... ok")));

    let path = store.write_log("run-1", "tests", 2, &written).unwrap();
    assert_eq!(path, temp.path().join(LOGS_DIR).join("run-1").join("tests-2.log.gz"));

    let bytes = fs::read(&path).unwrap();
    assert_eq!(bytes[..2], GZIP_MAGIC);
    let plain_size: usize = written.iter().map(|line| line.len() + 1).sum();
    assert!(bytes.len() < plain_size / 4, "{} bytes compressed from {plain_size}", bytes.len());

    assert_eq!(store.read_log("run-1", "tests", 2).unwrap(), written);
    // Nothing else is left beside it (no temporary files).
    assert_eq!(fs::read_dir(path.parent().unwrap()).unwrap().count(), 1);
}

#[test]
fn empty_logs_and_rewrites_round_trip() {
    let temp = tempfile::tempdir().unwrap();
    let store = Store::open(temp.path()).unwrap();
    store.write_log("r", "s", 1, &[]).unwrap();
    assert_eq!(store.read_log("r", "s", 1).unwrap(), Vec::<String>::new());
    store.write_log("r", "s", 1, &lines(&[""])).unwrap();
    assert_eq!(store.read_log("r", "s", 1).unwrap(), lines(&[""]));
    store.write_log("r", "s", 1, &lines(&["second", "write"])).unwrap();
    assert_eq!(store.read_log("r", "s", 1).unwrap(), lines(&["second", "write"]));
}

#[test]
fn odd_step_labels_give_safe_distinct_file_names() {
    let temp = tempfile::tempdir().unwrap();
    let store = Store::open(temp.path()).unwrap();
    let labels = [
        "test/php-7.2: vendor/bin/phpunit",
        "test php-7.2: vendor/bin/phpunit",
        "../../escape",
        "ünïcødé ✓ 测试",
        ".hidden",
        "",
        "a\\b",
    ];
    let run_dir = temp.path().join(LOGS_DIR).join("run");
    for (index, label) in labels.iter().enumerate() {
        let path = store.write_log("run", label, 1, &lines(&[label, &index.to_string()])).unwrap();
        assert_eq!(path.parent().unwrap(), run_dir, "{label:?} escaped the run directory");
        let name = path.file_name().unwrap().to_str().unwrap();
        assert!(name.ends_with("-1.log.gz"), "{name}");
        assert!(!name.starts_with('.'), "{name}");
        assert!(
            name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')),
            "{label:?} gave {name:?}"
        );
    }
    // One file per label: no two labels were written to the same file.
    assert_eq!(fs::read_dir(&run_dir).unwrap().count(), labels.len());
    for (index, label) in labels.iter().enumerate() {
        assert_eq!(store.read_log("run", label, 1).unwrap(), lines(&[label, &index.to_string()]));
    }
    assert!(!temp.path().join("escape-1.log.gz").exists());
}

#[test]
fn attempts_have_separate_logs() {
    let temp = tempfile::tempdir().unwrap();
    let store = Store::open(temp.path()).unwrap();
    store.write_log("r", "tests", 1, &lines(&["first"])).unwrap();
    store.write_log("r", "tests", 2, &lines(&["second"])).unwrap();
    assert_eq!(store.read_log("r", "tests", 1).unwrap(), lines(&["first"]));
    assert_eq!(store.read_log("r", "tests", 2).unwrap(), lines(&["second"]));
}

#[test]
fn a_missing_log_is_an_error_naming_its_path() {
    let temp = tempfile::tempdir().unwrap();
    let store = Store::open(temp.path()).unwrap();
    let error = store.read_log("r", "tests", 3).unwrap_err();
    assert!(matches!(error, StoreError::LogNotFound { .. }), "{error:?}");
    assert!(error.to_string().contains("tests-3.log.gz"), "{error}");
}

#[test]
fn a_damaged_log_is_an_error_naming_its_path() {
    let temp = tempfile::tempdir().unwrap();
    let store = Store::open(temp.path()).unwrap();
    let path = store.write_log("r", "tests", 1, &lines(&["fine"])).unwrap();
    fs::write(&path, "plain text, not gzip").unwrap();
    let error = store.read_log("r", "tests", 1).unwrap_err();
    assert!(matches!(error, StoreError::ReadLog { .. }), "{error:?}");
    assert!(error.to_string().contains(&path.display().to_string()), "{error}");
}

#[test]
fn run_ids_that_are_not_one_directory_name_are_refused() {
    let temp = tempfile::tempdir().unwrap();
    let store = Store::open(temp.path()).unwrap();
    for run_id in ["", ".", "..", "../outside", "a/b"] {
        let error = store.write_log(run_id, "tests", 1, &lines(&["x"])).unwrap_err();
        assert!(matches!(error, StoreError::InvalidRunId { .. }), "{run_id:?}: {error:?}");
    }
    assert!(!temp.path().join("outside").exists());
}

#[test]
fn a_running_steps_log_is_on_disk_line_by_line_until_the_gzip_log_replaces_it() {
    let temp = tempfile::tempdir().unwrap();
    let store = Store::open(temp.path()).unwrap();
    let mut live = store.live_log("run-1", "tests", 1).unwrap();
    live.append("collecting ...").unwrap();
    live.append("test_a PASSED").unwrap();
    // What a run killed now (kill -9, out of memory) leaves: no LiveLog is dropped or flushed.
    std::mem::forget(live);
    assert_eq!(store.read_log("run-1", "tests", 1).unwrap(), lines(&["collecting ...", "test_a PASSED"]));

    let path = store.write_log("run-1", "tests", 1, &lines(&["all of it"])).unwrap();
    assert_eq!(store.read_log("run-1", "tests", 1).unwrap(), lines(&["all of it"]));
    let left: Vec<_> = fs::read_dir(path.parent().unwrap()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(left, vec![path.file_name().unwrap().to_owned()], "the live log is gone");
}

#[test]
fn a_live_log_cut_in_the_middle_of_a_character_still_reads() {
    let temp = tempfile::tempdir().unwrap();
    let store = Store::open(temp.path()).unwrap();
    store.live_log("r", "s", 2).unwrap().append("first").unwrap();
    let live_path = store.log_path("r", "s", 2).unwrap().with_extension("");
    let mut bytes = fs::read(&live_path).unwrap();
    bytes.extend_from_slice(&"ü".as_bytes()[..1]);
    fs::write(&live_path, bytes).unwrap();
    assert_eq!(store.read_log("r", "s", 2).unwrap(), lines(&["first", "\u{fffd}"]));
    assert!(matches!(store.read_log("r", "s", 3), Err(StoreError::LogNotFound { .. })));
}
