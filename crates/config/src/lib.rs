//! slipway's view of a project's files: services and steps in Jet, slipway or compose
//! form, parsed into a typed model where every value remembers its file, line and column.
//! Pure: it reads the files it is given and nothing else.

mod builds;
pub mod command;
pub mod diagnostic;
pub mod discover;
pub mod duration;
pub mod env_file;
mod extends;
mod ignored_keys;
pub mod interpolate;
pub mod project;
mod reader;
pub mod service;
mod shared_reports;
pub mod source;
pub mod split;
pub mod steps;
pub mod tag_pattern;
mod template_fields;
mod validate;
pub mod yaml;

pub use builds::{image_name_part, same_image};
pub use command::Command;
pub use diagnostic::{Diagnostic, Diagnostics, Severity};
pub use project::{load, LoadOptions, Project};
pub use service::{Build, Condition, EnvFile, Healthcheck, Service, Volume};
pub use source::{SourceFile, Span, Spanned};
pub use split::{Split, SplitBy, SplitMode, Splitting};
pub use steps::{Group, GroupMode, OnFail, PushStep, RegistryAuth, RunStep, Step, StepKind};
pub use tag_pattern::TagPattern;
pub use template_fields::TEMPLATE_FIELDS;
