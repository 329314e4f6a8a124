//! Building the plan: walk the steps file, apply tag/exclude and flags, expand
//! `services:` copies, and work out each run step's environment.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use indexmap::IndexMap;
use slipway_config::{
    Condition, Diagnostics, GroupMode, Project, Spanned, SplitMode, Splitting, Step, StepKind, TagPattern,
};

use crate::context::RunContext;
use crate::model::{
    Action, BuildSpec, Member, Mode, Node, OnFailAction, Plan, PlanStep, PushAction, QueueSpec, QueueWork,
    RegistryAuthSpec, RunAction, StepId,
};
use crate::resolve::{resolve_build, resolve_service};
use crate::split::{
    empty_shard_reason, estimates, expand_files, expand_shard, queue_share_note, split_files_with_lags,
    static_share_note,
};
use crate::template::{render, sanitize_image_tag};

/// Build the plan for a loaded (and validated) project.
pub fn build_plan(project: &Project, ctx: &RunContext) -> Result<Plan, Diagnostics> {
    let mut diags = Diagnostics::new();
    let services =
        project.services.values().map(|s| (s.name.value.clone(), resolve_service(project, s, ctx))).collect();
    let builds: IndexMap<String, BuildSpec> = project
        .services
        .values()
        .filter_map(|s| resolve_build(project, s, ctx, &mut diags).map(|b| (s.name.value.clone(), b)))
        .collect();
    let mut walker =
        Walker { project, ctx, steps: Vec::new(), queues: Vec::new(), labels: HashSet::new(), diags: &mut diags };
    let top = Inherited::default();
    let children = project.steps.as_deref().unwrap_or_default().iter().map(|s| walker.step(s, &top)).collect();
    let steps = walker.steps;
    let queues = walker.queues;
    let mut plan = Plan {
        project: project.name.clone(),
        run_id: ctx.run_id.clone(),
        root: Node::Group { name: None, mode: Mode::Serial, children },
        steps,
        services,
        builds,
        shared_services: Vec::new(),
        queues,
    };
    plan.shared_services = shared_services(&plan);
    if diags.has_errors() {
        Err(diags)
    } else {
        Ok(plan)
    }
}

/// A one-step plan for `slipway run SERVICE [CMD…]`.
pub fn build_run_plan(
    project: &Project,
    ctx: &RunContext,
    service: &str,
    command: Option<Vec<String>>,
) -> Result<Plan, Diagnostics> {
    let mut plan = build_plan(&Project { steps: Some(Vec::new()), ..project.clone() }, ctx)?;
    let id = StepId(0);
    plan.steps.push(PlanStep {
        id,
        name: service.to_string(),
        label: service.to_string(),
        action: Action::Run(RunAction {
            service: service.to_string(),
            command,
            on_fail: Vec::new(),
            environment: environment(project, service),
            extra_env: Vec::new(),
            reports: Vec::new(),
            retry: 0,
            timeout: None,
            shard: None,
            files: Vec::new(),
            split_files: Vec::new(),
            queue: None,
            split_note: None,
        }),
        skip: None,
    });
    plan.root = Node::Group { name: None, mode: Mode::Serial, children: vec![Node::Step(id)] };
    plan.shared_services = shared_services(&plan);
    Ok(plan)
}

struct Walker<'a> {
    project: &'a Project,
    ctx: &'a RunContext,
    steps: Vec<PlanStep>,
    queues: Vec<QueueSpec>,
    labels: HashSet<String>,
    diags: &'a mut Diagnostics,
}

/// What a group passes down to the steps inside it.
#[derive(Clone, Default)]
struct Inherited<'a> {
    /// The service of children that name none.
    service: Option<&'a str>,
    /// The service this copy of a `services:` group runs for (shown in labels).
    copy: Option<&'a str>,
    /// Why the enclosing group does not run.
    skip: Option<String>,
    /// Registry credentials for push steps inside.
    auth: RegistryAuthSpec,
}

impl<'a> Inherited<'a> {
    fn under(&self, step: &'a Step, skip: Option<String>) -> Self {
        let own = &step.registry_auth;
        // The nearest level that names credentials names all of them: a step's own
        // `dockercfg_service` is not overruled by its group's `encrypted_dockercfg_path`.
        let auth = if own.encrypted_dockercfg_path.is_some() || own.dockercfg_service.is_some() {
            RegistryAuthSpec {
                encrypted_dockercfg_path: own.encrypted_dockercfg_path.as_ref().map(|p| p.value.clone()),
                dockercfg_service: own.dockercfg_service.as_ref().map(|s| s.value.clone()),
            }
        } else {
            self.auth.clone()
        };
        Inherited { skip, auth, ..self.clone() }
    }
}

impl<'a> Walker<'a> {
    fn step(&mut self, step: &'a Step, outer: &Inherited<'a>) -> Node {
        let skip = outer.skip.clone().or_else(|| self.tag_skip(step));
        let here = outer.under(step, skip.clone());
        let name = step.name.as_ref().map(|n| n.value.clone());
        match &step.kind {
            StepKind::Run(run) => {
                if let Some(list) = &run.services {
                    return self
                        .copies(list, step, |w, s| w.run_step(step, s, &Inherited { copy: Some(s), ..here.clone() }));
                }
                let own = run.service.as_ref().map(|s| s.value.as_str()).or(here.service).unwrap_or_default();
                self.run_step(step, own, &here)
            }
            StepKind::Group(group) => {
                let mode = match group.mode {
                    GroupMode::Serial => Mode::Serial,
                    GroupMode::Parallel => Mode::Parallel,
                };
                if let Some(list) = &group.services {
                    return self.copies(list, step, |w, s| {
                        let inside = Inherited { service: Some(s), copy: Some(s), ..here.clone() };
                        Node::Group {
                            name: Some(format!("{} [{s}]", step.display_name())),
                            mode,
                            children: group.steps.iter().map(|c| w.step(c, &inside)).collect(),
                        }
                    });
                }
                let inside =
                    Inherited { service: group.service.as_ref().map(|s| s.value.as_str()).or(here.service), ..here };
                Node::Group { name, mode, children: group.steps.iter().map(|c| self.step(c, &inside)).collect() }
            }
            StepKind::Manual(manual) => {
                let skip = skip.or_else(|| {
                    (!self.ctx.approve).then(|| "manual approval step (pass --approve to run it)".to_string())
                });
                let service = manual.service.as_ref().map(|s| s.value.as_str()).or(here.service);
                let inside = Inherited { service, skip, ..here };
                Node::Group {
                    name: Some(step.display_name()),
                    mode: Mode::Serial,
                    children: manual.steps.iter().map(|c| self.step(c, &inside)).collect(),
                }
            }
            StepKind::Push(push) => {
                let skip = skip.or_else(|| (!self.ctx.push).then(|| "push step (pass --push to run it)".to_string()));
                let service = push
                    .service
                    .as_ref()
                    .map(|s| s.value.clone())
                    .or(here.service.map(str::to_string))
                    .unwrap_or_default();
                let image_name = push.image_name.as_ref().map(|n| n.value.clone()).unwrap_or_default();
                let mut vars = self.ctx.template_vars.clone();
                vars.insert("StepName".into(), step.display_name());
                vars.insert("ServiceName".into(), service.clone());
                vars.insert("ImageName".into(), image_name.clone());
                let image_tag = match &push.image_tag {
                    None => "latest".to_string(),
                    Some(t) => match render(&t.value, &vars).map(|tag| sanitize_image_tag(&tag)) {
                        // The engine reads a push with no tag as "push every tag"; a push
                        // that will not run needs no tag.
                        Ok(tag) if tag.is_empty() && skip.is_none() => {
                            self.diags
                                .error(&t.span, format!("`image_tag` `{}` renders to an empty tag here", t.value))
                                .hint("its fields are empty in this run (a branch comes from git or --ci-branch); give a fallback text beside them, e.g. `build-{{ .Branch }}`");
                            String::new()
                        }
                        Ok(tag) => tag,
                        Err(problem) => {
                            self.diags.error(&t.span, format!("`image_tag`: {problem}"));
                            String::new()
                        }
                    },
                };
                let action = Action::Push(PushAction {
                    service,
                    image_name,
                    image_tag,
                    registry: push.registry.as_ref().map(|r| r.value.clone()),
                    auth: here.auth.clone(),
                });
                self.leaf(step.display_name(), None, action, skip)
            }
        }
    }

    fn run_step(&mut self, step: &Step, service: &str, inherited: &Inherited<'_>) -> Node {
        let StepKind::Run(run) = &step.kind else { unreachable!("run_step is called for run steps") };
        let base = RunAction {
            service: service.to_string(),
            command: run.command.as_ref().map(|c| c.words.clone()),
            on_fail: run
                .on_fail
                .iter()
                .map(|f| OnFailAction {
                    service: f.service.as_ref().map_or_else(|| service.to_string(), |s| s.value.clone()),
                    command: f.command.words.clone(),
                })
                .collect(),
            environment: environment(self.project, service),
            extra_env: Vec::new(),
            reports: run.splitting.reports.iter().map(|r| r.value.clone()).collect(),
            retry: run.splitting.retry.min(u64::from(u32::MAX)) as u32,
            timeout: run.timeout.as_ref().map(|t| t.value),
            shard: None,
            files: Vec::new(),
            split_files: Vec::new(),
            queue: None,
            split_note: None,
        };
        match &run.splitting.parallelism {
            None => self.leaf(step.display_name(), inherited.copy, Action::Run(base), inherited.skip.clone()),
            Some(n) => self.shards(step, &run.splitting, n.value as u32, base, inherited),
        }
    }

    /// `parallelism: N`: N shards (or, in queue mode, N workers) of a step, in parallel.
    fn shards(
        &mut self,
        step: &Step,
        splitting: &Splitting,
        count: u32,
        base: RunAction,
        inherited: &Inherited<'_>,
    ) -> Node {
        let name = step.display_name();
        let input = self.ctx.split_inputs.get(&split_key(step)).cloned().unwrap_or_default();
        let shard_env = |index: u32, files: Option<&[String]>| {
            let mut env = vec![
                ("SLIPWAY_SHARD_INDEX".to_string(), index.to_string()),
                ("SLIPWAY_SHARD_COUNT".to_string(), count.to_string()),
            ];
            if let Some(files) = files {
                env.push(("SLIPWAY_TEST_FILES".to_string(), files.join(" ")));
            }
            env
        };
        let command = base.command.clone().unwrap_or_default();
        let lags: &[Duration] = if input.start_lags.len() == count as usize { &input.start_lags } else { &[] };
        let mut children = Vec::new();
        match &splitting.split {
            Some(split) if split.mode == SplitMode::Queue => {
                let plan = split_files_with_lags(&input.files, &input.timings, split.by, count as usize, lags);
                let why_by_count = plan.why_by_count();
                let notes: Vec<String> =
                    plan.shards.iter().map(|shard| queue_share_note(plan.by, shard, &why_by_count)).collect();
                // With fewer files than workers, a worker without a file has nothing to
                // take either (only the others' retries): it does not start.
                let idle: Vec<bool> =
                    plan.shards.iter().map(|s| s.files.is_empty() && input.files.len() < count as usize).collect();
                let durations: HashMap<String, Duration> =
                    estimates(&input.files, &input.timings).into_iter().collect();
                let assignment = plan
                    .shards
                    .into_iter()
                    .map(|shard| {
                        let mut files: Vec<(String, Duration)> = shard
                            .files
                            .into_iter()
                            .map(|f| {
                                let d = durations[&f];
                                (f, d)
                            })
                            .collect();
                        files.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
                        files
                    })
                    .collect();
                let queue = self.queues.len();
                let unknown = input.files.iter().filter(|f| !input.timings.contains_key(*f)).cloned().collect();
                self.queues.push(QueueSpec {
                    name: name.clone(),
                    assignment,
                    unknown,
                    workers: count,
                    retry: base.retry,
                });
                for index in 1..=count {
                    let action = RunAction {
                        extra_env: shard_env(index, None),
                        shard: Some((index, count)),
                        reports: expand_shard(&base.reports, index, count),
                        queue: Some(QueueWork { queue, command: expand_shard(&command, index, count) }),
                        // The queue retries failed files; a worker run again would find it empty.
                        retry: 0,
                        split_files: input.files.clone(),
                        split_note: notes.get(index as usize - 1).cloned(),
                        ..base.clone()
                    };
                    let skip = idle[index as usize - 1]
                        .then(|| "no test files for this worker: there are fewer files than workers".to_string());
                    children.push(self.shard_leaf(&name, index, count, action, inherited, skip));
                }
            }
            Some(split) => {
                let plan = split_files_with_lags(&input.files, &input.timings, split.by, count as usize, lags);
                let why_by_count = plan.why_by_count();
                for (i, shard) in plan.shards.into_iter().enumerate() {
                    let index = i as u32 + 1;
                    let lag = lags.get(i).copied();
                    let skip = shard
                        .files
                        .is_empty()
                        .then(|| empty_shard_reason(plan.by, lag, input.files.len() < count as usize));
                    let note = static_share_note(plan.by, split.by, &shard, lag, &why_by_count);
                    let action = RunAction {
                        command: Some(expand_files(&expand_shard(&command, index, count), &shard.files)),
                        extra_env: shard_env(index, Some(&shard.files)),
                        shard: Some((index, count)),
                        reports: expand_shard(&base.reports, index, count),
                        files: shard.files,
                        split_files: input.files.clone(),
                        split_note: Some(note),
                        ..base.clone()
                    };
                    children.push(self.shard_leaf(&name, index, count, action, inherited, skip));
                }
            }
            None => {
                for index in 1..=count {
                    let action = RunAction {
                        command: base.command.as_ref().map(|c| expand_shard(c, index, count)),
                        extra_env: shard_env(index, None),
                        shard: Some((index, count)),
                        reports: expand_shard(&base.reports, index, count),
                        ..base.clone()
                    };
                    children.push(self.shard_leaf(&name, index, count, action, inherited, None));
                }
            }
        }
        Node::Group { name: Some(name), mode: Mode::Parallel, children }
    }

    fn shard_leaf(
        &mut self,
        name: &str,
        index: u32,
        count: u32,
        action: RunAction,
        inherited: &Inherited<'_>,
        skip: Option<String>,
    ) -> Node {
        let label_name = match inherited.copy {
            Some(copy) => format!("{name} [{copy}] [{index}/{count}]"),
            None => format!("{name} [{index}/{count}]"),
        };
        let id = StepId(self.steps.len());
        self.labels.insert(label_name.clone());
        self.steps.push(PlanStep {
            id,
            name: name.to_string(),
            label: label_name,
            action: Action::Run(action),
            skip: inherited.skip.clone().or(skip),
        });
        Node::Step(id)
    }

    /// One copy per listed service, run in parallel.
    fn copies(
        &mut self,
        list: &'a Spanned<Vec<Spanned<String>>>,
        step: &Step,
        mut each: impl FnMut(&mut Self, &'a str) -> Node,
    ) -> Node {
        let children = list.value.iter().map(|s| each(self, &s.value)).collect();
        Node::Group { name: step.name.as_ref().map(|n| n.value.clone()), mode: Mode::Parallel, children }
    }

    fn leaf(&mut self, name: String, copy: Option<&str>, action: Action, skip: Option<String>) -> Node {
        let base = match copy {
            Some(service) => format!("{name} [{service}]"),
            None => name.clone(),
        };
        let mut label = base.clone();
        let mut n = 2;
        while !self.labels.insert(label.clone()) {
            label = format!("{base} #{n}");
            n += 1;
        }
        let id = StepId(self.steps.len());
        self.steps.push(PlanStep { id, name, label, action, skip });
        Node::Step(id)
    }

    /// Jet's rule: `exclude` wins over `tag`; locally, a `tag` needs `--tag`/`--ci-branch`.
    fn tag_skip(&self, step: &Step) -> Option<String> {
        let tag = self.ctx.tag.as_deref();
        if let (Some(exclude), Some(t)) = (&step.exclude, tag) {
            if exclude.value.matches(t) {
                return Some(format!("excluded: `{}` matches exclude {}", t, describe(&exclude.value)));
            }
        }
        match (&step.tag, tag) {
            (Some(pattern), None) => {
                // As in Jet, the checkout's own branch (CI_BRANCH from git) picks no steps.
                Some(format!(
                    "tag {}: pass --tag or --ci-branch to run it (the git checkout's branch does not pick steps)",
                    describe(&pattern.value)
                ))
            }
            (Some(pattern), Some(t)) if !pattern.value.matches(t) => {
                Some(format!("`{t}` does not match tag {}", describe(&pattern.value)))
            }
            _ => None,
        }
    }
}

fn describe(pattern: &TagPattern) -> String {
    match pattern {
        TagPattern::Exact(name) => format!("`{name}`"),
        TagPattern::Regex(re) => format!("/{}/", re.as_str()),
    }
}

/// The containers a step in `service` starts: its links and depends_on, recursively,
/// each before whatever needs it; `service` itself is last.
pub fn environment(project: &Project, service: &str) -> Vec<Member> {
    // Depth first, each service after its dependencies. `entered` stops a cycle (which
    // validation rejects) from recursing forever.
    fn visit<'a>(
        project: &'a Project,
        name: &'a str,
        order: &mut IndexMap<&'a str, Vec<(&'a str, Condition)>>,
        entered: &mut HashSet<&'a str>,
    ) {
        if !entered.insert(name) {
            return;
        }
        let Some(s) = project.services.get(name) else {
            return;
        };
        let deps: Vec<(&str, Condition)> = s
            .links
            .iter()
            .map(|l| (l.service.value.as_str(), Condition::Started))
            .chain(s.depends_on.iter().map(|d| (d.service.value.as_str(), d.condition)))
            .collect();
        for (dep, _) in &deps {
            visit(project, dep, order, entered);
        }
        order.insert(name, deps);
    }
    let mut order = IndexMap::new();
    visit(project, service, &mut order, &mut HashSet::new());
    // Link aliases, by the service they name: one pass over the step's services.
    let mut aliases: HashMap<&str, Vec<String>> = HashMap::new();
    for name in order.keys() {
        for link in project.services.get(*name).into_iter().flat_map(|s| &s.links) {
            if let Some(alias) = &link.alias {
                let list = aliases.entry(link.service.value.as_str()).or_default();
                if !list.contains(alias) {
                    list.push(alias.clone());
                }
            }
        }
    }
    order
        .iter()
        .map(|(name, deps)| {
            let mut names = vec![name.to_string()];
            names.extend(aliases.get(name).into_iter().flatten().filter(|a| a != name).cloned());
            let mut needs: Vec<(usize, Condition)> = Vec::new();
            for (dep, condition) in deps {
                let Some(i) = order.get_index_of(dep) else {
                    continue;
                };
                match needs.iter_mut().find(|(j, _)| *j == i) {
                    // A service both linked and depended on: keep the stricter condition.
                    Some(existing) if *condition != Condition::Started => existing.1 = *condition,
                    Some(_) => {}
                    None => needs.push((i, *condition)),
                }
            }
            Member { service: name.to_string(), aliases: names, needs }
        })
        .collect()
}

/// Services lending volumes to any container of a step that runs, transitively.
fn shared_services(plan: &Plan) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut stack: Vec<String> = plan
        .steps
        .iter()
        .filter(|s| s.skip.is_none())
        .filter_map(|s| match &s.action {
            Action::Run(run) => Some(run.environment.iter().map(|m| m.service.clone()).collect::<Vec<_>>()),
            Action::Push(_) => None,
        })
        .flatten()
        .collect();
    let mut seen = HashSet::new();
    while let Some(name) = stack.pop() {
        if !seen.insert(name.clone()) {
            continue;
        }
        for (from, _) in plan.services.get(&name).map(|s| s.volumes_from.as_slice()).unwrap_or_default() {
            if !out.contains(from) {
                out.push(from.clone());
            }
            stack.push(from.clone());
        }
    }
    out
}

/// The key of a step in [`RunContext::split_inputs`]: where it stands in its file.
pub fn split_key(step: &Step) -> usize {
    step.span.offset
}

/// A step with a `split`: what the caller must find for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SplitRequest {
    /// Its [`split_key`].
    pub key: usize,
    pub name: String,
    /// The glob of its test files, where the steps file gives it.
    pub files: Spanned<String>,
    /// Globs of files to leave out of those.
    pub exclude: Vec<Spanned<String>>,
    pub shards: usize,
}

/// Every step with a `split`, wherever it is nested.
pub fn split_requests(project: &Project) -> Vec<SplitRequest> {
    fn walk(steps: &[Step], out: &mut Vec<SplitRequest>) {
        for step in steps {
            match &step.kind {
                StepKind::Run(run) => {
                    if let Some(split) = &run.splitting.split {
                        out.push(SplitRequest {
                            key: split_key(step),
                            name: step.display_name(),
                            files: split.files.clone(),
                            exclude: split.exclude.clone(),
                            shards: run.splitting.parallelism.as_ref().map_or(1, |n| n.value as usize),
                        });
                    }
                }
                StepKind::Group(g) => walk(&g.steps, out),
                StepKind::Manual(m) => walk(&m.steps, out),
                StepKind::Push(_) => {}
            }
        }
    }
    let mut out = Vec::new();
    walk(project.steps.as_deref().unwrap_or_default(), &mut out);
    out
}
