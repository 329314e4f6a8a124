//! From a loaded project and a run context to an execution plan: which steps run (tag,
//! exclude, `--push`, `--approve`), in what serial/parallel shape, with which containers
//! configured how. Pure: no I/O.

mod build;
mod context;
mod go_template;
mod image_builders;
mod in_use;
mod model;
mod resolve;
pub mod split;
pub mod template;

pub use build::{build_plan, build_run_plan, environment, split_key, split_requests, SplitRequest};
pub use context::{RunContext, SplitInput};
pub use in_use::InUse;
pub use model::*;
