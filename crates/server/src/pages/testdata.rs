//! Sample data for the page tests.

use chrono::{DateTime, Duration as Days, NaiveDate, TimeZone, Utc};

use super::views::{BuildRow, BuildStatus};

/// A value that must never reach a page unescaped.
pub const EVIL: &str = "<img src=x onerror=alert(1)>";

pub fn at(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_714_550_400 + secs, 0).single().expect("valid time")
}

pub fn build_row(id: i64, status: BuildStatus) -> BuildRow {
    let finished = status.is_finished();
    BuildRow {
        id,
        project: "web".into(),
        branch: "main".into(),
        commit: Some("0123456789abcdef0123456789abcdef01234567".into()),
        message: Some("Fix the thing\n\nLonger explanation".into()),
        status,
        trigger: "github push".into(),
        queued_at: at(0),
        started_at: (status != BuildStatus::Queued).then(|| at(5)),
        finished_at: finished.then(|| at(125)),
        note: None,
    }
}

/// `n` days of builds, oldest first, with some empty days.
pub fn days(n: u32) -> Vec<(NaiveDate, u32)> {
    let first = NaiveDate::from_ymd_opt(2024, 5, 1).expect("valid date");
    (0..n).map(|i| (first + Days::days(i64::from(i)), i % 4)).collect()
}

/// The page shows [`EVIL`] only as text.
pub fn assert_escaped(page: &str) {
    assert!(!page.contains("<img"), "unescaped user data in {page}");
    assert!(page.contains("&lt;img src=x onerror=alert(1)&gt;"), "user data missing from {page}");
}
