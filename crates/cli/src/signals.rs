//! Ctrl-C and SIGTERM: the first cancels the run (which then cleans up), the second
//! exits at once (`slipway gc` removes what is left).

use tokio::signal::unix::{signal, SignalKind};
use tokio_util::sync::CancellationToken;

pub fn cancel_on_signals(cancel: CancellationToken, quiet: bool) {
    tokio::spawn(async move {
        let (Ok(mut interrupt), Ok(mut terminate)) = (signal(SignalKind::interrupt()), signal(SignalKind::terminate()))
        else {
            return;
        };
        tokio::select! { _ = interrupt.recv() => {}, _ = terminate.recv() => {} }
        if !quiet {
            eprintln!("\nslipway: cancelling; removing what the run created (press Ctrl-C again to exit at once)");
        }
        cancel.cancel();
        tokio::select! { _ = interrupt.recv() => {}, _ = terminate.recv() => {} }
        eprintln!("\nslipway: exiting without clean-up; run `slipway gc` to remove what is left");
        std::process::exit(130);
    });
}
