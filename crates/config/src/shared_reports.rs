//! Steps that run at the same time and read their JUnit reports from one file on the
//! host — a folder bind-mounted into both — overwrite each other's reports, and a step's
//! tests are then counted for the other (or lost). Each container has its own files
//! otherwise, so only a bind mount makes a report path shared.

use crate::diagnostic::Diagnostics;
use crate::project::Project;
use crate::service::Volume;
use crate::source::{Span, Spanned};
use crate::steps::{GroupMode, Step, StepKind};

/// One `reports` glob of a step as a path on the host.
struct HostReport<'a> {
    step: String,
    glob: &'a Spanned<String>,
    /// The glob with its bind-mounted part replaced by the host folder (`./reports/*.xml`).
    host: String,
}

pub(crate) fn check_shared_reports(project: &Project, steps: &[Step], diags: &mut Diagnostics) {
    // A report glob is warned of once, however many copies of its step there are.
    let mut warned = Vec::new();
    for step in steps {
        check(project, step, None, &mut warned, diags);
    }
}

fn check(project: &Project, step: &Step, inherited: Option<&str>, warned: &mut Vec<Span>, diags: &mut Diagnostics) {
    match &step.kind {
        StepKind::Run(run) => {
            let copies = copies(run.services.as_ref(), run.service.as_ref(), inherited);
            let sharded =
                run.splitting.parallelism.as_ref().is_some_and(|p| p.value > 1) || run.splitting.split.is_some();
            for service in &copies {
                if sharded {
                    shards_share(project, step, service, warned, diags);
                }
            }
            // `services: [a, b]` runs one copy per service at once.
            let per_copy: Vec<Vec<HostReport>> =
                copies.iter().map(|service| reports_of(project, step, service)).collect();
            warn_pairs(&per_copy, warned, diags);
        }
        StepKind::Group(group) => {
            let copies = copies(group.services.as_ref(), group.service.as_ref(), inherited);
            for service in &copies {
                let next = (!service.is_empty()).then_some(service.as_str()).or(inherited);
                if group.mode == GroupMode::Parallel {
                    let children: Vec<Vec<HostReport>> =
                        group.steps.iter().map(|child| leaves(project, child, next)).collect();
                    warn_pairs(&children, warned, diags);
                }
                for child in &group.steps {
                    check(project, child, next, warned, diags);
                }
            }
            if copies.len() > 1 {
                let per_copy: Vec<Vec<HostReport>> = copies
                    .iter()
                    .map(|service| group.steps.iter().flat_map(|child| leaves(project, child, Some(service))).collect())
                    .collect();
                warn_pairs(&per_copy, warned, diags);
            }
        }
        StepKind::Manual(manual) => {
            let next = manual.service.as_ref().map(|s| s.value.as_str()).or(inherited);
            for child in &manual.steps {
                check(project, child, next, warned, diags);
            }
        }
        StepKind::Push(_) => {}
    }
}

/// The services a step or group runs in: each of `services`, else its `service` or the
/// one it inherits (an empty name when there is none: nothing to check then).
fn copies(
    services: Option<&Spanned<Vec<Spanned<String>>>>,
    service: Option<&Spanned<String>>,
    inherited: Option<&str>,
) -> Vec<String> {
    match services {
        Some(list) if !list.value.is_empty() => list.value.iter().map(|s| s.value.clone()).collect(),
        _ => vec![service.map(|s| s.value.as_str()).or(inherited).unwrap_or_default().to_string()],
    }
}

/// Every host report of the run steps in `step`, which may all run while a sibling does.
fn leaves<'a>(project: &Project, step: &'a Step, inherited: Option<&str>) -> Vec<HostReport<'a>> {
    match &step.kind {
        StepKind::Run(run) => copies(run.services.as_ref(), run.service.as_ref(), inherited)
            .iter()
            .flat_map(|service| reports_of(project, step, service))
            .collect(),
        StepKind::Group(group) => copies(group.services.as_ref(), group.service.as_ref(), inherited)
            .iter()
            .flat_map(|service| {
                let next = (!service.is_empty()).then_some(service.as_str()).or(inherited);
                group.steps.iter().flat_map(move |child| leaves(project, child, next)).collect::<Vec<_>>()
            })
            .collect(),
        StepKind::Manual(manual) => {
            let next = manual.service.as_ref().map(|s| s.value.as_str()).or(inherited);
            manual.steps.iter().flat_map(|child| leaves(project, child, next)).collect()
        }
        StepKind::Push(_) => Vec::new(),
    }
}

/// A split step's shards all read its reports; with no `{shard}` in a named file (no
/// wildcard), each shard writes that one host file over the others'.
fn shards_share(project: &Project, step: &Step, service: &str, warned: &mut Vec<Span>, diags: &mut Diagnostics) {
    for report in reports_of(project, step, service) {
        let named = !report.glob.value.contains(['*', '?', '[', '{']);
        if named && !warned.contains(&report.glob.span) {
            warned.push(report.glob.span.clone());
            diags
                .warning(
                    &report.glob.span,
                    format!(
                        "the shards of {} run at the same time and each writes its report to `{}`, one file on the host (bind-mounted): each overwrites the others'",
                        report.step, report.host
                    ),
                )
                .hint("give each shard its own file, with `{shard}` in the command and in `reports` (`--junitxml=reports/junit-{shard}.xml`, `reports: [\"reports/junit-{shard}.xml\"]`)");
        }
    }
}

/// Warn where steps of different `groups` (which run at the same time) read the same host file.
fn warn_pairs(groups: &[Vec<HostReport>], warned: &mut Vec<Span>, diags: &mut Diagnostics) {
    for (i, earlier) in groups.iter().enumerate() {
        for later in &groups[i + 1..] {
            for b in later {
                let Some(a) = earlier.iter().find(|a| a.host == b.host) else { continue };
                if warned.contains(&b.glob.span) {
                    continue;
                }
                warned.push(b.glob.span.clone());
                diags
                    .warning(
                        &b.glob.span,
                        format!(
                            "{} and {} run at the same time and both read their reports from `{}`, on the host (bind-mounted): one's report overwrites the other's, and its tests are counted for the wrong step",
                            a.step, b.step, b.host
                        ),
                    )
                    .hint(format!("first at {}; give each step its own report file (its name in the file name)", a.glob.span));
            }
        }
    }
}

/// `step`'s reports (run in `service`) that lie in a host folder bind-mounted into the
/// container, as host paths; a relative glob counts from the service's `working_dir`
/// (without one, where it lands depends on the image: not checked).
fn reports_of<'a>(project: &Project, step: &'a Step, service: &str) -> Vec<HostReport<'a>> {
    let (StepKind::Run(run), Some(spec)) = (&step.kind, project.services.get(service)) else {
        return Vec::new();
    };
    let name = step.name.as_ref().map_or_else(|| format!("the `{service}` step"), |n| format!("step `{}`", n.value));
    let mut found = Vec::new();
    for glob in &run.splitting.reports {
        let path = if glob.value.starts_with('/') {
            glob.value.clone()
        } else if let Some(dir) = &spec.working_dir {
            format!("{}/{}", dir.value.trim_end_matches('/'), glob.value.trim_start_matches("./"))
        } else {
            continue;
        };
        // The deepest mount holding the path is where it lands.
        let host = spec
            .volumes
            .iter()
            .filter_map(|volume| match &volume.value {
                Volume::Bind { source, target, .. } => {
                    let target = target.trim_end_matches('/');
                    let rest = path.strip_prefix(target)?.strip_prefix('/')?;
                    let source = source.trim_end_matches('/');
                    Some((target.len(), format!("{}/{rest}", if source.is_empty() { "." } else { source })))
                }
                _ => None,
            })
            .max_by_key(|(depth, _)| *depth)
            .map(|(_, host)| host);
        if let Some(host) = host {
            found.push(HostReport { step: name.clone(), glob, host });
        }
    }
    found
}
