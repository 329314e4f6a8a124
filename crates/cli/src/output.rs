//! Printing that cannot abort the program. `println!` panics when its pipe is closed
//! (`slipway steps --debug 2>&1 | head`), and a panic mid-run skips the run's clean-up:
//! what cannot be shown is dropped instead.

/// `println!` that drops the line if stdout is gone.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

/// `eprintln!` that drops the line if stderr is gone.
macro_rules! errln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}
