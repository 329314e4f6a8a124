//! The Docker Engine backend: slipway's [`Runtime`](slipway_engine::Runtime) on the
//! Engine API through bollard, build contexts with `.dockerignore`, connection handling.

pub mod build_context;
pub mod connect;
mod docker_runtime;
pub mod dockerignore;
mod errors;
pub mod image_ref;
mod probe_output;

pub use connect::engine_address;
pub use docker_runtime::DockerRuntime;
