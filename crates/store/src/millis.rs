//! Times and durations as the database stores them: whole milliseconds in an `i64`.
//!
//! Milliseconds since the Unix epoch sort and subtract in plain SQL and are
//! readable with `datetime(x / 1000, 'unixepoch')`; finer precision is not
//! worth it for CI history.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch, negative before it; saturates far outside ±292 million years.
pub(crate) fn from_system_time(time: SystemTime) -> i64 {
    match time.duration_since(UNIX_EPOCH) {
        Ok(after) => saturating_i64(after.as_millis()),
        Err(before) => saturating_i64(before.duration().as_millis()).saturating_neg(),
    }
}

/// The inverse of [`from_system_time`], to the millisecond.
pub(crate) fn to_system_time(millis: i64) -> SystemTime {
    let magnitude = Duration::from_millis(millis.unsigned_abs());
    let shifted = if millis >= 0 { UNIX_EPOCH.checked_add(magnitude) } else { UNIX_EPOCH.checked_sub(magnitude) };
    // Only a hand-edited database holds a time the platform cannot represent.
    shifted.unwrap_or(UNIX_EPOCH)
}

pub(crate) fn from_duration(duration: Duration) -> i64 {
    saturating_i64(duration.as_millis())
}

/// Negative durations cannot come from slipway; read them as zero rather than fail.
pub(crate) fn to_duration(millis: i64) -> Duration {
    Duration::from_millis(u64::try_from(millis).unwrap_or(0))
}

fn saturating_i64(millis: u128) -> i64 {
    i64::try_from(millis).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_time_round_trips_to_the_millisecond() {
        let time = UNIX_EPOCH + Duration::from_millis(1_700_000_000_123);
        assert_eq!(from_system_time(time), 1_700_000_000_123);
        assert_eq!(to_system_time(1_700_000_000_123), time);
        // Sub-millisecond parts are dropped, not rounded up.
        assert_eq!(from_system_time(time + Duration::from_micros(999)), 1_700_000_000_123);
    }

    #[test]
    fn times_before_the_epoch_are_negative() {
        let time = UNIX_EPOCH - Duration::from_millis(1_500);
        assert_eq!(from_system_time(time), -1_500);
        assert_eq!(to_system_time(-1_500), time);
    }

    #[test]
    fn durations_round_trip_and_negative_reads_as_zero() {
        assert_eq!(from_duration(Duration::from_millis(2_345)), 2_345);
        assert_eq!(to_duration(2_345), Duration::from_millis(2_345));
        assert_eq!(to_duration(-5), Duration::ZERO);
        assert_eq!(from_duration(Duration::MAX), i64::MAX);
    }
}
