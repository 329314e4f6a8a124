//! Scheduler tests without Docker: plans built by hand, run against an in-memory fake of
//! the engine's `Runtime`.

// Each test file uses a different part of the support.
#![allow(dead_code, unused_imports)]

pub mod fake_runtime;
pub mod harness;
pub mod plans;
pub mod process;
pub mod script;

pub use fake_runtime::{Call, FakeRuntime};
pub use harness::{options, run, run_cancellable, Finished};
pub use plans::{healthcheck, parallel, serial, service, PlanBuilder};
