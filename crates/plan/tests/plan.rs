//! Plans built from real files: tag filtering, copies, environments, precedence.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use slipway_config::{load, LoadOptions, Project};
use slipway_plan::{build_plan, Action, Condition, Mode, Node, Plan, RunContext, StepId};

fn project(services: &str, steps: &str) -> (tempfile::TempDir, Project) {
    project_with(&[], services, steps)
}

/// A project with extra files beside the two pipeline files.
fn project_with(files: &[&str], services: &str, steps: &str) -> (tempfile::TempDir, Project) {
    let dir = tempfile::tempdir().unwrap();
    for file in files {
        std::fs::write(dir.path().join(file), "").unwrap();
    }
    std::fs::write(dir.path().join("codeship-services.yml"), services).unwrap();
    std::fs::write(dir.path().join("codeship-steps.yml"), steps).unwrap();
    // Services with `build: .` need a Dockerfile to be valid.
    std::fs::write(dir.path().join("Dockerfile"), "FROM busybox\n").unwrap();
    let (project, _) = load(&LoadOptions { dir: dir.path().to_path_buf(), with_steps: true, ..Default::default() })
        .unwrap_or_else(|d| panic!("{:?}", d.iter().map(|d| d.short()).collect::<Vec<_>>()));
    (dir, project)
}

fn ctx(tag: Option<&str>) -> RunContext {
    RunContext { run_id: "r1".into(), tag: tag.map(str::to_string), ..Default::default() }
}

fn skipped(plan: &Plan) -> Vec<(&str, bool)> {
    plan.steps.iter().map(|s| (s.label.as_str(), s.skip.is_some())).collect()
}

const ONE: &str = "app:\n  image: busybox\n";

#[test]
fn tags_and_excludes_follow_jets_rules() {
    let (_d, p) = project(
        ONE,
        r#"
- { name: always, service: app, command: "true" }
- { name: master-only, service: app, command: "true", tag: master }
- { name: release-regex, service: app, command: "true", tag: "^(master|release)" }
- { name: not-on-master, service: app, command: "true", exclude: master }
- name: group
  tag: "^release"
  type: serial
  steps:
    - { name: nested-ok, service: app, command: "true", tag: "^release/1" }
    - { name: nested-miss, service: app, command: "true", tag: "^release/2" }
"#,
    );
    let local = build_plan(&p, &ctx(None)).unwrap();
    assert_eq!(
        skipped(&local),
        [
            ("always", false),
            ("master-only", true),
            ("release-regex", true),
            ("not-on-master", false),
            ("nested-ok", true),
            ("nested-miss", true)
        ]
    );
    assert!(local.steps[1].skip.as_ref().unwrap().contains("--tag"));

    let master = build_plan(&p, &ctx(Some("master"))).unwrap();
    assert_eq!(
        skipped(&master),
        [
            ("always", false),
            ("master-only", false),
            ("release-regex", false),
            ("not-on-master", true),
            ("nested-ok", true),
            ("nested-miss", true)
        ]
    );
    let release = build_plan(&p, &ctx(Some("release/1.2"))).unwrap();
    assert_eq!(
        skipped(&release),
        [
            ("always", false),
            ("master-only", true),
            ("release-regex", false),
            ("not-on-master", false),
            ("nested-ok", false),
            ("nested-miss", true)
        ]
    );
    // `^(master|release)` is searched, so master-rebase matches too.
    let rebase = build_plan(&p, &ctx(Some("master-rebase"))).unwrap();
    assert!(rebase.steps[2].skip.is_none());
}

#[test]
fn exclude_wins_over_tag() {
    let (_d, p) = project(ONE, "- { service: app, command: 'true', tag: '^feat', exclude: '^feat/wip' }\n");
    assert!(build_plan(&p, &ctx(Some("feat/x"))).unwrap().steps[0].skip.is_none());
    assert!(build_plan(&p, &ctx(Some("feat/wip-1"))).unwrap().steps[0].skip.is_some());
}

#[test]
fn services_copies_run_in_parallel_and_inherit() {
    let (_d, p) = project(
        "a:\n  image: busybox\nb:\n  image: busybox\n",
        r#"
- name: matrix
  type: serial
  services: [a, b]
  steps:
    - name: first
      command: "true"
    - name: second
      command: "true"
- name: both
  services: [a, b]
  command: "true"
- type: matrix
  service: a
  steps:
    - command: echo hi
    - command: echo hi
"#,
    );
    let plan = build_plan(&p, &ctx(None)).unwrap();
    let labels: Vec<&str> = plan.steps.iter().map(|s| s.label.as_str()).collect();
    assert_eq!(
        labels,
        ["first [a]", "second [a]", "first [b]", "second [b]", "both [a]", "both [b]", "echo hi", "echo hi #2"]
    );
    let Node::Group { children, .. } = &plan.root else { panic!() };
    let Node::Group { mode, children: copies, .. } = &children[0] else { panic!() };
    assert_eq!(*mode, Mode::Parallel);
    let Node::Group { mode: copy_mode, .. } = &copies[0] else { panic!() };
    assert_eq!(*copy_mode, Mode::Serial);
    let Node::Group { mode: matrix_mode, .. } = &children[2] else { panic!() };
    assert_eq!(*matrix_mode, Mode::Parallel);
    let Action::Run(run) = &plan.step(StepId(2)).action else { panic!() };
    assert_eq!(run.service, "b");
}

#[test]
fn a_name_used_in_three_groups_beside_a_step_named_like_a_number_gets_distinct_labels() {
    let (_d, p) = project(
        ONE,
        r#"
- { name: deploy, service: app, command: "true" }
- type: serial
  steps:
    - { name: deploy, service: app, command: "true" }
    - { name: "deploy #2", service: app, command: "true" }
- type: parallel
  steps:
    - { name: deploy, service: app, command: "true" }
"#,
    );
    let plan = build_plan(&p, &ctx(None)).unwrap();
    let labels: Vec<&str> = plan.steps.iter().map(|s| s.label.as_str()).collect();
    assert_eq!(labels, ["deploy", "deploy #2", "deploy #2 #2", "deploy #3"]);
}

#[test]
fn environment_starts_dependencies_first_with_aliases() {
    let (_d, p) = project(
        r#"
app:
  image: busybox
  links: ["cache:redis-host", db]
  depends_on:
    db:
      condition: service_healthy
db:
  image: postgres:15
  depends_on: [migrations-volume]
migrations-volume:
  image: busybox
cache:
  image: redis:7
"#,
        "- { service: app, command: 'true' }\n",
    );
    let plan = build_plan(&p, &ctx(None)).unwrap();
    let Action::Run(run) = &plan.steps[0].action else { panic!() };
    let order: Vec<&str> = run.environment.iter().map(|m| m.service.as_str()).collect();
    assert_eq!(order, ["cache", "migrations-volume", "db", "app"]);
    assert_eq!(run.environment[0].aliases, ["cache", "redis-host"]);
    let app = &run.environment[3];
    assert!(app.needs.contains(&(2, Condition::Healthy)), "{:?}", app.needs);
    assert!(app.needs.contains(&(0, Condition::Started)));
    assert_eq!(run.environment[2].needs, [(1, Condition::Started)]);
}

#[test]
fn environment_precedence_later_wins() {
    let dir = tempfile::tempdir().unwrap();
    let write = |n: &str, t: &str| std::fs::write(dir.path().join(n), t).unwrap();
    write("app.env", "FROM_FILE=file\nBOTH=file\n");
    write(
        "codeship-services.yml",
        "app:\n  image: busybox\n  env_file: app.env\n  environment:\n    BOTH: environment\n    ONLY_ENV: environment\n    CI_BRANCH: mine\n    PASS:\n    OVERRIDDEN: environment\n",
    );
    write("codeship-steps.yml", "- { service: app, command: env }\n");
    let (p, _) = load(&LoadOptions { dir: dir.path().into(), with_steps: true, ..Default::default() }).unwrap();
    let mut c = ctx(None);
    c.ci_vars = vec![("CI".into(), "true".into()), ("CI_BRANCH".into(), "git-branch".into())];
    c.host_env = HashMap::from([("PASS".into(), "from-host".into())]);
    c.overrides = vec![("OVERRIDDEN".into(), "flag".into())];
    let plan = build_plan(&p, &c).unwrap();
    let env: HashMap<&str, &str> = plan.services["app"].env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    assert_eq!(env["CI"], "true");
    assert_eq!(env["CI_BRANCH"], "mine");
    assert_eq!(env["BOTH"], "file");
    assert_eq!(env["FROM_FILE"], "file");
    assert_eq!(env["ONLY_ENV"], "environment");
    assert_eq!(env["PASS"], "from-host");
    assert_eq!(env["OVERRIDDEN"], "flag");

    // A compose file: `environment` wins over `env_file`, as in docker compose.
    std::fs::remove_file(dir.path().join("codeship-services.yml")).unwrap();
    write(
        "docker-compose.yml",
        "services:\n  app:\n    image: busybox\n    env_file: app.env\n    environment:\n      BOTH: environment\n",
    );
    let (p, _) = load(&LoadOptions { dir: dir.path().into(), with_steps: true, ..Default::default() }).unwrap();
    let plan = build_plan(&p, &c).unwrap();
    let env: HashMap<&str, &str> = plan.services["app"].env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    assert_eq!(env["BOTH"], "environment");
    assert_eq!(env["FROM_FILE"], "file");
}

#[test]
fn push_and_manual_need_flags_and_tags_render() {
    let (_d, p) = project(
        "app:\n  build:\n    image: acme/app\n    context: .\n    args:\n      BRANCH: '{{ .Branch }}'\n",
        r#"
- type: push
  service: app
  image_name: acme/app
  image_tag: "{{ .Branch }}-{{ .CommitID }}"
- type: manual
  steps:
    - { service: app, command: ./deploy }
"#,
    );
    let mut c = ctx(None);
    c.template_vars.insert("Branch".into(), "feature/x".into());
    c.template_vars.insert("CommitID".into(), "abc123".into());
    let plan = build_plan(&p, &c).unwrap();
    assert!(plan.steps[0].skip.as_ref().unwrap().contains("--push"));
    assert!(plan.steps[1].skip.as_ref().unwrap().contains("--approve"));
    let Action::Push(push) = &plan.steps[0].action else { panic!() };
    assert_eq!(push.image_tag, "featurex-abc123");
    assert_eq!(plan.builds["app"].args, [("BRANCH".to_string(), "feature/x".to_string())]);
    assert!(plan.builds["app"].context.is_absolute());
    c.push = true;
    c.approve = true;
    let plan = build_plan(&p, &c).unwrap();
    assert!(plan.steps.iter().all(|s| s.skip.is_none()));

    // With nothing to fill it, the tag would be empty, which the engine reads as "every
    // tag": an error when the push runs, nothing when it is skipped.
    c.template_vars.insert("Branch".into(), String::new());
    c.template_vars.insert("CommitID".into(), String::new());
    let errors: Vec<String> = build_plan(&p, &c).unwrap_err().iter().map(|d| d.short()).collect();
    assert!(errors.len() == 1 && errors[0].contains("renders to an empty tag"), "{errors:?}");
    c.push = false;
    assert!(build_plan(&p, &c).is_ok());
}

#[test]
fn volumes_resolve_against_the_project_dir() {
    let (d, p) = project(
        "data:\n  image: busybox\n  volumes: [/data]\napp:\n  image: busybox\n  volumes: ['./src:/src:ro', 'cache:/cache']\n  volumes_from: [data]\n",
        "- { service: app, command: 'true' }\n",
    );
    let plan = build_plan(&p, &ctx(None)).unwrap();
    let app = &plan.services["app"];
    assert_eq!(
        app.volumes[0],
        slipway_plan::VolumeSpec::Bind { source: d.path().join("src"), target: "/src".into(), read_only: true }
    );
    assert_eq!(plan.shared_services, ["data"]);
    assert!(Path::new(&d.path().join("src")).is_absolute());
}

#[test]
fn push_steps_take_credentials_from_the_nearest_group() {
    let (_d, p) = project(
        "app:\n  build:\n    image: acme/app\n",
        r#"
- type: serial
  encrypted_dockercfg_path: outer.encrypted
  steps:
    - { type: push, service: app, image_name: acme/app }
    - type: serial
      encrypted_dockercfg_path: inner.encrypted
      steps:
        - { type: push, service: app, image_name: acme/app, name: inner }
"#,
    );
    let plan = build_plan(&p, &ctx(None)).unwrap();
    let auth = |i: usize| match &plan.steps[i].action {
        Action::Push(push) => push.auth.encrypted_dockercfg_path.clone(),
        Action::Run(_) => None,
    };
    assert_eq!(auth(0).as_deref(), Some("outer.encrypted"));
    assert_eq!(auth(1).as_deref(), Some("inner.encrypted"));
}

#[test]
fn a_shard_left_without_files_by_its_start_lag_says_so() {
    let steps = "- name: tests\n  service: app\n  parallelism: 3\n  split:\n    files: \"t/*.py\"\n    by: timings\n  command: pytest {files}\n";
    let (_dir, project) = project(ONE, steps);
    let request = slipway_plan::split_requests(&project).pop().expect("a split step");
    let files: Vec<String> = ["t/a.py", "t/b.py", "t/c.py"].map(String::from).to_vec();
    let second = Duration::from_secs(1);
    let input = slipway_plan::SplitInput {
        timings: files.iter().map(|f| (f.clone(), second)).collect(),
        files,
        start_lags: vec![Duration::ZERO, Duration::ZERO, second * 10],
    };
    let mut ctx = ctx(None);
    ctx.split_inputs.insert(request.key, input);
    let plan = build_plan(&project, &ctx).unwrap();
    let skips: Vec<Option<&str>> = plan.steps.iter().map(|s| s.skip.as_deref()).collect();
    assert_eq!(skips[..2], [None, None]);
    let last = skips[2].expect("the third shard starts too late to get a file");
    assert!(last.contains("about 10.0 s after the quickest shard"), "{last}");
}

/// The plan of `steps` (one split step) over the files `t/a.py` and `t/b.py`, no timings.
fn plan_split_of_two_files(steps: &str) -> slipway_plan::Plan {
    let (_dir, project) = project(ONE, steps);
    let request = slipway_plan::split_requests(&project).pop().expect("a split step");
    let files: Vec<String> = ["t/a.py", "t/b.py"].map(String::from).to_vec();
    let input = slipway_plan::SplitInput { timings: Default::default(), files, start_lags: Vec::new() };
    let mut ctx = ctx(None);
    ctx.split_inputs.insert(request.key, input);
    build_plan(&project, &ctx).unwrap()
}

#[test]
fn queue_workers_beyond_the_number_of_files_do_not_start() {
    let steps = "- name: tests\n  service: app\n  parallelism: 4\n  split:\n    files: \"t/*.py\"\n    mode: queue\n  command: pytest {files}\n";
    let plan = plan_split_of_two_files(steps);
    let skipped =
        plan.steps.iter().filter(|s| s.skip.as_deref().is_some_and(|w| w.contains("fewer files than workers")));
    assert_eq!(skipped.count(), 2, "{:?}", plan.steps.iter().map(|s| &s.skip).collect::<Vec<_>>());
}

#[test]
fn shard_placeholders_in_reports_are_replaced_per_shard() {
    for mode in ["static", "queue"] {
        let steps = format!("- name: tests\n  service: app\n  parallelism: 2\n  split:\n    files: \"t/*.py\"\n    mode: {mode}\n  reports: [\"reports/junit-{{shard}}-of-{{shards}}.xml\", \"other/*.xml\"]\n  command: pytest {{files}}\n");
        let plan = plan_split_of_two_files(&steps);
        let reports: Vec<Vec<String>> = plan
            .steps
            .iter()
            .map(|s| match &s.action {
                Action::Run(run) => run.reports.clone(),
                Action::Push(_) => Vec::new(),
            })
            .collect();
        assert_eq!(
            reports,
            [["reports/junit-1-of-2.xml", "other/*.xml"], ["reports/junit-2-of-2.xml", "other/*.xml"]],
            "{mode}"
        );
    }
}

#[test]
fn only_what_running_steps_use_is_in_use() {
    let (_d, p) = project_with(
        &["app.env.encrypted", "deploy.env.encrypted", "pull.encrypted", "push.encrypted", "creds.env.encrypted"],
        r#"
app:
  image: busybox
  links: [db]
  encrypted_env_file: app.env.encrypted
db:
  image: busybox
  encrypted_dockercfg_path: pull.encrypted
spare:
  image: busybox
  encrypted_env_file: app.env.encrypted
creds:
  image: busybox
  encrypted_env_file: creds.env.encrypted
tool:
  image: acme/tool
builder:
  build:
    image: acme/tool
deploy:
  build: .
  encrypted_env_file: deploy.env.encrypted
"#,
        r#"
- { name: test, service: app, command: "true" }
- { name: lint, service: tool, command: "true" }
- name: release
  tag: master
  type: serial
  encrypted_dockercfg_path: push.encrypted
  steps:
    - { name: ship, service: deploy, command: "true" }
    - { type: push, service: deploy, image_name: codeship_deploy, dockercfg_service: creds }
"#,
    );
    let set = |names: &[&str]| names.iter().map(|n| n.to_string()).collect::<std::collections::BTreeSet<_>>();
    let local = build_plan(&p, &ctx(None)).unwrap().in_use();
    assert_eq!(local.services, set(&["app", "builder", "db", "tool"]), "`builder` builds the image `tool` runs");
    assert_eq!(local.dockercfg_paths, set(&["pull.encrypted"]));

    let master = build_plan(&p, &ctx(Some("master"))).unwrap().in_use();
    assert_eq!(
        master.services,
        set(&["app", "builder", "db", "deploy", "tool"]),
        "the push step is skipped without --push"
    );

    let pushing = build_plan(&p, &RunContext { push: true, ..ctx(Some("master")) }).unwrap().in_use();
    assert_eq!(pushing.services, set(&["app", "builder", "creds", "db", "deploy", "tool"]));
    assert_eq!(pushing.dockercfg_paths, set(&["pull.encrypted"]), "the step's own dockercfg_service wins");
}
