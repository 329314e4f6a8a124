//! Ctrl-C, SIGTERM and SIGHUP (the terminal closed, an SSH session dropped): the first
//! cancels the run (which then cleans up), the second exits at once (`slipway gc`
//! removes what is left). SIGUSR2 is what a `slipway serve` build gets when the server
//! dies: it cancels too, but the kernel sends it once per exiting
//! server thread, so it never counts as the second signal.

use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::time::Duration;

use tokio::signal::unix::{signal, SignalKind};
use tokio_util::sync::CancellationToken;

/// The exit status of a run cancelled by a signal: 128 + the signal's number, as a shell
/// reports a process the signal ended.
static CANCELLED_BY: AtomicU8 = AtomicU8::new(128 + 2);

pub fn cancelled_exit_code() -> u8 {
    CANCELLED_BY.load(Ordering::Relaxed)
}

/// The exit status of a run `--timeout` cancelled: `timeout(1)`'s.
const EXIT_TIMED_OUT: u8 = 124;

/// Whether `--timeout` cancelled the run (the summary says so rather than "cancelled").
static TIMED_OUT: AtomicBool = AtomicBool::new(false);

pub fn timed_out() -> bool {
    TIMED_OUT.load(Ordering::Relaxed)
}

/// `--timeout`: cancel the run once it has taken `limit`, unless it ended or was
/// cancelled first. The run then cleans up as after a Ctrl-C, and exits 124.
/// Once `steps_finished` fires the steps are over and it no longer applies: what is
/// left is removing what the run made, which no cancel would skip.
pub fn cancel_after(cancel: CancellationToken, limit: Duration, steps_finished: CancellationToken) {
    tokio::spawn(async move {
        tokio::select! {
            () = tokio::time::sleep(limit) => {}
            () = cancel.cancelled() => return,
            () = steps_finished.cancelled() => return,
        }
        TIMED_OUT.store(true, Ordering::Relaxed);
        CANCELLED_BY.store(EXIT_TIMED_OUT, Ordering::Relaxed);
        errln!(
            "\nslipway: the run has taken longer than --timeout {}: cancelling it (a signal now exits at once)",
            crate::report::human_duration(limit)
        );
        cancel.cancel();
    });
}

/// `steps_finished`: fired when the steps are over; a first signal after that only says
/// the run is removing what it made (the steps' result and exit status stand).
pub fn cancel_on_signals(cancel: CancellationToken, quiet: bool, steps_finished: CancellationToken) {
    tokio::spawn(async move {
        let (Ok(mut interrupt), Ok(mut terminate), Ok(mut hangup), Ok(mut parent_died)) = (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
            signal(SignalKind::hangup()),
            signal(SignalKind::user_defined2()),
        ) else {
            return;
        };
        let (signo, again) = tokio::select! {
            _ = interrupt.recv() => (2, "press Ctrl-C again to exit at once"),
            _ = terminate.recv() => (15, "a second SIGTERM exits at once"),
            _ = hangup.recv() => (1, "a second signal exits at once"),
            // Reported as the SIGTERM a stopped server sends.
            _ = parent_died.recv() => (15, "the server that started this build is gone"),
        };
        // Already cancelled by `--timeout` and cleaning up: this signal is the second.
        if cancel.is_cancelled() {
            errln!("\nslipway: exiting without clean-up; run `slipway gc` to remove what is left");
            std::process::exit(i32::from(cancelled_exit_code()));
        }
        CANCELLED_BY.store(128 + signo, Ordering::Relaxed);
        if !quiet {
            let doing = if steps_finished.is_cancelled() { "the steps have finished" } else { "cancelling" };
            errln!("\nslipway: {doing}; removing what the run created ({again})");
        }
        cancel.cancel();
        tokio::select! { _ = interrupt.recv() => {}, _ = terminate.recv() => {}, _ = hangup.recv() => {} }
        errln!("\nslipway: exiting without clean-up; run `slipway gc` to remove what is left");
        std::process::exit(i32::from(cancelled_exit_code()));
    });
}
