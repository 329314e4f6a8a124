//! Whether a slipway process still runs on this host: how `gc` tells a live run from a
//! dead one.

/// True if `pid` runs and is slipway (a pid may have been reused by another program).
/// A process that exited but was not reaped yet has an empty command line: not running.
pub fn slipway_runs(pid: u32) -> bool {
    std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|cmd| String::from_utf8_lossy(&cmd).contains("slipway"))
}
