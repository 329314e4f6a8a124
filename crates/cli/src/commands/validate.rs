//! `slipway validate`: every problem in the files at once; exit 0 or 1.

use std::collections::HashMap;
use std::process::ExitCode;

use slipway_config::StepKind;
use slipway_plan::template::TEMPLATE_FIELDS;
use slipway_plan::{build_plan, RunContext};

use super::{load_project_showing, or_exit, EXIT_FAILURE};
use crate::cli::ProjectArgs;
use crate::split_inputs::split_inputs;

pub fn validate(args: &ProjectArgs) -> ExitCode {
    // A project without a steps file still has services `slipway run` uses: check those.
    let has_steps = args.steps_path.is_some()
        || slipway_config::discover::discover(&args.dir, args.services_path.as_deref(), None)
            .map_or(true, |files| files.steps.is_some());
    let Some(project) = load_project_showing(args, has_steps, true) else {
        return ExitCode::from(EXIT_FAILURE);
    };
    // A split step's glob must match test files, or the run would stop at once.
    let inputs = match or_exit(split_inputs(&project, &|_| HashMap::new(), &|_, _| Vec::new())) {
        Ok(inputs) => inputs,
        Err(code) => return code,
    };
    // What only planning finds (templates in image_tag and build args): plan as a run
    // would, with every template field filled and push and manual steps on.
    let mut ctx =
        RunContext { run_id: "validate".into(), push: true, approve: true, split_inputs: inputs, ..Default::default() };
    for field in TEMPLATE_FIELDS {
        ctx.template_vars.insert((*field).to_string(), "validate".to_string());
    }
    if let Err(code) = or_exit(build_plan(&project, &ctx)) {
        return code;
    }
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
    let counted = |n: usize, one: &str| if n == 1 { format!("1 {one}") } else { format!("{n} {one}s") };
    if project.files.steps.is_none() {
        outln!(
            "✓ {} ({}) is valid; there is no steps file ({}), so only `slipway run` can use it",
            project.files.services.display(),
            counted(project.services.len(), "service"),
            slipway_config::discover::STEPS_CANDIDATES.join(", ")
        );
        return ExitCode::SUCCESS;
    }
    outln!(
        "✓ {} ({}) and {} ({}) are valid",
        project.files.services.display(),
        counted(project.services.len(), "service"),
        name(&project.files.steps),
        counted(steps, "step")
    );
    ExitCode::SUCCESS
}
