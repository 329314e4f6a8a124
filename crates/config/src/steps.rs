//! The steps file: a list of steps run in order, with serial and parallel groups.

use crate::command::{command, Command};
use crate::diagnostic::Diagnostics;
use crate::reader::{non_empty_string, string, string_list, Fields};
use crate::source::{Span, Spanned};
use crate::split::{parse_splitting, Splitting};
use crate::tag_pattern::TagPattern;
use crate::yaml::{Node, Value};

#[derive(Clone, Debug)]
pub struct Step {
    pub name: Option<Spanned<String>>,
    pub tag: Option<Spanned<TagPattern>>,
    pub exclude: Option<Spanned<TagPattern>>,
    /// Registry credentials; a group's apply to the steps inside it.
    pub registry_auth: RegistryAuth,
    pub kind: StepKind,
    /// The whole step entry.
    pub span: Span,
}

#[derive(Clone, Debug)]
pub enum StepKind {
    Run(RunStep),
    Group(Group),
    Push(PushStep),
    Manual(ManualStep),
}

/// Where registry credentials come from (Jet's keys, allowed on every step).
#[derive(Clone, Debug, Default)]
pub struct RegistryAuth {
    pub encrypted_dockercfg_path: Option<Spanned<String>>,
    pub dockercfg_service: Option<Spanned<String>>,
}

#[derive(Clone, Debug)]
pub struct RunStep {
    pub service: Option<Spanned<String>>,
    /// Run this step once per listed service, those copies in parallel.
    pub services: Option<Spanned<Vec<Spanned<String>>>>,
    pub command: Option<Command>,
    /// Commands run when the step fails, in the step's service unless they name another.
    pub on_fail: Vec<OnFail>,
    /// `parallelism`, `split`, `reports`, `retry`.
    pub splitting: Splitting,
    /// How long the step (each shard, each attempt) may run before it fails.
    pub timeout: Option<Spanned<std::time::Duration>>,
}

#[derive(Clone, Debug)]
pub struct OnFail {
    pub service: Option<Spanned<String>>,
    pub command: Command,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GroupMode {
    Serial,
    Parallel,
}

#[derive(Clone, Debug)]
pub struct Group {
    pub mode: GroupMode,
    /// Inherited by children that name no service.
    pub service: Option<Spanned<String>>,
    /// The children run once per listed service, those copies in parallel.
    pub services: Option<Spanned<Vec<Spanned<String>>>>,
    pub steps: Vec<Step>,
    /// `steps` is there but not a list (reported as such, not also as an empty group).
    pub steps_malformed: bool,
}

#[derive(Clone, Debug)]
pub struct PushStep {
    pub service: Option<Spanned<String>>,
    pub image_name: Option<Spanned<String>>,
    /// Template; `latest` when absent.
    pub image_tag: Option<Spanned<String>>,
    /// Docker Hub when absent.
    pub registry: Option<Spanned<String>>,
}

/// Codeship's hosted approval gate. Locally its steps run only with `--approve`.
#[derive(Clone, Debug)]
pub struct ManualStep {
    pub service: Option<Spanned<String>>,
    pub steps: Vec<Step>,
}

impl Step {
    /// Call `visit` on this step and every step inside it, depth first, in file order.
    pub fn walk(&self, visit: &mut impl FnMut(&Step)) {
        visit(self);
        let inner = match &self.kind {
            StepKind::Group(group) => group.steps.as_slice(),
            StepKind::Manual(manual) => manual.steps.as_slice(),
            StepKind::Run(_) | StepKind::Push(_) => &[],
        };
        for step in inner {
            step.walk(visit);
        }
    }

    /// The name a user sees: `name`, else the command, else the kind of step.
    pub fn display_name(&self) -> String {
        if let Some(name) = &self.name {
            return name.value.clone();
        }
        match &self.kind {
            StepKind::Run(run) => run.command.as_ref().map_or_else(|| "(no command)".to_string(), |c| c.text.clone()),
            StepKind::Group(group) => match group.mode {
                GroupMode::Serial => "serial group".to_string(),
                GroupMode::Parallel => "parallel group".to_string(),
            },
            StepKind::Push(push) => format!("push {}", push.image_name.as_ref().map_or("?", |n| n.value.as_str())),
            StepKind::Manual(_) => "manual approval".to_string(),
        }
    }
}

const COMMON_KEYS: &[&str] = &["name", "tag", "exclude", "type", "encrypted_dockercfg_path", "dockercfg_service"];
const RUN_KEYS: &[&str] =
    &["service", "services", "command", "on_fail", "parallelism", "split", "reports", "retry", "timeout"];
const GROUP_KEYS: &[&str] = &["service", "services", "steps"];
const PUSH_KEYS: &[&str] = &["service", "image_name", "image_tag", "registry"];
const MANUAL_KEYS: &[&str] = &["service", "steps"];
/// Hosted-only Codeship keys with no meaning on a local engine.
const HOSTED_ONLY_KEYS: &[&str] = &["dockercfg"];

/// Parse the top level of a steps file: a list (or `steps:` holding one).
pub(crate) fn parse_steps_file(root: &Node, diags: &mut Diagnostics) -> Vec<Step> {
    let list = match &root.value {
        Value::Seq(_) => root,
        Value::Map(_) if root.get("steps").is_some() => root.get("steps").expect("checked"),
        Value::Null => {
            diags
                .error(&root.span, "the steps file is empty")
                .hint("add a list of steps, e.g. `- service: app` with `command: make test` indented below it");
            return Vec::new();
        }
        Value::Map(_) => {
            diags
                .error(&root.span, "the steps file must be a list of steps, found a mapping")
                .hint("start each step with `- `: even one step is a list, `- name: test` with its `service:` and `command:` indented below it");
            return Vec::new();
        }
        _ => {
            diags.error(&root.span, format!("the steps file must be a list of steps, found {}", root.kind()));
            return Vec::new();
        }
    };
    parse_step_list(list, "the steps file", diags)
}

fn parse_step_list(node: &Node, what: &str, diags: &mut Diagnostics) -> Vec<Step> {
    match &node.value {
        Value::Seq(items) => items.iter().filter_map(|item| parse_step(item, diags)).collect(),
        _ => {
            diags.error(&node.span, format!("{what} must be a list of steps, found {}", node.kind()));
            Vec::new()
        }
    }
}

/// Zero-width characters and bidirectional overrides (Unicode's format characters that
/// matter in a terminal line).
fn is_invisible_format(c: char) -> bool {
    matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}')
}

fn parse_step(node: &Node, diags: &mut Diagnostics) -> Option<Step> {
    let mut f = Fields::of(node, "a step", diags)?;
    let name = f.take("name").and_then(|n| non_empty_string(n, "`name` of a step", diags)).filter(|name| {
        // Names are printed on every log line: an escape sequence would rewrite the terminal,
        // and an invisible or direction-changing character makes two names look alike.
        let control = name.value.chars().find(|c| c.is_control() || is_invisible_format(*c));
        if let Some(c) = control {
            let kind = if c.is_control() { "a control character" } else { "an invisible formatting character" };
            diags
                .error(&name.span, format!("the step name {:?} holds {kind} (U+{:04X})", name.value, c as u32))
                .hint("step names are shown on every log line; use printable characters");
        }
        control.is_none()
    });
    let what = match &name {
        Some(n) => format!("step `{}`", n.value),
        None => "this step".to_string(),
    };
    let tag = f.take("tag").and_then(|n| pattern(n, "tag", diags));
    let exclude = f.take("exclude").and_then(|n| pattern(n, "exclude", diags));
    let kind_node = f.take("type");
    let kind_text = kind_node.and_then(|n| string(n, &format!("`type` of {what}"), diags));

    let service = f.take("service").and_then(|n| non_empty_string(n, &format!("`service` of {what}"), diags));
    let mut auth_key = |key: &str| f.take(key).and_then(|n| non_empty_string(n, &format!("`{key}` of {what}"), diags));
    let registry_auth = RegistryAuth {
        encrypted_dockercfg_path: auth_key("encrypted_dockercfg_path"),
        dockercfg_service: auth_key("dockercfg_service"),
    };
    let kind = match kind_text.as_ref().map(|k| k.value.as_str()) {
        None if f.has("steps") => StepKind::Group(parse_group(&mut f, GroupMode::Serial, service, &what, diags)),
        None => StepKind::Run(parse_run(&mut f, service, &what, diags)),
        Some("serial") => StepKind::Group(parse_group(&mut f, GroupMode::Serial, service, &what, diags)),
        Some("parallel" | "matrix") => StepKind::Group(parse_group(&mut f, GroupMode::Parallel, service, &what, diags)),
        Some("push") => StepKind::Push(parse_push(&mut f, service, &what, diags)),
        Some("manual") => StepKind::Manual(ManualStep {
            service,
            steps: f
                .take("steps")
                .map(|n| parse_step_list(n, &format!("`steps` of {what}"), diags))
                .unwrap_or_default(),
        }),
        Some(other) => {
            let span = &kind_text.as_ref().expect("matched Some").span;
            diags
                .error(span, format!("unknown step type `{other}`"))
                .hint("use serial, parallel, push or manual (matrix is read as parallel)");
            return None;
        }
    };
    let known: Vec<&str> = COMMON_KEYS
        .iter()
        .chain(match &kind {
            StepKind::Run(_) => RUN_KEYS,
            StepKind::Group(_) => GROUP_KEYS,
            StepKind::Push(_) => PUSH_KEYS,
            StepKind::Manual(_) => MANUAL_KEYS,
        })
        .copied()
        .collect();
    f.warn_rest(&what, HOSTED_ONLY_KEYS, "it only meant something on Codeship's hosted service", &known, diags);
    Some(Step { name, tag, exclude, registry_auth, kind, span: node.span.clone() })
}

fn pattern(node: &Node, key: &str, diags: &mut Diagnostics) -> Option<Spanned<TagPattern>> {
    let text = string(node, &format!("`{key}`"), diags)?;
    match TagPattern::parse(&text.value) {
        Ok(p @ TagPattern::Exact(_)) if text.value.contains(['*', '?', '[', '\\']) => {
            // No branch or git tag can hold these (git refuses them in names): a pattern
            // was meant, and as plain text it can never match.
            diags
                .warning(
                    &text.span,
                    format!("`{key}` `{}` is matched as plain text and no branch or tag can equal it", text.value),
                )
                .hint(format!(
                    "a value is a regular expression only when it contains ^ or $ (Jet's rule): write `^{}$`",
                    text.value
                ));
            Some(Spanned::new(p, text.span))
        }
        Ok(p) => Some(Spanned::new(p, text.span)),
        Err(problem) => {
            diags.error(&text.span, format!("`{key}` is not a valid regular expression: {problem}")).hint(
                "a value containing ^ or $ is a regular expression; fix it, or drop ^ and $ to match a name exactly",
            );
            None
        }
    }
}

fn services_list(f: &mut Fields, what: &str, diags: &mut Diagnostics) -> Option<Spanned<Vec<Spanned<String>>>> {
    let node = f.take("services")?;
    let list = string_list(node, &format!("`services` of {what}"), diags);
    if list.is_empty() && node.as_seq().is_some() {
        diags.error(&node.span, format!("`services` of {what} is empty"));
    }
    for (i, service) in list.iter().enumerate() {
        if list[..i].iter().any(|s| s.value == service.value) {
            diags
                .warning(&service.span, format!("`services` of {what} names `{}` twice: it runs twice", service.value))
                .hint("remove the second one");
        }
    }
    Some(Spanned::new(list, node.span.clone()))
}

fn both_service_and_services(
    service: &Option<Spanned<String>>,
    services: &Option<Spanned<Vec<Spanned<String>>>>,
    what: &str,
    diags: &mut Diagnostics,
) {
    if let (Some(service), Some(_)) = (service, services) {
        diags
            .error(&service.span, format!("{what} sets both `service` and `services`"))
            .hint("use `service` for one service, or `services` to run the steps once per service");
    }
}

fn parse_group(
    f: &mut Fields,
    mode: GroupMode,
    service: Option<Spanned<String>>,
    what: &str,
    diags: &mut Diagnostics,
) -> Group {
    let services = services_list(f, what, diags);
    both_service_and_services(&service, &services, what, diags);
    let node = f.take("steps");
    let steps_malformed = node.is_some_and(|n| n.as_seq().is_none());
    let steps = node.map(|n| parse_step_list(n, &format!("`steps` of {what}"), diags)).unwrap_or_default();
    Group { mode, service, services, steps, steps_malformed }
}

fn parse_run(f: &mut Fields, service: Option<Spanned<String>>, what: &str, diags: &mut Diagnostics) -> RunStep {
    let services = services_list(f, what, diags);
    both_service_and_services(&service, &services, what, diags);
    let command_ = f.take("command").and_then(|n| command(n, &format!("`command` of {what}"), diags));
    // `on_fail: cmd` is one command; a list holds commands or `{command, service}` maps.
    let on_fail = match f.take("on_fail") {
        None => Vec::new(),
        Some(n) => match n.as_seq() {
            Some(items) => items.iter().filter_map(|i| on_fail_entry(i, what, diags)).collect(),
            None => on_fail_entry(n, what, diags).into_iter().collect(),
        },
    };
    let splitting = parse_splitting(f, what, diags);
    if let Some(command) = &command_ {
        if command.words.iter().any(|w| w.contains("{files}")) && splitting.split.is_none() {
            diags
                .error(&command.span, format!("the command of {what} uses {{files}} but the step has no `split`"))
                .hint("add `split: {files: GLOB}` and `parallelism: N`");
        }
    }
    let timeout = f.take("timeout").and_then(|node| {
        let text = string(node, &format!("`timeout` of {what}"), diags)?;
        match crate::duration::parse_duration(&text.value) {
            Ok(d) if !d.is_zero() => Some(Spanned::new(d, node.span.clone())),
            Ok(_) => {
                diags
                    .error(&node.span, format!("`timeout` of {what} is zero"))
                    .hint("write how long the step may run, e.g. `timeout: 20m`");
                None
            }
            Err(problem) => {
                diags
                    .error(&node.span, format!("`timeout` of {what}: {problem}"))
                    .hint("e.g. `timeout: 20m` or `timeout: 90s`");
                None
            }
        }
    });
    RunStep { service, services, command: command_, on_fail, splitting, timeout }
}

fn on_fail_entry(node: &Node, what: &str, diags: &mut Diagnostics) -> Option<OnFail> {
    let what = format!("`on_fail` of {what}");
    if node.as_map().is_none() {
        return command(node, &what, diags).map(|command| OnFail { service: None, command });
    }
    let mut f = Fields::of(node, &what, diags)?;
    let service = f.take("service").and_then(|n| non_empty_string(n, &format!("`service` in {what}"), diags));
    let command_ = match f.take("command") {
        Some(n) => command(n, &what, diags),
        None => {
            diags.error(&node.span, format!("an entry of {what} has no `command`"));
            None
        }
    };
    f.warn_rest(&what, &[], "", &["command", "service"], diags);
    Some(OnFail { service, command: command_? })
}

fn parse_push(f: &mut Fields, service: Option<Spanned<String>>, what: &str, diags: &mut Diagnostics) -> PushStep {
    let mut take = |key: &str| f.take(key).and_then(|n| non_empty_string(n, &format!("`{key}` of {what}"), diags));
    PushStep { service, image_name: take("image_name"), image_tag: take("image_tag"), registry: take("registry") }
}
