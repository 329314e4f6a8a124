//! Test reports: JUnit XML files a step's command writes in its container, collected
//! after it (also after a failure), parsed, and attributed to test files.

use std::collections::HashSet;
use std::path::{Component, Path};
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures::{StreamExt, TryStreamExt};
use globset::Glob;
use serde::Serialize;

pub use crate::junit_reader::parse_junit;
use crate::runtime::{ErrorKind, Runtime, Stream};
use crate::warm_lease::WarmLease;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TestStatus {
    Passed,
    Failed,
    Error,
    Skipped,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TestCaseResult {
    pub suite: String,
    pub name: String,
    pub classname: Option<String>,
    /// The test file, from the report or worked out from the classname.
    pub file: Option<String>,
    #[serde(serialize_with = "ms")]
    pub duration: Duration,
    pub status: TestStatus,
    pub message: Option<String>,
}

fn ms<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(d.as_millis() as u64)
}

/// Fill in missing files from the classname: `tests.api.test_users.TestX` is
/// `tests/api/test_users.py` when that is one of `files` (or any file whose path without
/// extension matches a prefix of the classname).
pub fn attribute_files(cases: &mut [TestCaseResult], files: &[String]) {
    for case in cases.iter_mut().filter(|c| c.file.is_none()) {
        case.file = module_stems(case).into_iter().find_map(|stem| {
            files
                .iter()
                .find(|file| {
                    let without_ext = file.rsplit_once('.').map_or(file.as_str(), |(s, _)| s);
                    without_ext == stem || without_ext.ends_with(&format!("/{stem}"))
                })
                .cloned()
        });
    }
}

/// Fill in missing files of a step that is not split (so has no list of files) from the
/// project's files on this host: `tests.api.test_users.TestX` is `tests/api/test_users.py`
/// when the project has it. Then its timings serve a later split, and a test has one name
/// whether its step is split or not.
pub fn attribute_files_in(cases: &mut [TestCaseResult], project_dir: &Path) {
    for case in cases.iter_mut().filter(|c| c.file.is_none()) {
        case.file = module_stems(case)
            .into_iter()
            .map(|stem| format!("{stem}.py"))
            .find(|file| project_dir.join(file).is_file());
    }
}

/// The paths a case's module may live at, without extension, longest first: its
/// classname's dotted prefixes (`tests/api/test_users/TestX`, `tests/api/test_users`, …).
fn module_stems(case: &TestCaseResult) -> Vec<String> {
    // pytest names a file that failed to import (a collection error) in `name`, with an
    // empty classname: `tests.test_basic`.
    let module = match case.classname.as_deref() {
        Some(classname) if !classname.is_empty() => classname,
        _ if case.name.contains(['.', '/']) => case.name.as_str(),
        _ => return Vec::new(),
    };
    let parts: Vec<&str> = module.split(['.', '/', ':']).filter(|p| !p.is_empty()).collect();
    (1..=parts.len()).rev().map(|len| parts[..len].join("/")).collect()
}

impl TestCaseResult {
    /// How to name the test to a person: see [`test_id`].
    pub fn id(&self) -> String {
        test_id(self.file.as_deref(), self.classname.as_deref(), &self.name, &self.suite)
    }
}

/// A test's name for a person, pytest-style: `tests/test_x.py::TestPipe::test_y`, with the
/// class when the classname holds one past the file's module; without a file, the
/// classname (or suite) and the name.
pub fn test_id(file: Option<&str>, classname: Option<&str>, name: &str, suite: &str) -> String {
    let Some(file) = file else {
        let place = classname.filter(|c| !c.is_empty()).unwrap_or(suite);
        return format!("{place}::{name}");
    };
    let classname = classname.unwrap_or_default();
    let module: Vec<&str> = file.rsplit_once('.').map_or(file, |(stem, _)| stem).split('/').collect();
    // The classname starts with the module's dotted path, or a tail of it (pytest names
    // modules from its rootdir, which may sit below the project dir).
    let class = (0..module.len()).find_map(|skip| {
        let dotted = module[skip..].join(".");
        classname.strip_prefix(&dotted)?.strip_prefix('.')
    });
    match class {
        Some(class) => format!("{file}::{}::{name}", class.replace('.', "::")),
        None => format!("{file}::{name}"),
    }
}

/// Where to look for a glob's files: the folder before its first wildcard, or the file
/// itself when it has none.
fn glob_base(glob: &str) -> &str {
    let Some(first_wild) = glob.find(['*', '?', '[', '{']) else { return glob };
    match glob[..first_wild].rfind('/') {
        Some(i) => &glob[..i],
        None => "",
    }
}

/// One file a report glob matched in a container.
struct ReportFile {
    path: String,
    /// Seconds since the epoch (tar headers have no finer resolution).
    mtime: u64,
    /// The text, or `None` if it is not text.
    text: Option<String>,
}

impl ReportFile {
    /// What identifies a report: its path and content.
    fn key(&self, text: &str) -> (String, u64) {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        std::hash::Hash::hash(text, &mut hasher);
        (self.path.clone(), std::hash::Hasher::finish(&hasher))
    }
}

/// The files in `container` matching `glob` (relative to `working_dir`, or absolute).
///
/// The engine hands out whole folders as tar archives, so a glob is read from the folder
/// before its first wildcard, and a glob without one as that very file. The archive is
/// streamed and only matching files are kept: `**/junit.xml` in a working dir with a
/// gigabyte of dependencies costs the engine's time to pack it, but not that memory here.
async fn matching_files(
    source: &mut ReportSource<'_>,
    glob: &str,
    working_dir: &str,
) -> Result<Vec<ReportFile>, String> {
    let absolute = if glob.starts_with('/') { glob.to_string() } else { join(working_dir, glob) };
    let base = match glob_base(&absolute) {
        "" => "/".to_string(),
        b => b.to_string(),
    };
    let matcher = Glob::new(&absolute).map_err(|_| format!("`{glob}` is not a valid glob"))?.compile_matcher();
    let no_reports = |message: String| format!("no reports at `{glob}`: {message}");
    let leased = match source.lease.as_deref_mut() {
        Some(lease) => tar_through_lease(lease, &base).await,
        None => None,
    };
    let archive = match leased {
        Some(tar) => futures::stream::once(futures::future::ready(Ok(bytes::Bytes::from(tar)))).boxed(),
        None => source.runtime.read_archive(source.container, &base).await.map_err(|e| match e.kind {
            // The engine's words name the container by its 64-character id.
            ErrorKind::NotFound => no_reports(format!("`{base}` does not exist in the container")),
            _ => no_reports(e.message),
        })?,
    };
    // The engine's 404 for a missing folder comes with the stream's first chunk.
    let reader = tokio_util::io::StreamReader::new(archive.map_err(|e| match e.kind {
        ErrorKind::NotFound => std::io::Error::new(std::io::ErrorKind::NotFound, e.message),
        _ => std::io::Error::other(e.message),
    }));
    // Entries are named from the base's own name: rebuild absolute paths from its parent.
    let parent = Path::new(&base).parent().map_or_else(|| "/".to_string(), |p| p.to_string_lossy().into_owned());
    let unpack = move || -> Result<Vec<ReportFile>, std::io::Error> {
        let mut tar = tar::Archive::new(tokio_util::io::SyncIoBridge::new(reader));
        let mut files = Vec::new();
        for entry in tar.entries()? {
            let mut entry = entry?;
            let Ok(name) = entry.path().map(|p| p.to_string_lossy().into_owned()) else { continue };
            let path = join(&parent, &name);
            if !entry.header().entry_type().is_file() || !matcher.is_match(&path) {
                continue;
            }
            let mtime = entry.header().mtime().unwrap_or(0);
            let mut text = String::new();
            let text = std::io::Read::read_to_string(&mut entry, &mut text).is_ok().then_some(text);
            files.push(ReportFile { path, mtime, text });
        }
        Ok(files)
    };
    match tokio::task::spawn_blocking(unpack).await {
        Ok(Ok(files)) => Ok(files),
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::NotFound => {
            Err(no_reports(format!("`{base}` does not exist in the container")))
        }
        Ok(Err(e)) => Err(no_reports(e.to_string())),
        Err(e) => Err(no_reports(e.to_string())),
    }
}

/// The container reports are read from; through the pool when it is a leased warm one.
pub(crate) struct ReportSource<'a> {
    pub runtime: &'a dyn Runtime,
    pub container: &'a str,
    pub lease: Option<&'a mut WarmLease>,
}

/// A leased warm container's archive is at most this big in memory; a bigger one is read
/// from the engine, which streams it.
const MAX_LEASED_ARCHIVE: usize = 64 << 20;

/// `base` as a tar archive made by `tar` in a leased warm container, through the pool's
/// agent. This spares the engine's archive call, which packs in a helper process of its
/// own and costs 0.1–0.5 s a read on a busy machine. `None` (read it from the engine) when
/// the image has no `tar`, the folder is missing, or the archive is too big.
async fn tar_through_lease(lease: &mut WarmLease, base: &str) -> Option<Vec<u8>> {
    let path = Path::new(base);
    let (parent, name) = (path.parent()?.to_string_lossy(), path.file_name()?.to_string_lossy());
    let cmd = ["tar", "-cf", "-", "-C", &parent, &name].map(String::from);
    let mut archive = Vec::new();
    let mut too_big = false;
    let code = lease
        .run(&cmd, &[], |stream, bytes| {
            if stream == Stream::Stdout && !too_big {
                archive.extend_from_slice(bytes);
                too_big = archive.len() > MAX_LEASED_ARCHIVE;
                if too_big {
                    archive = Vec::new();
                }
            }
        })
        .await
        .ok()?;
    (code == 0 && !too_big).then_some(archive)
}

/// The reports in `container` before its command runs, by path and content (none, and no
/// engine call, without `globs`). A report an
/// earlier run left on a bind-mounted folder may be only a moment older than this step,
/// within the slack [`collect`] allows for clocks; what was there before is not this
/// step's.
pub(crate) async fn existing_reports(
    mut source: ReportSource<'_>,
    globs: &[String],
    working_dir: &str,
) -> HashSet<(String, u64)> {
    let mut existing = HashSet::new();
    for glob in globs {
        for file in matching_files(&mut source, glob, working_dir).await.unwrap_or_default() {
            if let Some(text) = &file.text {
                existing.insert(file.key(text));
            }
        }
    }
    existing
}

/// Which reports are new: written since `since`, and not among `existing` (see
/// [`existing_reports`]).
pub struct Fresh<'a> {
    pub since: SystemTime,
    pub existing: &'a HashSet<(String, u64)>,
}

/// Collect the fresh reports matching `globs` (relative to `working_dir`, or absolute)
/// from a container (a report left by an earlier run or batch is not read again; `seen`,
/// shared by the whole run, remembers what was read, so a report on a volume that several
/// shards share is counted once). Returns the test cases and a message for each report
/// that could not be read.
///
/// Test cases are attributed to `files.all`; a report whose cases all belong to files
/// outside `files.mine` is another shard's (on a shared volume) and is left for it.
pub(crate) async fn collect(
    mut source: ReportSource<'_>,
    globs: &[String],
    working_dir: &str,
    fresh: Fresh<'_>,
    seen: &Mutex<HashSet<(String, u64)>>,
    files: Ownership<'_>,
) -> (Vec<TestCaseResult>, Vec<String>) {
    // Seconds resolution in tar headers, and clocks that may differ a little.
    let since = fresh.since.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs().saturating_sub(2);
    let mut cases = Vec::new();
    let mut problems = Vec::new();
    for glob in globs {
        let matched = match matching_files(&mut source, glob, working_dir).await {
            Ok(matched) => matched,
            Err(problem) => {
                problems.push(problem);
                continue;
            }
        };
        let mut found = false;
        for file in matched.into_iter().filter(|f| f.mtime >= since) {
            let Some(text) = &file.text else {
                problems.push(format!("report `{}` is not text", file.path));
                continue;
            };
            let key = file.key(text);
            // A report already read (a batch that wrote nothing new), or there before the
            // command ran, is not counted.
            if fresh.existing.contains(&key) || seen.lock().expect("reports seen").contains(&key) {
                continue;
            }
            let mut parsed = match parse_junit(text) {
                Ok(parsed) => parsed,
                Err(e) => {
                    problems.push(format!("report `{}` is not JUnit XML: {e}", file.path));
                    continue;
                }
            };
            attribute_files(&mut parsed, files.all);
            if !files.owns(&parsed) {
                continue;
            }
            // Two shards may reach the same report at once: the first one claims it.
            if seen.lock().expect("reports seen").insert(key) {
                found = true;
                cases.extend(parsed);
            }
        }
        if !found {
            problems.push(format!("no report matched `{glob}`"));
        }
    }
    (cases, problems)
}

/// The files a collector runs, among all the files of its split.
#[derive(Clone, Copy)]
pub struct Ownership<'a> {
    pub all: &'a [String],
    pub mine: &'a [String],
}

impl Ownership<'_> {
    /// Whether a report is this collector's: one of its cases is in `mine`, or none of
    /// them can be tied to a file of the split at all (then whoever finds it first).
    fn owns(&self, cases: &[TestCaseResult]) -> bool {
        let in_split: Vec<&String> =
            cases.iter().filter_map(|c| c.file.as_ref()).filter(|f| self.all.contains(f)).collect();
        self.all.is_empty() || in_split.is_empty() || in_split.iter().any(|f| self.mine.contains(f))
    }
}

/// Join and normalise container paths (`/code` + `reports/*.xml`).
fn join(dir: &str, path: &str) -> String {
    let mut parts: Vec<String> = Vec::new();
    for component in Path::new(dir).join(path).components() {
        match component {
            Component::ParentDir => {
                parts.pop();
            }
            Component::Normal(p) => parts.push(p.to_string_lossy().into_owned()),
            _ => {}
        }
    }
    format!("/{}", parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PYTEST_XML: &str = r#"<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest" errors="0" failures="1" skipped="1" tests="3" time="1.2"><testcase classname="tests.api.test_users" name="test_ok" time="0.5" /><testcase classname="tests.test_store.TestStore" name="test_bad" time="0.7"><failure message="assert 1 == 2">long trace</failure></testcase><testcase classname="tests.api.test_users" name="test_skip" time="0.0"><skipped message="not today" /></testcase></testsuite></testsuites>"#;

    #[test]
    fn cases_of_a_step_that_is_not_split_are_tied_to_the_projects_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("tests/api")).unwrap();
        std::fs::write(dir.path().join("tests/api/test_users.py"), "").unwrap();
        let case = |classname: &str, name: &str| TestCaseResult {
            suite: "pytest".into(),
            classname: Some(classname.into()),
            name: name.into(),
            file: None,
            duration: Duration::ZERO,
            status: TestStatus::Passed,
            message: None,
        };
        let mut cases = vec![
            case("tests.api.test_users.TestX", "test_a"),
            case("tests.api.test_users", "test_b"),
            case("tests.api.test_gone", "test_c"),
            case("", "tests.api.test_users"),
        ];
        attribute_files_in(&mut cases, dir.path());
        let files: Vec<Option<&str>> = cases.iter().map(|c| c.file.as_deref()).collect();
        assert_eq!(
            files,
            [Some("tests/api/test_users.py"), Some("tests/api/test_users.py"), None, Some("tests/api/test_users.py")]
        );
    }

    #[test]
    fn parses_pytest_reports_and_attributes_files() {
        let mut cases = parse_junit(PYTEST_XML).unwrap();
        assert_eq!(cases.len(), 3);
        assert_eq!(cases[1].status, TestStatus::Failed);
        assert_eq!(cases[1].message.as_deref(), Some("assert 1 == 2"));
        assert_eq!(cases[0].duration, Duration::from_millis(500));
        let files = vec!["tests/api/test_users.py".to_string(), "tests/test_store.py".to_string()];
        attribute_files(&mut cases, &files);
        assert_eq!(cases[0].file.as_deref(), Some("tests/api/test_users.py"));
        assert_eq!(cases[1].file.as_deref(), Some("tests/test_store.py"));
        assert_eq!(cases[2].status, TestStatus::Skipped);
    }

    #[test]
    fn a_test_is_named_with_its_file_and_class() {
        let case = |file: Option<&str>, classname: &str| TestCaseResult {
            suite: "pytest".into(),
            name: "test_y".into(),
            classname: Some(classname.into()),
            file: file.map(str::to_string),
            duration: Duration::ZERO,
            status: TestStatus::Failed,
            message: None,
        };
        assert_eq!(case(Some("tests/test_x.py"), "tests.test_x.TestPipe").id(), "tests/test_x.py::TestPipe::test_y");
        assert_eq!(case(Some("tests/test_x.py"), "test_x.TestA.TestB").id(), "tests/test_x.py::TestA::TestB::test_y");
        assert_eq!(case(Some("tests/test_x.py"), "tests.test_x").id(), "tests/test_x.py::test_y");
        assert_eq!(case(Some("spec/a.rb"), "Widget").id(), "spec/a.rb::test_y", "a classname that is no module");
        assert_eq!(case(None, "tests.test_x.TestPipe").id(), "tests.test_x.TestPipe::test_y");
    }

    #[test]
    fn a_collection_error_is_attributed_to_the_file_it_names() {
        let xml = r#"<testsuite name="pytest"><testcase classname="" name="tests.test_basic" time="0.000"><error message="collection failure">ImportError</error></testcase></testsuite>"#;
        let mut cases = parse_junit(xml).unwrap();
        attribute_files(&mut cases, &["tests/test_basic.py".to_string()]);
        assert_eq!(cases[0].file.as_deref(), Some("tests/test_basic.py"));
        assert_eq!(cases[0].status, TestStatus::Error);
    }

    #[test]
    fn a_file_attribute_wins() {
        let xml =
            r#"<testsuite name="s"><testcase classname="x.y" name="t" file="./tests/x.py" time="1"/></testsuite>"#;
        let cases = parse_junit(xml).unwrap();
        assert_eq!(cases[0].file.as_deref(), Some("tests/x.py"));
    }

    #[test]
    fn a_report_of_another_shards_files_is_left_to_it() {
        let all = vec!["tests/a.py".to_string(), "tests/b.py".to_string()];
        let mine = vec!["tests/a.py".to_string()];
        let files = Ownership { all: &all, mine: &mine };
        let case = |file: Option<&str>| TestCaseResult {
            suite: "s".into(),
            name: "t".into(),
            classname: None,
            file: file.map(str::to_string),
            duration: Duration::ZERO,
            status: TestStatus::Passed,
            message: None,
        };
        assert!(files.owns(&[case(Some("tests/a.py")), case(Some("tests/b.py"))]));
        assert!(!files.owns(&[case(Some("tests/b.py"))]));
        assert!(files.owns(&[case(None)]), "a report tied to no file goes to whoever finds it");
        assert!(files.owns(&[case(Some("elsewhere.py"))]));
    }

    #[test]
    fn globs_are_searched_from_their_fixed_part() {
        assert_eq!(glob_base("/code/reports/*.xml"), "/code/reports");
        assert_eq!(glob_base("/code/**/junit.xml"), "/code");
        assert_eq!(glob_base("/code/junit.xml"), "/code/junit.xml", "a file without wildcards is read alone");
        assert_eq!(join("/code", "reports/../r/*.xml"), "/code/r/*.xml");
    }

    #[test]
    fn a_bare_testsuite_root_after_a_prolog_is_read() {
        let xml = "<?xml version=\"1.0\"?>\n<!-- surefire -->\n<testsuite name=\"s\" tests=\"1\"><testcase name=\"t\" time=\"0.5\"><failure message=\"boom\"/></testcase></testsuite>";
        let cases = parse_junit(xml).unwrap();
        assert_eq!(cases.len(), 1);
        assert_eq!(cases[0].status, TestStatus::Failed);
        assert_eq!(cases[0].message.as_deref(), Some("boom"));
    }

    #[test]
    fn broken_xml_is_an_error() {
        assert!(parse_junit("<testsuite><testcase").is_err());
    }
}
