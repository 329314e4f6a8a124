//! How values read on a page: durations, times, commits, messages.

use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use maud::{html, Markup};

/// "350ms", "4.2s", "42s", "3m 05s", "1h 02m": short, and precise where it matters.
pub fn duration(d: Duration) -> String {
    duration_ms(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// [`duration`] for a number of milliseconds.
pub fn duration_ms(ms: u64) -> String {
    if ms < 1_000 {
        return format!("{ms}ms");
    }
    if ms < 10_000 {
        // Tenths matter for short durations; truncate so 9.99s never shows as "10.0s".
        return format!("{}.{}s", ms / 1_000, ms % 1_000 / 100);
    }
    let secs = ms / 1_000;
    if secs < 60 {
        return format!("{secs}s");
    }
    if secs < 3_600 {
        return format!("{}m {:02}s", secs / 60, secs % 60);
    }
    format!("{}h {:02}m", secs / 3_600, secs % 3_600 / 60)
}

/// A point in time as `<time>`: UTC text for the server, which the script turns into
/// "5 min ago" with the local time as its tooltip.
pub fn timestamp(at: DateTime<Utc>) -> Markup {
    html! {
        time.ts datetime=(at.to_rfc3339_opts(SecondsFormat::Secs, true)) title=(at.format("%Y-%m-%d %H:%M:%S UTC")) {
            (at.format("%Y-%m-%d %H:%M UTC"))
        }
    }
}

/// The first 8 characters of a commit sha.
pub fn short_commit(sha: &str) -> &str {
    match sha.char_indices().nth(8) {
        Some((end, _)) => &sha[..end],
        None => sha,
    }
}

/// The first line of a commit message (its subject).
pub fn first_line(message: &str) -> &str {
    message.lines().next().unwrap_or("").trim_end()
}

/// A status string from the database made safe to use inside a class name, so an
/// unexpected value can only ever produce an unknown class.
pub fn css_token(text: &str) -> String {
    let token: String = text
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
        .map(|c| c.to_ascii_lowercase())
        .collect();
    if token.is_empty() {
        "unknown".to_string()
    } else {
        token
    }
}

/// A step or test status as people read it: "not run" rather than "not_run".
pub fn status_text(status: &str) -> String {
    status.replace('_', " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_well() {
        assert_eq!(duration_ms(0), "0ms");
        assert_eq!(duration_ms(350), "350ms");
        assert_eq!(duration_ms(4_290), "4.2s");
        assert_eq!(duration_ms(9_999), "9.9s");
        assert_eq!(duration_ms(42_000), "42s");
        assert_eq!(duration_ms(185_000), "3m 05s");
        assert_eq!(duration_ms(3_720_000), "1h 02m");
        assert_eq!(duration(Duration::from_secs(61)), "1m 01s");
    }

    #[test]
    fn commits_and_messages() {
        assert_eq!(short_commit("0123456789abcdef"), "01234567");
        assert_eq!(short_commit("abc"), "abc");
        assert_eq!(first_line("fix: thing\n\nlong body"), "fix: thing");
        assert_eq!(first_line(""), "");
    }

    #[test]
    fn css_tokens_are_safe() {
        assert_eq!(css_token("not_run"), "not_run");
        assert_eq!(css_token("x\" onclick=\"y"), "xonclicky");
        assert_eq!(css_token("<>"), "unknown");
    }
}
