//! Checks across the whole project: references between services and steps, cycles,
//! duplicate names, push targets. Every problem is reported, with its position.

use std::collections::HashMap;

use crate::builds::{check_builds, valid_reference};
use crate::diagnostic::Diagnostics;
use crate::project::Project;
use crate::service::Service;
use crate::source::{Span, Spanned};
use crate::steps::{Group, RunStep, Step, StepKind};
use crate::template_fields::check_template_fields;

pub(crate) fn validate(project: &Project, diags: &mut Diagnostics) {
    for service in project.services.values() {
        check_image_or_build(project, service, diags);
        check_references(project, service, diags);
        for (arg, value) in service.build.iter().flat_map(|b| &b.args) {
            let what = format!("build arg `{}` of service `{}`", arg.value, service.name.value);
            check_template_fields(value.as_deref().unwrap_or_default(), &arg.span, &what, diags);
        }
    }
    check_builds(project, diags);
    check_cycles(project, diags);
    check_container_names(project, diags);
    if let Some(steps) = &project.steps {
        let mut names = Names::default();
        let mut top_level = HashMap::new();
        for step in steps {
            check_step(project, step, None, &mut names, &mut top_level, diags);
        }
        crate::shared_reports::check_shared_reports(project, steps, diags);
    }
}

/// Containers are named after their service with what names cannot hold as `_`
/// (`test/php` → `test_php`): two services that come out the same would clash.
fn check_container_names(project: &Project, diags: &mut Diagnostics) {
    let as_container = |name: &str| -> String {
        name.chars().map(|c| if c.is_ascii_alphanumeric() || "_.-".contains(c) { c } else { '_' }).collect()
    };
    let mut services: Vec<&Service> = project.services.values().collect();
    services.sort_by_key(|s| (s.name.span.line, s.name.span.column));
    let mut seen: HashMap<String, &str> = HashMap::new();
    for service in services {
        let name = &service.name.value;
        if let Some(first) = seen.insert(as_container(name), name) {
            diags
                .error(
                    &service.name.span,
                    format!(
                        "services `{first}` and `{name}` would get the same container name, `{}`",
                        as_container(name)
                    ),
                )
                .hint("rename one of them");
        }
    }
}

fn check_image_or_build(project: &Project, service: &Service, diags: &mut Diagnostics) {
    let name = &service.name.value;
    let compose = project.files.compose;
    const VALID_NAME: &str = "an image name is lower-case words joined by `/`, `.`, `_` or `-`, with an optional registry host in front and `:tag` or `@digest` behind, e.g. `postgres:15` or `registry.example.com/acme/app:1.2`";
    // The name of an image to build only names the result: the build runs under a name of
    // its own (see `build_tag_of`). An image to pull must be a name the engine takes.
    let built = service.build.as_ref().and_then(|b| b.image.as_ref().or(service.image.as_ref()));
    let named = service.image.iter().chain(service.build.as_ref().and_then(|b| b.image.as_ref()));
    for image in named.filter(|i| !valid_reference(&i.value)) {
        if built.is_some_and(|b| std::ptr::eq(b, image)) {
            diags
                .warning(
                    &image.span,
                    format!(
                        "`{}` is not a valid image name: the build is tagged `{}` instead",
                        image.value,
                        project.default_image(name)
                    ),
                )
                .hint(format!("{VALID_NAME}; a push step cannot push it under this name"));
        } else {
            diags.error(&image.span, format!("`{}` is not a valid image name", image.value)).hint(VALID_NAME);
        }
    }
    match (&service.image, &service.build) {
        (Some(image), Some(_)) if !compose => {
            diags
                .error(&image.span, format!("service `{name}` has both `image` and `build`"))
                .hint("keep `image` to run an existing image, or `build` (with `image:` inside it to name the result)");
        }
        (None, None) if !service.image_or_build_given => {
            diags
                .error(&service.span, format!("service `{name}` has neither `image` nor `build`"))
                .hint("add `image: NAME` or `build: DIR`");
        }
        _ => {}
    }
}

fn unknown_service(project: &Project, reference: &Spanned<String>, role: &str, diags: &mut Diagnostics) -> bool {
    if project.services.contains_key(&reference.value) {
        return false;
    }
    let known: Vec<&str> = project.services.keys().map(String::as_str).collect();
    let listed = format!(
        "services in {}: {}",
        project.files.services.file_name().map_or("the services file".into(), |n| n.to_string_lossy()),
        known.join(", ")
    );
    let hint = match crate::reader::closest(&reference.value, &known) {
        Some(near) => format!("did you mean `{near}`? {listed}"),
        None => listed,
    };
    diags.error(&reference.span, format!("{role} names unknown service `{}`", reference.value)).hint(hint);
    true
}

/// Whether the name resolves on the step's network: a DNS label (at most 63 characters of
/// letters, digits, `-`, `_`, or several joined by `.`).
fn host_name(name: &str) -> bool {
    !name.is_empty()
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label.chars().all(|c| c.is_ascii_alphanumeric() || "-_".contains(c))
        })
}

/// A host name made from a service name, for a hint.
fn host_name_from(name: &str) -> String {
    let cleaned: String = name.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).take(63).collect();
    cleaned.trim_matches('-').to_string()
}

fn check_references(project: &Project, service: &Service, diags: &mut Diagnostics) {
    let name = &service.name.value;
    // On the step's network an alias answers for every container that has it: two links
    // under one name would make it answer for both, in turn.
    let mut aliases: std::collections::HashMap<&str, &str> = std::collections::HashMap::new();
    for link in &service.links {
        unknown_service(project, &link.service, &format!("a link of service `{name}`"), diags);
        let target = &link.service.value;
        if link.alias.is_none() && !host_name(target) {
            diags
                .warning(
                    &link.service.span,
                    format!("service `{name}` cannot reach `{target}` by that name: it is no host name"),
                )
                .hint(format!("give the link an alias to reach it by, e.g. `{target}:{}`", host_name_from(target)));
        }
        let Some(alias) = link.alias.as_deref() else { continue };
        let target = link.service.value.as_str();
        if let Some(other) = aliases.insert(alias, target).filter(|other| *other != target) {
            diags
                .error(&link.service.span, format!("service `{name}` links both `{other}` and `{target}` as `{alias}`"))
                .hint("give each link its own alias");
        }
    }
    for dep in &service.depends_on {
        unknown_service(project, &dep.service, &format!("`depends_on` of service `{name}`"), diags);
    }
    for from in &service.volumes_from {
        if from.service.value == *name {
            diags.error(&from.service.span, format!("service `{name}` takes volumes from itself"));
        } else {
            unknown_service(project, &from.service, &format!("`volumes_from` of service `{name}`"), diags);
        }
    }
    if let Some(cfg) = &service.dockercfg_service {
        if cfg.value == *name {
            diags
                .error(&cfg.span, format!("service `{name}` is its own dockercfg_service"))
                .hint("name another service that writes the credentials");
        } else {
            unknown_service(project, cfg, &format!("`dockercfg_service` of service `{name}`"), diags);
        }
    }
}

/// A service that (transitively) needs itself can never start.
fn check_cycles(project: &Project, diags: &mut Diagnostics) {
    let edges = |s: &Service| -> Vec<Spanned<String>> {
        s.links
            .iter()
            .map(|l| l.service.clone())
            .chain(s.depends_on.iter().map(|d| d.service.clone()))
            .chain(s.volumes_from.iter().map(|v| v.service.clone()))
            .filter(|target| project.services.contains_key(&target.value))
            .collect()
    };
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Active,
        Done,
    }
    let mut marks: HashMap<&str, Mark> = project.services.keys().map(|k| (k.as_str(), Mark::New)).collect();
    fn visit<'a>(
        project: &'a Project,
        name: &'a str,
        path: &mut Vec<(&'a str, Option<Span>)>,
        marks: &mut HashMap<&'a str, Mark>,
        edges: &dyn Fn(&Service) -> Vec<Spanned<String>>,
        diags: &mut Diagnostics,
    ) {
        marks.insert(name, Mark::Active);
        let service = &project.services[name];
        for target in edges(service) {
            let (key, _) = project.services.get_key_value(&target.value).expect("filtered to known services");
            match marks[key.as_str()] {
                Mark::Active => {
                    let start = path.iter().position(|(n, _)| *n == key.as_str()).unwrap_or(0);
                    let mut cycle: Vec<&str> = path[start..].iter().map(|(n, _)| *n).collect();
                    cycle.push(name);
                    cycle.push(key);
                    diags
                        .error(
                            &target.span,
                            format!("services depend on each other in a cycle: {}", cycle[..].join(" → ")),
                        )
                        .hint("remove one of these links/depends_on/volumes_from");
                }
                Mark::New => {
                    path.push((name, Some(target.span.clone())));
                    visit(project, key, path, marks, edges, diags);
                    path.pop();
                }
                Mark::Done => {}
            }
        }
        marks.insert(name, Mark::Done);
    }
    for name in project.services.keys() {
        if marks[name.as_str()] == Mark::New {
            visit(project, name, &mut Vec::new(), &mut marks, &edges, diags);
        }
    }
}

/// Names seen so far: in the whole file (a repeat is a warning: Jet's own examples
/// repeat names in groups that run on different branches) and among one group's
/// children (a repeat there is an error: the two could never be told apart).
#[derive(Default)]
struct Names {
    all: HashMap<String, Span>,
}

/// `inherited`: the service a group passes down to children that name none.
fn check_step<'a>(
    project: &Project,
    step: &'a Step,
    inherited: Option<&'a Spanned<String>>,
    names: &mut Names,
    siblings: &mut HashMap<String, Span>,
    diags: &mut Diagnostics,
) {
    if let Some(name) = &step.name {
        if let Some(first) = siblings.get(&name.value) {
            diags
                .error(&name.span, format!("duplicate step name `{}` in the same group", name.value))
                .hint(format!("it is already used at {first}; give each step of a group its own name"));
        } else if let Some(first) = names.all.get(&name.value) {
            diags
                .warning(&name.span, format!("step name `{}` is used more than once", name.value))
                .hint(format!(
                    "first at {first}; slipway's output and history tell the later ones apart by a number (`{0} #2`, `{0} #3`, …)",
                    name.value
                ));
        }
        siblings.entry(name.value.clone()).or_insert_with(|| name.span.clone());
        names.all.entry(name.value.clone()).or_insert_with(|| name.span.clone());
    }
    let what = step.name.as_ref().map_or_else(|| "this step".to_string(), |n| format!("step `{}`", n.value));
    if let Some(cfg) = &step.registry_auth.dockercfg_service {
        unknown_service(project, cfg, &format!("`dockercfg_service` of {what}"), diags);
    }
    let children =
        |steps: &'a [Step], next: Option<&'a Spanned<String>>, names: &mut Names, diags: &mut Diagnostics| {
            let mut group_names = HashMap::new();
            for child in steps {
                check_step(project, child, next, names, &mut group_names, diags);
            }
        };
    match &step.kind {
        StepKind::Run(run) => {
            check_service_refs(project, &run.service, &run.services, &what, diags);
            if run.service.is_none() && run.services.is_none() && inherited.is_none() {
                diags
                    .error(&step.span, format!("{what} runs a command but names no service"))
                    .hint("add `service: NAME`, or set `service` on an enclosing group");
            }
            for on_fail in &run.on_fail {
                if let Some(service) = &on_fail.service {
                    unknown_service(project, service, &format!("`on_fail` of {what}"), diags);
                }
            }
        }
        StepKind::Group(group) => {
            check_service_refs(project, &group.service, &group.services, &what, diags);
            if group.steps.is_empty() && !group.steps_malformed {
                diags
                    .error(&step.span, format!("{what} is a group with no steps"))
                    .hint("add `steps:` with at least one step, or remove the group");
            }
            check_own_services_inside(group, diags);
            let next =
                group.service.as_ref().or_else(|| group.services.as_ref().and_then(|s| s.value.first())).or(inherited);
            children(&group.steps, next, names, diags);
        }
        StepKind::Manual(manual) => {
            check_service_refs(project, &manual.service, &None, &what, diags);
            if manual.steps.is_empty() {
                diags
                    .error(&step.span, format!("{what} is a manual step with no steps"))
                    .hint("put the steps the approval gates under `steps:`, or remove it");
            }
            children(&manual.steps, manual.service.as_ref().or(inherited), names, diags);
        }
        StepKind::Push(push) => {
            check_service_refs(project, &push.service, &None, &what, diags);
            let service = push.service.as_ref().or(inherited);
            match &push.image_name {
                None => {
                    diags
                        .error(&step.span, format!("{what} pushes an image but has no `image_name`"))
                        .hint("set `image_name` to the image of the service to push");
                }
                Some(image_name) => check_push_image(project, service, image_name, diags),
            }
            if let Some(tag) = &push.image_tag {
                check_template_fields(&tag.value, &tag.span, &format!("`image_tag` of {what}"), diags);
            }
        }
    }
}

/// A run step that names its own service inside a group that gives one. In a `services:`
/// group every copy would run that one service (labelled as if it ran the copy's): an
/// error. Under a group's `service:`, Jet refused it; slipway runs the step's own service
/// and says so.
fn check_own_services_inside(group: &Group, diags: &mut Diagnostics) {
    if let Some(list) = &group.services {
        for child in &group.steps {
            child.walk(&mut |step| {
                if let StepKind::Run(RunStep { service: Some(own), .. }) = &step.kind {
                    diags
                        .error(&own.span, format!("a step inside a `services:` group names its own service `{}`", own.value))
                        .hint(format!(
                            "the group (at {}) runs its steps once for each of its services; remove this `service:`, or move the step out of the group",
                            list.span
                        ));
                }
            });
        }
    } else if let Some(given) = &group.service {
        for child in &group.steps {
            if let StepKind::Run(RunStep { service: Some(own), .. }) = &child.kind {
                if own.value != given.value {
                    diags
                        .warning(
                            &own.span,
                            format!("this step runs its own service `{}`, not its group's `{}`", own.value, given.value),
                        )
                        .hint(format!("Jet refused a step's `service` inside a group that sets one (at {}); move the step out of the group to run it on Jet too", given.span));
                }
            }
        }
    }
}

/// Jet pushes a service's image under `image_name`: a service that names its image
/// must name this one (a registry host in front is allowed); one built without a name
/// is tagged with it.
fn check_push_image(
    project: &Project,
    service: Option<&Spanned<String>>,
    image_name: &Spanned<String>,
    diags: &mut Diagnostics,
) {
    let named = |s: &crate::service::Service| {
        s.image.as_ref().or_else(|| s.build.as_ref().and_then(|b| b.image.as_ref())).map(|i| i.value.clone())
    };
    let candidates: Vec<&crate::service::Service> = match service.and_then(|s| project.services.get(&s.value)) {
        Some(s) => vec![s],
        None => project.services.values().collect(),
    };
    let matches = candidates.iter().any(|s| match named(s) {
        Some(image) => same_repository(&image, &image_name.value) || registry_prefixed(&image_name.value, &image),
        None => s.build.is_some(),
    });
    if !matches {
        let images: Vec<String> = candidates.iter().filter_map(|s| named(s)).collect();
        let built = candidates.iter().any(|s| s.build.is_some());
        let hint = match (built, images.is_empty()) {
            (true, false) => format!(
                "push the image a service builds: set `image_name` to its `build: image:` ({})",
                images.join(", ")
            ),
            (true, true) => {
                "push the image a service builds: set `image_name` to its `build: image:` (none is named)".to_string()
            }
            // Only pulled images: a push sends the image of the step's service on.
            (false, _) => format!(
                "set `image_name` to the service's image ({}), or push a service with a `build:`",
                if images.is_empty() { "none is named".to_string() } else { images.join(", ") }
            ),
        };
        diags
            .error(&image_name.span, format!("push image_name `{}` matches no service image", image_name.value))
            .hint(hint);
    }
}

/// `registry.example.com/org/app` pushes the image `org/app`.
fn registry_prefixed(image_name: &str, image: &str) -> bool {
    let image = image.split(':').next().unwrap_or(image);
    image_name
        .split_once('/')
        .is_some_and(|(host, rest)| (host.contains('.') || host.contains(':')) && same_repository(rest, image))
}

fn check_service_refs(
    project: &Project,
    service: &Option<Spanned<String>>,
    services: &Option<Spanned<Vec<Spanned<String>>>>,
    what: &str,
    diags: &mut Diagnostics,
) {
    if let Some(service) = service {
        unknown_service(project, service, what, diags);
    }
    for s in services.iter().flat_map(|l| l.value.iter()) {
        unknown_service(project, s, what, diags);
    }
}

/// `repo` and `repo:tag` name the same repository.
fn same_repository(a: &str, b: &str) -> bool {
    fn strip_tag(s: &str) -> &str {
        let last = s.rsplit('/').next().unwrap_or(s);
        match last.rfind(':') {
            Some(i) => &s[..s.len() - (last.len() - i)],
            None => s,
        }
    }
    strip_tag(a) == strip_tag(b)
}

#[cfg(test)]
mod tests {
    use super::same_repository;

    #[test]
    fn registry_hosts_in_front_of_a_service_image_are_allowed() {
        assert!(super::registry_prefixed(
            "637448200351.dkr.ecr.us-east-1.amazonaws.com/damianmac/demoweb",
            "damianmac/demoweb"
        ));
        assert!(super::registry_prefixed("localhost:5000/app", "app:latest"));
        assert!(!super::registry_prefixed("someone/app", "app"));
    }

    #[test]
    fn repository_comparison_ignores_tags_not_ports() {
        assert!(same_repository("org/app", "org/app:latest"));
        assert!(same_repository("localhost:5000/app:1", "localhost:5000/app"));
        assert!(!same_repository("localhost:5000/app", "localhost/app"));
        assert!(!same_repository("org/app", "org/app2"));
    }
}
