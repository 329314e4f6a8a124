//! Reading JUnit XML reports: the few fields slipway uses, from every dialect in use.
//!
//! quick-junit (which writes `--junit`) has a strict reader: it rejects a whole report for a
//! field slipway never reads — a `timestamp` without a zone, as pytest before 8, jest-junit
//! and Ant write it, or a `<property>` without `value` — and skips suites nested in suites
//! (PHPUnit). So reports are read here, element by element, with quick-xml.

use std::time::Duration;

use quick_xml::escape::resolve_xml_entity;
use quick_xml::events::{BytesStart, Event};
use quick_xml::{Reader, XmlVersion};

use crate::reports::{TestCaseResult, TestStatus};

/// Test cases of a JUnit XML document, with `<testsuites>` or a bare `<testsuite>` as its
/// root; a case's suite is the innermost `<testsuite>` around it.
pub fn parse_junit(xml: &str) -> Result<Vec<TestCaseResult>, String> {
    let mut reader = Reader::from_str(xml);
    let mut suites: Vec<String> = Vec::new();
    let mut saw_suite = false;
    let mut case: Option<OpenCase> = None;
    let mut cases = Vec::new();
    loop {
        let at = reader.buffer_position();
        let event = reader.read_event().map_err(|e| format!("{e} (at byte {at})"))?;
        match &event {
            Event::Start(e) | Event::Empty(e) if e.name().as_ref() == b"testsuites" => saw_suite = true,
            Event::Start(e) if e.name().as_ref() == b"testsuite" => {
                saw_suite = true;
                suites.push(attribute(e, "name")?.unwrap_or_default());
            }
            Event::Empty(e) if e.name().as_ref() == b"testsuite" => saw_suite = true,
            Event::End(e) if e.name().as_ref() == b"testsuite" => {
                suites.pop();
            }
            Event::Start(e) if e.name().as_ref() == b"testcase" => {
                case = Some(OpenCase::new(e, suites.last().cloned().unwrap_or_default())?);
            }
            Event::Empty(e) if e.name().as_ref() == b"testcase" => {
                cases.push(OpenCase::new(e, suites.last().cloned().unwrap_or_default())?.finish());
            }
            Event::End(e) if e.name().as_ref() == b"testcase" => {
                cases.extend(case.take().map(OpenCase::finish));
            }
            Event::Start(e) | Event::Empty(e) if case.is_some() && main_status(e.name().as_ref()).is_some() => {
                let open = case.as_mut().expect("inside a test case");
                // A case has one outcome; a second status element (rare) does not replace it.
                if open.result.status == TestStatus::Passed {
                    open.result.status = main_status(e.name().as_ref()).expect("a status element");
                    open.result.message = attribute(e, "message")?.filter(|m| !m.trim().is_empty());
                    open.reading_text = matches!(event, Event::Start(_));
                }
            }
            Event::End(e) if main_status(e.name().as_ref()).is_some() => {
                if let Some(open) = case.as_mut() {
                    open.reading_text = false;
                }
            }
            Event::Text(t) => {
                if let Some(open) = case.as_mut().filter(|c| c.reading_text) {
                    open.text.push_str(&t.xml10_content().map_err(|e| e.to_string())?);
                }
            }
            Event::CData(t) => {
                if let Some(open) = case.as_mut().filter(|c| c.reading_text) {
                    open.text.push_str(&t.decode().map_err(|e| e.to_string())?);
                }
            }
            Event::GeneralRef(r) => {
                if let Some(open) = case.as_mut().filter(|c| c.reading_text) {
                    let name = r.decode().map_err(|e| e.to_string())?;
                    // An entity no DTD here defines (`&nbsp;` from an HTML-minded tool) stays as
                    // written: it is only a message.
                    open.text.push_str(&reference(&name).unwrap_or_else(|| format!("&{name};")));
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if case.is_some() || !suites.is_empty() {
        return Err("the document ends inside a test suite: it was cut off".into());
    }
    if !saw_suite {
        return Err("it has no <testsuites> or <testsuite> element".into());
    }
    Ok(cases)
}

const PYTEST_COLLECTION_FAILURE: &str = "collection failure";

/// A `<testcase>` whose end has not been read yet.
struct OpenCase {
    /// What is known so far: its outcome and message until a status element says otherwise.
    result: TestCaseResult,
    /// Inside a failure/error/skipped element: its text stands in for a missing `message`
    /// and says what a generic one means.
    reading_text: bool,
    text: String,
}

impl OpenCase {
    fn new(e: &BytesStart<'_>, suite: String) -> Result<Self, String> {
        let result = TestCaseResult {
            suite,
            name: attribute(e, "name")?.unwrap_or_default(),
            classname: attribute(e, "classname")?,
            file: attribute(e, "file")?.map(|f| f.trim_start_matches("./").to_string()),
            duration: attribute(e, "time")?.as_deref().map(seconds).unwrap_or_default(),
            status: TestStatus::Passed,
            message: None,
        };
        Ok(OpenCase { result, reading_text: false, text: String::new() })
    }

    fn finish(self) -> TestCaseResult {
        // One line: it is shown beside the test's name in the summary.
        let first_line = |text: &str| text.lines().map(str::trim).find(|l| !l.is_empty()).map(str::to_string);
        let mut message = self.result.message.as_deref().and_then(first_line).or_else(|| first_line(&self.text));
        // pytest's "collection failure" says nothing of the cause; its last `E` line does.
        if message.as_deref() == Some(PYTEST_COLLECTION_FAILURE) {
            let cause = self.text.lines().rev().find_map(|l| l.strip_prefix("E ")).map(str::trim);
            if let Some(cause) = cause.filter(|c| !c.is_empty()) {
                message = Some(format!("{PYTEST_COLLECTION_FAILURE}: {cause}"));
            }
        }
        TestCaseResult { message, ..self.result }
    }
}

/// The outcome a status element inside `<testcase>` gives. `flakyFailure`, `rerunFailure`
/// and the like record earlier attempts and leave the outcome alone.
fn main_status(name: &[u8]) -> Option<TestStatus> {
    match name {
        b"failure" => Some(TestStatus::Failed),
        b"error" => Some(TestStatus::Error),
        b"skipped" => Some(TestStatus::Skipped),
        _ => None,
    }
}

fn attribute(e: &BytesStart<'_>, name: &str) -> Result<Option<String>, String> {
    match e.try_get_attribute(name).map_err(|err| err.to_string())? {
        Some(a) => Ok(Some(a.normalized_value(XmlVersion::Implicit1_0).map_err(|err| err.to_string())?.into_owned())),
        None => Ok(None),
    }
}

/// A `time` attribute: seconds, possibly with thousands separators (older Surefire writes
/// `1,234.5`); anything unreadable counts as no time rather than losing the report.
fn seconds(text: &str) -> Duration {
    let cleaned: String = text.trim().chars().filter(|c| *c != ',').collect();
    cleaned.parse::<f64>().ok().and_then(|s| Duration::try_from_secs_f64(s).ok()).unwrap_or_default()
}

/// `&amp;`, `&#10;`, `&#x41;` in text.
fn reference(name: &str) -> Option<String> {
    if let Some(number) = name.strip_prefix('#') {
        let code = match number.strip_prefix('x') {
            Some(hex) => u32::from_str_radix(hex, 16).ok()?,
            None => number.parse().ok()?,
        };
        return char::from_u32(code).map(String::from);
    }
    resolve_xml_entity(name).map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_timestamp_without_a_zone_is_read() {
        // pytest 7 writes this; quick-junit's reader rejected the whole report for it.
        let xml = r#"<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest" errors="0" failures="0" skipped="0" tests="1" time="0.381" timestamp="2026-11-30T15:19:30.618872" hostname="c5"><testcase classname="tests.test_utils" name="test_echo" time="0.002" /></testsuite></testsuites>"#;
        let cases = parse_junit(xml).unwrap();
        assert_eq!(cases.len(), 1);
        assert_eq!(cases[0].name, "test_echo");
        assert_eq!(cases[0].duration, Duration::from_millis(2));
    }

    #[test]
    fn nested_suites_give_their_cases_the_innermost_name() {
        let xml = r#"<testsuites><testsuite name="all"><testsuite name="Unit"><testcase name="a" time="1,234.5"/></testsuite><testcase name="b" time="x"/></testsuite></testsuites>"#;
        let cases = parse_junit(xml).unwrap();
        assert_eq!(
            cases.iter().map(|c| (c.suite.as_str(), c.name.as_str())).collect::<Vec<_>>(),
            [("Unit", "a"), ("all", "b")]
        );
        assert_eq!(cases[0].duration, Duration::from_secs_f64(1234.5));
        assert_eq!(cases[1].duration, Duration::ZERO);
    }

    #[test]
    fn the_outcome_and_its_message_come_from_the_status_element() {
        let xml = "<testsuite name=\"s\">\
            <testcase name=\"f\"><properties><property name=\"k\">v</property></properties><failure>\n  AssertionError: 1 != 2&#10;trace</failure></testcase>\
            <testcase name=\"e\"><error message=\"boom &amp; bang&#10;second line\" type=\"E\">trace</error></testcase>\
            <testcase name=\"s\"><skipped message=\"later\"/></testcase>\
            <testcase name=\"flaky\"><flakyFailure message=\"once\"/></testcase>\
            <testcase name=\"c\"><failure><![CDATA[cdata first line\nsecond]]></failure></testcase>\
            <testcase name=\"n\"><failure>a&nbsp;b</failure></testcase>\
            <testcase classname=\"tests.test_c\" name=\"\"><error message=\"collection failure\">tests/test_c.py:1: in &lt;module&gt;\n    import nope\nE   ModuleNotFoundError: No module named 'nope'</error></testcase>\
            </testsuite>";
        let cases = parse_junit(xml).unwrap();
        let got: Vec<_> = cases.iter().map(|c| (c.name.as_str(), c.status, c.message.as_deref())).collect();
        assert_eq!(
            got,
            [
                ("f", TestStatus::Failed, Some("AssertionError: 1 != 2")),
                ("e", TestStatus::Error, Some("boom & bang")),
                ("s", TestStatus::Skipped, Some("later")),
                ("flaky", TestStatus::Passed, None),
                ("c", TestStatus::Failed, Some("cdata first line")),
                ("n", TestStatus::Failed, Some("a&nbsp;b")),
                ("", TestStatus::Error, Some("collection failure: ModuleNotFoundError: No module named 'nope'")),
            ]
        );
    }

    #[test]
    fn documents_that_are_not_whole_reports_are_errors() {
        assert!(parse_junit("<testsuite><testcase").is_err(), "cut off inside a tag");
        assert!(parse_junit("<testsuite name=\"s\"><testcase name=\"t\">").is_err(), "cut off inside a case");
        assert!(parse_junit("<coverage line-rate=\"1\"/>").is_err(), "another kind of XML");
        assert!(parse_junit("<testsuite name=\"s\"><testcase name=\"t\"></testsuite>").is_err(), "mismatched end");
    }
}
