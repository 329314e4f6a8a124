//! Compose-style durations: `1m30s`, `10s`, `500ms`, `1.5s`, `2h`.

use std::time::Duration;

/// Parse a compose duration. A bare number is seconds (as Jet's YAML often had it).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("empty duration".into());
    }
    if let Ok(seconds) = text.parse::<f64>() {
        return seconds_to_duration(seconds, text);
    }
    let mut total = 0f64;
    let mut rest = text;
    while !rest.is_empty() {
        let number_len = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        if number_len == 0 {
            return Err(format!("`{text}` is not a duration (expected e.g. 500ms, 10s, 1m30s)"));
        }
        let number: f64 = rest[..number_len].parse().map_err(|_| format!("`{text}` has a malformed number"))?;
        rest = &rest[number_len..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let factor = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            "" => return Err(format!("`{text}` needs a unit after {number} (ms, s, m or h)")),
            unit => return Err(format!("`{text}` has an unknown unit `{unit}` (use ms, s, m or h)")),
        };
        total += number * factor;
        rest = &rest[unit_len..];
    }
    seconds_to_duration(total, text)
}

/// The longest duration accepted: a year. Longer ones are typos, and would overflow the
/// engine's nanosecond fields and deadlines computed from them.
const MAX_SECONDS: f64 = 365.0 * 24.0 * 3600.0;

fn seconds_to_duration(seconds: f64, text: &str) -> Result<Duration, String> {
    if !seconds.is_finite() || seconds < 0.0 {
        return Err(format!("`{text}` is not a valid duration"));
    }
    if seconds > MAX_SECONDS {
        return Err(format!("`{text}` is too long (at most 8760h, a year)"));
    }
    Ok(Duration::from_secs_f64(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absurd_durations_are_errors_not_panics() {
        assert!(parse_duration("99999999999999999999h").unwrap_err().contains("too long"));
        assert!(parse_duration("18446744073709551615s").unwrap_err().contains("too long"));
        assert_eq!(parse_duration("8760h").unwrap(), Duration::from_secs(8760 * 3600));
    }

    #[test]
    fn parses_compose_durations() {
        assert_eq!(parse_duration("1m30s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("1.5s").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse_duration("2h").unwrap(), Duration::from_secs(7200));
        assert_eq!(parse_duration("10").unwrap(), Duration::from_secs(10));
    }

    #[test]
    fn rejects_garbage() {
        assert!(parse_duration("ten seconds").is_err());
        assert!(parse_duration("10x").is_err());
        assert!(parse_duration("").is_err());
    }
}
