//! The scheduler. It walks a plan — serial groups in order, parallel groups at once,
//! within `--jobs` — and runs each step in a fresh environment through a [`Runtime`],
//! reporting everything as [`Event`]s. Jet's failure rules, `--fail-fast`, cancellation
//! and clean-up live here; the container engine is behind the `Runtime` trait.

mod cache;
mod container_spec;
mod credentials;
mod dockerfile_lines;
pub mod events;
mod gate;
mod images;
mod junit_reader;
pub mod labels;
pub mod lines;
pub mod liveness;
mod networks;
pub mod options;
mod push;
mod queue;
mod readiness;
pub mod registry;
pub mod reports;
mod run;
pub mod runtime;
mod script_check;
mod shared;
mod shielded;
mod start_order;
mod step;
mod step_lines;
mod sweep;
pub mod warm;
mod warm_agent;
mod warm_lease;
mod warm_pool;
mod warm_protocol;
mod warm_server;
mod warm_step;

pub use cache::{cache_reference, CACHE_REPOSITORY};
pub use events::{Event, EventSink, ImageAction, StepInfo, StepStatus};
pub use images::{built_image_to_remove, remove_built_image, restore_replaced_name, short_image_id};
pub use options::{CacheSettings, EngineOptions, Interactive, RegistrySettings, WarmPools};
pub use run::{load_image, run, RunOutcome};
pub use runtime::Runtime;
pub use sweep::{killed_build_layers, remove_all, remove_killed_build_layers};
pub use warm_pool::keep_warm;
pub use warm_server::stale_pool_sockets;
