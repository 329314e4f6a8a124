//! Plans built by hand, the way `slipway_plan::build_plan` would shape them, so the
//! tests need no files: a serial root group, named steps, each step's environment with
//! its dependencies first and its own service last.

use std::collections::HashMap;
use std::path::PathBuf;

use indexmap::IndexMap;
use slipway_plan::{
    Action, BuildSpec, Condition, HealthcheckSpec, Member, Mode, Node, OnFailAction, Plan, PlanStep, RunAction,
    ServiceSpec, StepId,
};

pub const PROJECT: &str = "fake-project";
pub const RUN_ID: &str = "run1";

/// A service with nothing but an image; adjust it with struct update syntax.
pub fn service(name: &str, image: &str) -> ServiceSpec {
    ServiceSpec {
        name: name.to_string(),
        image_at: format!("codeship-services.yml ({name})"),
        image: image.to_string(),
        env: Vec::new(),
        command: None,
        entrypoint: None,
        working_dir: None,
        user: None,
        hostname: None,
        extra_hosts: Vec::new(),
        shm_size: None,
        tmpfs: Vec::new(),
        cap_add: Vec::new(),
        cap_drop: Vec::new(),
        volumes: Vec::new(),
        volumes_from: Vec::new(),
        healthcheck: None,
        add_docker: false,
        registry_auth: Default::default(),
        cached: false,
        default_cache_branch: "master".to_string(),
    }
}

/// A healthcheck whose test words follow the fake's convention (`healthy-after 100`, …).
pub fn healthcheck(test: &[&str]) -> Option<HealthcheckSpec> {
    Some(HealthcheckSpec {
        test: Some(std::iter::once("CMD").chain(test.iter().copied()).map(String::from).collect()),
        interval: None,
        timeout: None,
        start_period: None,
        retries: None,
        disable: false,
    })
}

pub fn serial(children: Vec<Node>) -> Node {
    Node::Group { name: None, mode: Mode::Serial, children }
}

pub fn parallel(children: Vec<Node>) -> Node {
    Node::Group { name: None, mode: Mode::Parallel, children }
}

#[derive(Default)]
pub struct PlanBuilder {
    services: IndexMap<String, ServiceSpec>,
    builds: IndexMap<String, BuildSpec>,
    /// Service → the services it depends on, with the condition.
    depends_on: HashMap<String, Vec<(String, Condition)>>,
    steps: Vec<PlanStep>,
}

impl PlanBuilder {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn service(&mut self, spec: ServiceSpec) -> &mut Self {
        self.services.insert(spec.name.clone(), spec);
        self
    }

    pub fn depends_on(&mut self, service: &str, dependency: &str, condition: Condition) -> &mut Self {
        self.depends_on.entry(service.to_string()).or_default().push((dependency.to_string(), condition));
        self
    }

    /// Build `service`'s image from a Dockerfile instead of pulling it.
    pub fn built(&mut self, service: &str) -> &mut Self {
        let image = self.services[service].image.clone();
        self.builds.insert(
            service.to_string(),
            BuildSpec {
                service: service.to_string(),
                image,
                context: PathBuf::from("/nonexistent/context"),
                dockerfile: "Dockerfile".to_string(),
                args: Vec::new(),
                target: None,
            },
        );
        self
    }

    /// A run step; its name doubles as its label and must be unique.
    pub fn step(&mut self, name: &str, service: &str, command: &[&str]) -> Node {
        self.add(name, service, command, None)
    }

    pub fn skipped_step(&mut self, name: &str, service: &str, reason: &str) -> Node {
        self.add(name, service, &["exit", "99"], Some(reason.to_string()))
    }

    /// Commands to run in the step's service when its command fails.
    pub fn on_fail(&mut self, step: &str, commands: &[&[&str]]) -> &mut Self {
        let step = self.steps.iter_mut().find(|s| s.name == step).expect("add the step before its on_fail");
        let Action::Run(run) = &mut step.action else { unreachable!("the builder only makes run steps") };
        let service = run.service.clone();
        run.on_fail = commands
            .iter()
            .map(|c| OnFailAction { service: service.clone(), command: c.iter().map(|w| w.to_string()).collect() })
            .collect();
        self
    }

    fn add(&mut self, name: &str, service: &str, command: &[&str], skip: Option<String>) -> Node {
        assert!(self.steps.iter().all(|s| s.name != name), "step names must be unique: {name}");
        assert!(self.services.contains_key(service), "add service `{service}` before its steps");
        let id = StepId(self.steps.len());
        self.steps.push(PlanStep {
            id,
            name: name.to_string(),
            label: name.to_string(),
            action: Action::Run(RunAction {
                service: service.to_string(),
                command: Some(command.iter().map(|w| w.to_string()).collect()),
                on_fail: Vec::new(),
                environment: self.environment(service),
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
            skip,
        });
        Node::Step(id)
    }

    /// Dependencies before what needs them, `service` last (as `slipway_plan::environment`).
    fn environment(&self, service: &str) -> Vec<Member> {
        fn visit(name: &str, deps: &HashMap<String, Vec<(String, Condition)>>, order: &mut Vec<String>) {
            if order.iter().any(|o| o == name) {
                return;
            }
            for (dep, _) in deps.get(name).into_iter().flatten() {
                visit(dep, deps, order);
            }
            order.push(name.to_string());
        }
        let mut order = Vec::new();
        visit(service, &self.depends_on, &mut order);
        let index = |name: &str| order.iter().position(|o| o == name).expect("dependency in the environment");
        order
            .iter()
            .map(|name| Member {
                service: name.clone(),
                aliases: vec![name.clone()],
                needs: self.depends_on.get(name).into_iter().flatten().map(|(dep, c)| (index(dep), *c)).collect(),
            })
            .collect()
    }

    /// The plan, with `children` in the serial root group.
    pub fn build(&self, children: Vec<Node>) -> Plan {
        let mut plan = Plan {
            project: PROJECT.to_string(),
            run_id: RUN_ID.to_string(),
            root: serial(children),
            steps: self.steps.clone(),
            services: self.services.clone(),
            builds: self.builds.clone(),
            shared_services: Vec::new(),
            queues: Vec::new(),
        };
        plan.shared_services = lenders(&plan);
        plan
    }
}

/// Services lending volumes (`volumes_from`) to anything a step that runs starts, transitively.
fn lenders(plan: &Plan) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut pending: Vec<String> = plan.services_in_use().into_iter().map(String::from).collect();
    while let Some(name) = pending.pop() {
        for (lender, _) in &plan.services[&name].volumes_from {
            if !out.contains(lender) {
                out.push(lender.clone());
                pending.push(lender.clone());
            }
        }
    }
    out
}
