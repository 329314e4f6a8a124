//! Opening a history directory: creation, migrations, and refusing bad paths.

use slipway_store::{Store, StoreError, DATABASE_FILE, SCHEMA_VERSION};

mod common;
use common::new_run;

#[test]
fn a_new_directory_is_created_and_migrated() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("nested/history");
    let store = Store::open(&dir).unwrap();

    assert_eq!(store.dir(), dir);
    assert!(dir.join(DATABASE_FILE).is_file());
    assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);

    // Checked from outside too: the version is SQLite's user_version, and WAL
    // is a property of the file that every later connection gets.
    let raw = rusqlite::Connection::open(dir.join(DATABASE_FILE)).unwrap();
    let user_version: i64 = raw.pragma_query_value(None, "user_version", |row| row.get(0)).unwrap();
    assert_eq!(user_version, SCHEMA_VERSION as i64);
    let mode: String = raw.pragma_query_value(None, "journal_mode", |row| row.get(0)).unwrap();
    assert_eq!(mode, "wal");
    let tables: Vec<String> = raw
        .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name")
        .unwrap()
        .query_map([], |row| row.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(tables, ["runs", "steps", "test_cases"]);
}

#[test]
fn reopening_keeps_the_schema_and_the_data() {
    let temp = tempfile::tempdir().unwrap();
    {
        let store = Store::open(temp.path()).unwrap();
        store.start_run(&new_run("r1", "acme", None, 1_000)).unwrap();
    }
    for _ in 0..2 {
        let store = Store::open(temp.path()).unwrap();
        assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
        let runs = store.runs(None, 10).unwrap();
        assert_eq!(runs.len(), 1);
        assert_eq!(runs[0].id, "r1");
    }
}

#[test]
fn a_database_from_a_newer_slipway_is_refused_by_name() {
    let temp = tempfile::tempdir().unwrap();
    drop(Store::open(temp.path()).unwrap());
    let raw = rusqlite::Connection::open(temp.path().join(DATABASE_FILE)).unwrap();
    raw.pragma_update(None, "user_version", SCHEMA_VERSION as i64 + 5).unwrap();
    drop(raw);

    let error = Store::open(temp.path()).unwrap_err();
    assert!(
        matches!(error, StoreError::NewerSchema { found, supported, .. }
            if found == SCHEMA_VERSION + 5 && supported == SCHEMA_VERSION),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(message.contains(&temp.path().join(DATABASE_FILE).display().to_string()), "{message}");
    assert!(message.contains("newer slipway"), "{message}");
}

#[test]
fn a_directory_that_is_a_file_is_an_error_naming_it() {
    let temp = tempfile::tempdir().unwrap();
    let file = temp.path().join("history");
    std::fs::write(&file, "not a directory").unwrap();

    let error = Store::open(&file).unwrap_err();
    assert!(matches!(error, StoreError::NotADirectory { .. }), "{error:?}");
    let message = error.to_string();
    assert!(message.contains(&file.display().to_string()), "{message}");
    assert!(message.contains("not a directory"), "{message}");
    // Nothing was written over the file.
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "not a directory");
}

#[test]
fn a_directory_under_a_file_is_an_error_naming_it() {
    let temp = tempfile::tempdir().unwrap();
    let file = temp.path().join("plain-file");
    std::fs::write(&file, "").unwrap();
    let dir = file.join("history");

    let error = Store::open(&dir).unwrap_err();
    assert!(matches!(error, StoreError::CreateDir { .. }), "{error:?}");
    assert!(error.to_string().contains(&dir.display().to_string()), "{error}");
}

#[test]
fn a_failed_migration_names_the_database_without_dumping_sql() {
    let temp = tempfile::tempdir().unwrap();
    // A table in the way, as a hand-edited or foreign database might have.
    let raw = rusqlite::Connection::open(temp.path().join(DATABASE_FILE)).unwrap();
    raw.execute_batch("CREATE TABLE runs (something_else TEXT)").unwrap();
    drop(raw);

    let error = Store::open(temp.path()).unwrap_err();
    assert!(matches!(error, StoreError::Migrate { .. }), "{error:?}");
    let message = error.to_string();
    assert!(message.contains(&temp.path().join(DATABASE_FILE).display().to_string()), "{message}");
    assert!(message.contains("table runs already exists"), "{message}");
    assert!(!message.contains("CREATE TABLE"), "{message}");
}

#[test]
fn a_damaged_database_is_an_error_naming_it() {
    let temp = tempfile::tempdir().unwrap();
    let database = temp.path().join(DATABASE_FILE);
    std::fs::write(&database, b"this is not an SQLite database, just text that is long enough").unwrap();

    let error = Store::open(temp.path()).unwrap_err();
    let message = error.to_string();
    assert!(message.contains(&database.display().to_string()), "{message}");
    assert!(message.contains("move it away") || message.contains("move the file away"), "{message}");
}
