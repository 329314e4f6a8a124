//! Everything about one run that does not come from the files: the build tag, CI
//! variables, `-e` overrides, flags.

use std::collections::HashMap;
use std::time::Duration;

use crate::template::TemplateVars;

#[derive(Clone, Debug, Default)]
pub struct RunContext {
    /// Short unique id of this run; labels everything it creates.
    pub run_id: String,
    /// The build tag (branch or git tag) `tag`/`exclude` are matched against. `None`
    /// locally without `--tag`/`--ci-branch`: then steps with a `tag` are skipped.
    pub tag: Option<String>,
    /// `CI=true`, `CI_NAME`, `CI_BRANCH`, … given to every container, in this order.
    pub ci_vars: Vec<(String, String)>,
    /// `-e KEY=VAL`: wins over everything in the files.
    pub overrides: Vec<(String, String)>,
    /// slipway's own environment, for `environment: [KEY]` entries without a value.
    pub host_env: HashMap<String, String>,
    /// Values of each service's `encrypted_env_file`s, already decrypted, in order.
    pub decrypted_env: HashMap<String, Vec<(String, String)>>,
    /// Each service's `encrypted_args_file` and `encrypted_args`, decrypted: build args
    /// that win over `args`.
    pub decrypted_build_args: HashMap<String, Vec<(String, String)>>,
    /// Template fields (`Branch`, `CommitID`, …) without the per-step ones.
    pub template_vars: TemplateVars,
    /// `--push`: run push steps.
    pub push: bool,
    /// `--approve`: run the steps of `type: manual` gates.
    pub approve: bool,
    /// For each `split` step (by [`split_key`](crate::split_key)): its files and their
    /// recorded durations.
    pub split_inputs: HashMap<usize, SplitInput>,
}

/// What the caller found for a `split` step.
#[derive(Clone, Debug, Default)]
pub struct SplitInput {
    /// The files the glob matched, relative to the project dir.
    pub files: Vec<String>,
    /// Recorded durations by file.
    pub timings: HashMap<String, Duration>,
    /// How much later than the first each shard is expected to get going (index 0 =
    /// shard 1), from recent runs; used only when it has one entry per shard.
    pub start_lags: Vec<Duration>,
}
