//! `slipway validate`: every problem in the files at once; exit 0 or 1.

use std::process::ExitCode;

use slipway_config::StepKind;

use super::{load_project, EXIT_FAILURE};
use crate::cli::ProjectArgs;

pub fn validate(args: &ProjectArgs) -> ExitCode {
    let Some(project) = load_project(args, true) else {
        return ExitCode::from(EXIT_FAILURE);
    };
    fn count(steps: &[slipway_config::Step]) -> usize {
        steps
            .iter()
            .map(|s| match &s.kind {
                StepKind::Group(g) => count(&g.steps),
                StepKind::Manual(m) => count(&m.steps),
                _ => 1,
            })
            .sum()
    }
    let steps = project.steps.as_deref().map_or(0, count);
    let name = |p: &Option<std::path::PathBuf>| p.as_ref().map_or_else(String::new, |p| p.display().to_string());
    println!(
        "✓ {} ({} services) and {} ({steps} steps) are valid",
        project.files.services.display(),
        project.services.len(),
        name(&project.files.steps)
    );
    ExitCode::SUCCESS
}
