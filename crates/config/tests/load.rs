//! Loading whole projects from files on disk.

use std::path::Path;

use slipway_config::{load, Diagnostics, LoadOptions, StepKind, Volume};

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).unwrap();
}

fn options(dir: &Path) -> LoadOptions {
    LoadOptions { dir: dir.to_path_buf(), with_steps: true, ..Default::default() }
}

fn errors(diags: &Diagnostics) -> Vec<String> {
    diags.errors().map(|d| d.short()).collect()
}

#[test]
fn loads_a_jet_project_with_anchors_and_merge_keys() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "codeship-services.yml",
        r#"
version: "2"
base: &base
  image: busybox
  environment:
    SHARED: "1"
app:
  <<: *base
  links:
    - db:database
  environment:
    - A=1
    - PASS_THROUGH
  volumes:
    - ./src:/src:ro
    - /cache
  working_dir: /src
db:
  image: postgres:15
  healthcheck:
    test: ["CMD-SHELL", "pg_isready"]
    interval: 1s
    retries: 30
"#,
    );
    write(
        dir.path(),
        "codeship-steps.yml",
        r#"
- name: checks
  type: parallel
  service: app
  steps:
    - command: echo one
    - name: two
      command: sh -c 'echo $A && true'
- name: deploy
  tag: ^(master|release/.*)$
  service: app
  command: ./deploy.sh
"#,
    );
    let (project, warnings) = load(&options(dir.path())).unwrap_or_else(|d| panic!("{:?}", errors(&d)));
    // `base` is an anchor holder, not a real service, but a Jet file treats it as one.
    assert_eq!(project.services.keys().collect::<Vec<_>>(), ["base", "app", "db"]);
    let app = &project.services["app"];
    assert_eq!(app.image.as_ref().unwrap().value, "busybox");
    assert_eq!(app.links[0].alias.as_deref(), Some("database"));
    // explicit environment replaces the merged one (merge keys are shallow)
    assert_eq!(app.environment.len(), 2);
    assert_eq!(app.environment[1].1, None);
    assert_eq!(app.volumes[0].value, Volume::Bind { source: "./src".into(), target: "/src".into(), read_only: true });
    assert!(project.services["db"].healthcheck.as_ref().unwrap().interval.is_some());
    let steps = project.steps.as_ref().unwrap();
    assert_eq!(steps.len(), 2);
    let StepKind::Group(group) = &steps[0].kind else { panic!("group expected") };
    assert_eq!(group.steps.len(), 2);
    let StepKind::Run(run) = &group.steps[1].kind else { panic!("run expected") };
    assert_eq!(run.command.as_ref().unwrap().words, ["sh", "-c", "echo $A && true"]);
    assert!(steps[1].tag.as_ref().unwrap().value.matches("release/1.0"));
    assert!(warnings.is_empty(), "{:?}", warnings.iter().map(|d| d.short()).collect::<Vec<_>>());
}

#[test]
fn loads_json_files() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "codeship-services.json", r#"{"app": {"image": "busybox"}}"#);
    write(dir.path(), "codeship-steps.json", r#"[{"service": "app", "command": "true"}]"#);
    let (project, _) = load(&options(dir.path())).unwrap();
    assert_eq!(project.steps.unwrap().len(), 1);
}

#[test]
fn a_comment_in_a_json_file_is_named_as_such() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "codeship-services.json", r#"{"app": {"image": "busybox"}}"#);
    write(
        dir.path(),
        "codeship-steps.json",
        "[\n  // lint first\n  {\"service\": \"app\", \"command\": \"true\"}\n]\n",
    );
    let errors = errors(&load(&options(dir.path())).unwrap_err());
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].contains("codeship-steps.json:2:3") && errors[0].contains("JSON has no comments"), "{errors:?}");

    // Inside an object, where YAML would read the comment as a key, and after a value.
    write(dir.path(), "codeship-services.json", "{\n  // the app\n  \"app\": {\"image\": \"busybox\"}\n}\n");
    let inside = self::errors(&load(&options(dir.path())).unwrap_err());
    assert!(
        inside[0].contains("codeship-services.json:2:3") && inside[0].contains("JSON has no comments"),
        "{inside:?}"
    );
    write(
        dir.path(),
        "codeship-services.json",
        "{\n  \"app\": {\"image\": \"busybox\", \"environment\": {\"URL\": \"http://x\"}} // the app\n}\n",
    );
    let after = self::errors(&load(&options(dir.path())).unwrap_err());
    assert!(after[0].contains("codeship-services.json:2:67") && after[0].contains("JSON has no comments"), "{after:?}");
}

#[test]
fn validate_reports_every_problem_with_its_position() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "codeship-services.yml",
        r#"app:
  image: busybox
  build: .
  links: [ghost]
  cached: maybe
  unknwon_key: 1
nothing:
  environment: {A: 1}
a:
  image: busybox
  depends_on: [b]
b:
  image: busybox
  links: [a]
"#,
    );
    write(
        dir.path(),
        "codeship-steps.yml",
        r#"- name: one
  service: missing
  command: "true"
- name: one
  service: app
  command: "true"
- command: "echo no service"
- type: parallel
  service: app
  services: [a, b]
  steps:
    - command: "true"
- name: bad-tag
  service: app
  tag: "^(master"
  command: "true"
- type: push
  service: app
  image_name: nobody/nothing
- service: app
  command: 42
  exclude: [1, 2]
"#,
    );
    let diags = load(&options(dir.path())).unwrap_err();
    let errors = errors(&diags);
    let expect = [
        ("codeship-services.yml:2:10", "both `image` and `build`"),
        ("codeship-services.yml:4:11", "unknown service `ghost`"),
        ("codeship-services.yml:5:11", "`cached` of service `app` must be true or false"),
        ("codeship-services.yml:7:1", "neither `image` nor `build`"),
        ("codeship-services.yml:", "cycle"),
        ("codeship-steps.yml:2:12", "unknown service `missing`"),
        ("codeship-steps.yml:4:9", "duplicate step name `one`"),
        ("codeship-steps.yml:7:3", "names no service"),
        ("codeship-steps.yml:9:12", "both `service` and `services`"),
        ("codeship-steps.yml:15:8", "not a valid regular expression"),
        ("codeship-steps.yml:19:15", "matches no service image"),
        ("codeship-steps.yml:22:12", "`exclude` must be a string"),
    ];
    for (position, text) in expect {
        assert!(
            errors.iter().any(|e| e.starts_with(position) && e.contains(text)),
            "missing `{position}` … `{text}` in:\n{}",
            errors.join("\n")
        );
    }
    let warnings: Vec<String> = diags.warnings().map(|d| d.short()).collect();
    assert!(
        warnings.iter().any(|w| w.starts_with("codeship-services.yml:6:3") && w.contains("unknown key `unknwon_key`")),
        "{warnings:?}"
    );
    // Every diagnostic renders with a snippet of its file.
    let rendered = diags.iter().next().unwrap().render(false);
    assert!(rendered.contains("codeship-services.yml"), "{rendered}");
}

#[test]
fn malformed_yaml_points_at_the_line() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "codeship-services.yml", "app:\n  image: busybox\n   command: [oops\n");
    write(dir.path(), "codeship-steps.yml", "- service: app\n  command: 'true'\n");
    let diags = load(&options(dir.path())).unwrap_err();
    let errors = errors(&diags);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].starts_with("codeship-services.yml:3:"), "{errors:?}");
    assert!(errors[0].contains("invalid YAML"));
}

#[test]
fn a_wrong_value_is_reported_once_and_duplicate_keys_in_plain_words() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "codeship-services.yml", "db:\n  image: [postgres]\n");
    write(dir.path(), "codeship-steps.yml", "- name: group\n  type: serial\n  steps: not-a-list\n");
    let wrong = errors(&load(&options(dir.path())).unwrap_err());
    assert_eq!(wrong.len(), 2, "{wrong:?}");
    assert!(
        wrong[0].starts_with("codeship-services.yml:2:") && wrong[0].contains("`image` of service `db`"),
        "{wrong:?}"
    );
    assert!(wrong[1].starts_with("codeship-steps.yml:3:") && wrong[1].contains("must be a list of steps"), "{wrong:?}");

    write(dir.path(), "codeship-services.yml", "app:\n  image: busybox\n  environment: {A: 1, A: 2}\n");
    write(dir.path(), "codeship-steps.yml", "- { service: app, command: 'true' }\n");
    let duplicate = errors(&load(&options(dir.path())).unwrap_err());
    assert_eq!(duplicate.len(), 1, "{duplicate:?}");
    assert!(duplicate[0].starts_with("codeship-services.yml:3:"), "{duplicate:?}");
    assert!(
        duplicate[0].contains("the key `A` appears twice") && !duplicate[0].contains("DuplicateKeyPolicy"),
        "{duplicate:?}"
    );
}

#[test]
fn compose_file_interpolates_and_names_built_images() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "Dockerfile", "FROM busybox\n");
    write(
        dir.path(),
        "docker-compose.yml",
        "services:\n  web:\n    build: .\n    image: shop/web\n    environment:\n      MODE: ${MODE:-dev}\n      LIT: $$HOME\n    ports: ['80:80']\nvolumes:\n  data: {}\n",
    );
    write(dir.path(), "slipway-steps.yml", "- service: web\n  command: 'true'\n");
    let (project, warnings) = load(&options(dir.path())).unwrap_or_else(|d| panic!("{:?}", errors(&d)));
    let web = &project.services["web"];
    assert_eq!(project.image_of("web").unwrap(), "shop/web");
    assert_eq!(web.environment[0].1.as_deref(), Some("dev"));
    assert_eq!(web.environment[1].1.as_deref(), Some("$HOME"));
    let w: Vec<String> = warnings.iter().map(|d| d.short()).collect();
    assert!(w.iter().any(|w| w.contains("`ports`") && w.contains("docker-compose.yml:8:5")), "{w:?}");

    // The `.env` beside the compose file sets variables, under slipway's environment.
    write(dir.path(), ".env", "# compose's own\nMODE=from-dot-env\nTAG=1.2\nFROM_SHELL\n");
    write(
        dir.path(),
        "docker-compose.yml",
        "services:\n  web:\n    image: shop/web:${TAG}\n    environment:\n      MODE: ${MODE:-dev}\n      SHELL_WINS: ${FROM_SHELL}\n",
    );
    let mut with_shell = options(dir.path());
    with_shell.variables.insert("FROM_SHELL".into(), "shell".into());
    let (project, _) = load(&with_shell).unwrap_or_else(|d| panic!("{:?}", errors(&d)));
    let web = &project.services["web"];
    assert_eq!(project.image_of("web").unwrap(), "shop/web:1.2");
    assert_eq!(web.environment[0].1.as_deref(), Some("from-dot-env"));
    assert_eq!(web.environment[1].1.as_deref(), Some("shell"));
    with_shell.variables.insert("MODE".into(), "shell-mode".into());
    let (project, _) = load(&with_shell).unwrap_or_else(|d| panic!("{:?}", errors(&d)));
    assert_eq!(project.services["web"].environment[0].1.as_deref(), Some("shell-mode"), "the environment wins");

    // An external volume is named as not used.
    write(
        dir.path(),
        "docker-compose.yml",
        "services:\n  web:\n    image: busybox\n    volumes: ['ext:/data']\nvolumes:\n  ext:\n    external: true\n  own: {}\n",
    );
    let (_, warnings) = load(&with_shell).unwrap_or_else(|d| panic!("{:?}", errors(&d)));
    let w: Vec<String> = warnings.iter().map(|d| d.short()).collect();
    assert!(w.iter().any(|w| w.contains("docker-compose.yml:6:3") && w.contains("volume `ext` is external")), "{w:?}");
    assert!(!w.iter().any(|w| w.contains("`own`")), "{w:?}");

    // An override file and a second compose file are named as not read.
    write(dir.path(), "docker-compose.override.yml", "services: {}\n");
    write(dir.path(), "compose.yaml", "services: {}\n");
    let (_, warnings) = load(&with_shell).unwrap_or_else(|d| panic!("{:?}", errors(&d)));
    let w: Vec<String> = warnings.iter().map(|d| d.short()).collect();
    for unread in ["compose.yaml", "docker-compose.override.yml"] {
        assert!(
            w.iter().any(|w| w.contains(&format!("`{unread}` is not read: this run uses `docker-compose.yml`"))),
            "{w:?}"
        );
    }
    // Unless the file was chosen with --services-path.
    let chosen = LoadOptions { services_path: Some(dir.path().join("docker-compose.yml")), ..with_shell.clone() };
    let (_, warnings) = load(&chosen).unwrap_or_else(|d| panic!("{:?}", errors(&d)));
    assert!(
        !warnings.iter().any(|d| d.short().contains("is not read")),
        "{:?}",
        warnings.iter().map(|d| d.short()).collect::<Vec<_>>()
    );
}

#[test]
fn builds_need_their_context_and_dockerfile_and_each_different_build_gets_its_own_tag() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "Dockerfile", "FROM busybox\n");
    write(dir.path(), "Other.Dockerfile", "FROM busybox\n");
    write(
        dir.path(),
        "codeship-services.yml",
        "a:\n  build: { image: acme/x, context: ./nodir }\nb:\n  build: { image: acme/x, dockerfile: Nope }\nc:\n  build: { image: acme/y }\nd:\n  build: { image: 'acme/y:latest', context: ./ }\ne:\n  build: { image: acme/y, dockerfile: Other.Dockerfile }\n",
    );
    write(dir.path(), "codeship-steps.yml", "- { service: c, command: 'true' }\n");
    let diags = load(&options(dir.path())).expect_err("bad builds");
    let errors = errors(&diags);
    assert_eq!(errors.len(), 2, "{errors:?}");
    let expected = [
        ("codeship-services.yml:2:", "`./nodir` of service `a` is not a directory"),
        ("codeship-services.yml:4:", "no Dockerfile `Nope`"),
    ];
    for (error, (place, text)) in errors.iter().zip(expected) {
        assert!(error.starts_with(place) && error.contains(text), "{errors:?}");
    }

    // c and d build acme/y the same way (one build, one tag); e builds it from another
    // Dockerfile, so its build gets a tag of its own.
    write(dir.path(), "codeship-services.yml", "c:\n  build: { image: acme/y }\nd:\n  build: { image: 'acme/y:latest', context: ./ }\ne:\n  build: { image: acme/y, dockerfile: Other.Dockerfile }\n");
    let (project, _) = load(&options(dir.path())).expect("valid");
    let tags: Vec<String> = ["c", "d", "e"].iter().map(|s| project.build_tag_of(s).unwrap()).collect();
    assert_eq!(tags[0], "acme/y");
    assert_eq!(tags[1], "acme/y:latest");
    assert_eq!(tags[2], format!("{}_e", project.name));
    assert_eq!(project.image_of("e").unwrap(), "acme/y", "the name it gives stays its name for pushing");
}

#[test]
fn env_files_are_read_in_order_and_missing_ones_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "a.env", "A=1\nB=1\n");
    write(dir.path(), "b.env", "B=2\n");
    write(
        dir.path(),
        "codeship-services.yml",
        "app:\n  image: busybox\n  env_file: [a.env, b.env]\nother:\n  image: busybox\n  env_file: nope.env\n",
    );
    write(dir.path(), "codeship-steps.yml", "- service: app\n  command: 'true'\n");
    let diags = load(&options(dir.path())).unwrap_err();
    assert!(
        errors(&diags).iter().any(|e| e.starts_with("codeship-services.yml:6:13") && e.contains("nope.env")),
        "{:?}",
        errors(&diags)
    );
    write(dir.path(), "codeship-services.yml", "app:\n  image: busybox\n  env_file: [a.env, b.env]\n");
    let (project, _) = load(&options(dir.path())).unwrap();
    let values: Vec<_> = project.env_files["app"].iter().map(|(k, v)| (k.value.clone(), v.clone().unwrap())).collect();
    assert_eq!(values, [("A".into(), "1".into()), ("B".into(), "1".into()), ("B".into(), "2".into())]);

    // compose's long form: a file that is not required may be missing.
    write(
        dir.path(),
        "codeship-services.yml",
        "app:\n  image: busybox\n  env_file:\n    - a.env\n    - {path: optional.env, required: false}\n    - path: b.env\n",
    );
    let (project, _) = load(&options(dir.path())).unwrap_or_else(|d| panic!("{:?}", errors(&d)));
    assert_eq!(project.env_files["app"].len(), 3);
    write(dir.path(), "codeship-services.yml", "app:\n  image: busybox\n  env_file:\n    - {path: missing.env}\n");
    let diags = load(&options(dir.path())).unwrap_err();
    assert!(
        errors(&diags).iter().any(|e| e.contains("missing.env") && e.contains("does not exist")),
        "{:?}",
        errors(&diags)
    );
}

#[test]
fn missing_encrypted_files_are_named_and_encrypted_environment_may_be_a_list() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "Dockerfile", "FROM busybox\n");
    write(
        dir.path(),
        "codeship-services.yml",
        r#"
app:
  build:
    dockerfile_path: Dockerfile
    encrypted_args_file: ci/build_args.encrypted
  encrypted_dockercfg_path: pull.encrypted
  encrypted_environment:
    - c2VjcmV0
    - b3RoZXI=
"#,
    );
    write(
        dir.path(),
        "codeship-steps.yml",
        "- service: app\n  command: 'true'\n- type: push\n  service: app\n  image_name: app\n  encrypted_dockercfg_path: push.encrypted\n",
    );
    let diags = load(&options(dir.path())).unwrap_err();
    let found = errors(&diags);
    assert!(
        found.iter().any(|e| e.starts_with("codeship-services.yml:5:26")
            && e.contains("encrypted_args_file `ci/build_args.encrypted` of service `app` does not exist")),
        "{found:?}"
    );
    let warnings: Vec<String> = diags.warnings().map(|d| d.short()).collect();
    for (file, position) in
        [("pull.encrypted", "codeship-services.yml:6:29"), ("push.encrypted", "codeship-steps.yml:6:29")]
    {
        assert!(warnings.iter().any(|w| w.starts_with(position) && w.contains(file)), "{warnings:?}");
    }
    std::fs::create_dir(dir.path().join("ci")).unwrap();
    write(dir.path(), "ci/build_args.encrypted", "x");
    write(dir.path(), "pull.encrypted", "x");
    write(dir.path(), "push.encrypted", "x");
    let (project, warnings) = load(&options(dir.path())).unwrap_or_else(|d| panic!("{:?}", errors(&d)));
    assert_eq!(warnings.warnings().count(), 0, "{:?}", warnings.warnings().map(|d| d.short()).collect::<Vec<_>>());
    let values: Vec<&str> = project.services["app"].encrypted_environment.iter().map(|v| v.value.as_str()).collect();
    assert_eq!(values, ["c2VjcmV0", "b3RoZXI="]);
}

#[test]
fn capabilities_must_be_capability_names() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "codeship-services.yml",
        "app:\n  image: busybox\n  cap_add: [SYS_ADMIN, 'NET ADMIN']\n  cap_drop: ALL\n",
    );
    write(dir.path(), "codeship-steps.yml", "- service: app\n  command: 'true'\n");
    let diags = load(&options(dir.path())).unwrap_err();
    let found = errors(&diags);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].starts_with("codeship-services.yml:3:24") && found[0].contains("`NET ADMIN` is not a capability name"),
        "{found:?}"
    );
    write(dir.path(), "codeship-services.yml", "app:\n  image: busybox\n  cap_add: [SYS_ADMN, 'CAP_', 5]\n");
    let found = errors(&load(&options(dir.path())).unwrap_err());
    assert_eq!(found.len(), 3, "names the engine refuses: {found:?}");
    assert!(load(&options(dir.path()))
        .unwrap_err()
        .iter()
        .any(|d| d.help.as_deref() == Some("did you mean `SYS_ADMIN`?")));
    write(
        dir.path(),
        "codeship-services.yml",
        "app:\n  image: busybox\n  cap_add: [SYS_ADMIN, cap_net_admin]\n  cap_drop: ALL\n",
    );
    let (project, _) = load(&options(dir.path())).unwrap_or_else(|d| panic!("{:?}", errors(&d)));
    assert_eq!(project.services["app"].cap_drop[0].value, "ALL");
}

#[test]
fn missing_steps_file_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "codeship-services.yml", "app:\n  image: busybox\n");
    let diags = load(&options(dir.path())).unwrap_err();
    assert!(errors(&diags)[0].contains("no steps file"));
    let run_only = LoadOptions { with_steps: false, ..options(dir.path()) };
    assert!(load(&run_only).is_ok());
}

#[test]
fn rendered_problems_show_file_line_column_and_the_source() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "codeship-services.yml", "app:\n  image: busybox\n  links: [ghost]\n");
    write(dir.path(), "codeship-steps.yml", "- service: app\n  command: 'true'\n  tag: '^(x'\n");
    let rendered: Vec<String> = load(&options(dir.path())).unwrap_err().iter().map(|d| d.render(false)).collect();
    let link = rendered.iter().find(|r| r.contains("ghost")).unwrap_or_else(|| panic!("{rendered:#?}"));
    assert!(link.contains("codeship-services.yml:3:"), "{link}");
    assert!(link.contains("links: [ghost]"), "the source line is shown: {link}");
    let tag = rendered.iter().find(|r| r.contains("^(x")).unwrap_or_else(|| panic!("{rendered:#?}"));
    assert!(tag.contains("codeship-steps.yml:3:"), "{tag}");
    assert!(tag.contains("tag: '^(x'"), "the source line is shown: {tag}");
}

#[test]
fn forms_found_in_real_jet_pipelines_are_accepted() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "Dockerfile", "FROM busybox\n");
    write(
        dir.path(),
        "jet-services.yml",
        r#"
mysql/base: &base
  image: busybox
test/php-7.2:
  <<: *base
app:
  build: .
  encrypted_environment: c2VjcmV0
  cpu_quota: 50000
ecr-app:
  build:
    image: damianmac/demoweb
    dockerfile_path: Dockerfile
"#,
    );
    write(
        dir.path(),
        "jet-steps.yml",
        r#"
- name: Registry
  service: app
  encrypted_dockercfg_path: dockercfg.encrypted
  type: serial
  steps:
    - name: deployment
      type: push
      image_name: registry.example.com/acme/app
    - name: ecr
      type: push
      service: ecr-app
      image_name: 637448200351.dkr.ecr.us-east-1.amazonaws.com/damianmac/demoweb
- name: staging
  tag: staging
  type: serial
  steps:
    - name: deployment
      service: test/php-7.2
      command: "true"
      on_fail:
        - command: echo failed
          service: app
"#,
    );
    write(dir.path(), "dockercfg.encrypted", "x");
    let (project, warnings) = load(&options(dir.path())).unwrap_or_else(|d| panic!("{:?}", errors(&d)));
    assert!(project.services.contains_key("test/php-7.2"));
    assert_eq!(project.services["app"].encrypted_environment.len(), 1);
    let warnings: Vec<String> = warnings.iter().map(|d| d.short()).collect();
    // A name repeated in groups that run on different branches is only a warning.
    assert!(warnings.iter().any(|w| w.contains("step name `deployment` is used more than once")), "{warnings:?}");
    assert!(warnings.iter().any(|w| w.contains("`cpu_quota`") && w.contains("ignored")), "{warnings:?}");
    assert!(!warnings.iter().any(|w| w.contains("encrypted_dockercfg_path")), "{warnings:?}");
    let steps = project.steps.unwrap();
    assert_eq!(steps[0].registry_auth.encrypted_dockercfg_path.as_ref().unwrap().value, "dockercfg.encrypted");
}

#[test]
fn repeated_names_among_siblings_and_unmatched_push_names_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "codeship-services.yml", "app:\n  build:\n    image: acme/app\n");
    write(
        dir.path(),
        "codeship-steps.yml",
        "- type: parallel\n  steps:\n    - { name: twin, service: app, command: 'true' }\n    - { name: twin, service: app, command: 'true' }\n- { type: push, service: app, image_name: acme/other }\n",
    );
    let errors = errors(&load(&options(dir.path())).unwrap_err());
    assert!(
        errors.iter().any(|e| e.starts_with("codeship-steps.yml:4:15") && e.contains("in the same group")),
        "{errors:?}"
    );
    assert!(errors.iter().any(|e| e.contains("`acme/other` matches no service image")), "{errors:?}");

    // A pulled image: the hint names it, not a `build: image:` it does not have.
    write(dir.path(), "codeship-services.yml", "app:\n  image: busybox\n");
    write(dir.path(), "codeship-steps.yml", "- { type: push, service: app, image_name: acme/other }\n");
    let rendered: Vec<String> = load(&options(dir.path())).unwrap_err().iter().map(|d| d.render(false)).collect();
    assert!(
        rendered.iter().any(|e| e.contains("set `image_name` to the service's image (busybox), or push a service with a `build:`")),
        "{rendered:?}"
    );
}

#[test]
fn a_problem_on_a_huge_line_renders_short_and_does_not_panic() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "codeship-services.yml", "app:\n  image: busybox\n");
    let steps = format!("- {{name: t, command: echo,{}service: nope}}\n", " ".repeat(70_000));
    write(dir.path(), "codeship-steps.yml", &steps);
    let diags = load(&options(dir.path())).unwrap_err();
    let rendered: Vec<String> = diags.iter().map(|d| d.render(false)).collect();
    assert_eq!(rendered.len(), 1, "{rendered:?}");
    assert!(rendered[0].starts_with("codeship-steps.yml:1:") && rendered[0].contains("unknown service `nope`"));
    assert!(rendered[0].len() < 2_000, "{} bytes", rendered[0].len());
}

#[test]
fn files_that_are_no_pipeline_files_say_what_they_are() {
    let case = |services: &[u8]| -> String {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("docker-compose.yml"), services).unwrap();
        write(dir.path(), "codeship-steps.yml", "- { service: app, command: 'true' }\n");
        let diags = load(&options(dir.path())).expect_err("refused");
        diags.iter().map(|d| d.short()).collect::<Vec<_>>().join("\n")
    };
    let text = case(b"services:\n  app:\n    image: busy\xffbox\n");
    assert!(text.contains("not UTF-8 text: the byte at line 3, column 16"), "{text}");
    assert!(case(b"\xff\xfes\x00e\x00").contains("is UTF-16 text"));
    let big = format!("services:\n  app:\n    image: busybox\n#{}\n", "x".repeat(11 * 1024 * 1024));
    let text = case(big.as_bytes());
    assert!(text.contains("is 11.0 MB; a pipeline file may be at most 10 MB"), "{text}");
    let deep = format!("services:\n  app:\n    image: {}{}\n", "[".repeat(1000), "]".repeat(1000));
    let text = case(deep.as_bytes());
    assert!(text.contains("too deeply nested") || text.contains("nests too deeply"), "{text}");
    assert!(!text.contains("budget breached: ") || text.contains("for a pipeline file"), "{text}");
    let text = case(b"services:\n  app:\n    image: busybox\n---\nother: 1\n");
    assert!(text.contains("more than one YAML document"), "{text}");
    let text = case(b"services:\n");
    assert!(
        text.contains("docker-compose.yml:1:") && text.contains("`services` must be a mapping of services"),
        "{text}"
    );
}

#[test]
fn parallelism_and_env_file_problems_say_exactly_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("envdir")).unwrap();
    write(dir.path(), "codeship-services.yml", "app:\n  image: busybox\n  env_file: envdir\n");
    let step = |n: &str| format!("- {{ name: s{n}, service: app, parallelism: {n}, command: 'true' }}\n");
    write(dir.path(), "codeship-steps.yml", &["0", "-1", "1.5", "65"].map(step).concat());
    let errors = errors(&load(&options(dir.path())).unwrap_err());
    assert_eq!(errors.len(), 5, "{errors:?}");
    assert!(errors[0].contains("env_file `envdir` of service `app` is a directory, not a file"), "{errors:?}");
    for (error, found) in errors[1..].iter().zip(["`0`", "`-1`", "`1.5`", "`65`"]) {
        assert!(error.contains(&format!("must be a whole number from 1 to 64, found {found}")), "{errors:?}");
    }
}

#[test]
fn retry_is_a_small_whole_number() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "codeship-services.yml", "app:\n  image: busybox\n");
    let step = |n: &str| format!("- {{ name: s{n}, service: app, retry: {n}, command: 'true' }}\n");
    write(dir.path(), "codeship-steps.yml", &["10", "-1", "99999999999", "x"].map(step).concat());
    let errors = errors(&load(&options(dir.path())).unwrap_err());
    assert_eq!(errors.len(), 3, "retry: 10 is fine: {errors:?}");
    for (error, found) in errors.iter().zip(["`-1`", "`99999999999`", "`x`"]) {
        assert!(error.contains(&format!("must be a whole number from 0 to 10, found {found}")), "{errors:?}");
    }
}

#[test]
fn reports_are_globs_not_bare_numbers() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "codeship-services.yml", "app:\n  image: busybox\n");
    let step =
        |n: usize, reports: &str| format!("- {{ name: s{n}, service: app, reports: {reports}, command: 'true' }}\n");
    let steps = [step(1, "5"), step(2, "[\"r/*.xml\", true]"), step(3, "\"5\""), step(4, "[r/*.xml]")].concat();
    write(dir.path(), "codeship-steps.yml", &steps);
    let errors = errors(&load(&options(dir.path())).unwrap_err());
    assert_eq!(errors.len(), 2, "a quoted \"5\" and a list of globs are fine: {errors:?}");
    assert!(errors[0].contains("codeship-steps.yml:1:") && errors[0].contains("found a number"), "{errors:?}");
    assert!(errors[1].contains("codeship-steps.yml:2:") && errors[1].contains("found a boolean"), "{errors:?}");
}

#[test]
fn a_step_name_with_a_control_character_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "codeship-services.yml", "app:\n  image: busybox\n");
    write(dir.path(), "codeship-steps.yml", "- name: \"red \\e[31mtext\"\n  service: app\n  command: 'true'\n");
    let errors = errors(&load(&options(dir.path())).unwrap_err());
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].contains("codeship-steps.yml:1:9") && errors[0].contains("control character (U+001B)"),
        "{errors:?}"
    );
    assert!(!errors[0].contains('\u{1b}'), "the message must not carry the escape itself: {errors:?}");

    // Two names that would look alike.
    write(dir.path(), "codeship-steps.yml", "- name: \"a\\u200B\"\n  service: app\n  command: 'true'\n");
    let alike = self::errors(&load(&options(dir.path())).unwrap_err());
    assert!(alike.iter().any(|e| e.contains("invisible formatting character (U+200B)")), "{alike:?}");
}

#[test]
fn an_image_name_the_engine_would_refuse_is_an_error_at_its_position() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "codeship-services.yml", "app:\n  image: 'BusyBox:::latest@@'\n");
    write(dir.path(), "codeship-steps.yml", "- { service: app, command: 'true' }\n");
    let errors = errors(&load(&options(dir.path())).unwrap_err());
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].starts_with("codeship-services.yml:2:") && errors[0].contains("is not a valid image name"),
        "{errors:?}"
    );
}

#[test]
fn a_build_named_as_the_engine_would_refuse_is_built_under_a_name_of_its_own() {
    // Jet used a build's name only to push (a public Jet project names its build
    // `FakeDns`): the build runs, under `<project>_<service>`, with a warning.
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "Dockerfile", "FROM busybox\n");
    write(dir.path(), "codeship-services.yml", "app:\n  build:\n    image: FakeDns\nMyWorker:\n  build: .\n");
    write(dir.path(), "codeship-steps.yml", "- { service: app, command: 'true' }\n");
    let (project, diags) = load(&options(dir.path())).expect("a warning, not an error");
    let warnings: Vec<String> = diags.warnings().map(|d| d.short()).collect();
    assert!(
        warnings.iter().any(|w| w.starts_with("codeship-services.yml:3:")
            && w.contains("`FakeDns` is not a valid image name: the build is tagged")),
        "{warnings:?}"
    );
    assert_eq!(project.build_tag_of("app").unwrap(), format!("{}_app", project.name));
    assert_eq!(project.build_tag_of("MyWorker").unwrap(), format!("{}_myworker", project.name), "lower case");
}

#[test]
fn a_services_file_without_services_and_an_empty_manual_step_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "docker-compose.yml", "version: '3'\n");
    write(dir.path(), "codeship-steps.yml", "- { service: app, command: 'true' }\n");
    let empty = errors(&load(&options(dir.path())).unwrap_err());
    assert_eq!(empty.len(), 1, "{empty:?}");
    assert!(empty[0].contains("defines no services"), "{empty:?}");

    std::fs::remove_file(dir.path().join("docker-compose.yml")).unwrap();
    write(dir.path(), "codeship-services.yml", "app:\n  image: busybox\n");
    write(dir.path(), "codeship-steps.yml", "- name: gate\n  type: manual\n");
    let errors = errors(&load(&options(dir.path())).unwrap_err());
    assert!(errors.len() == 1 && errors[0].contains("is a manual step with no steps"), "{errors:?}");
}

#[test]
fn a_misspelt_service_name_suggests_the_near_one() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "codeship-services.yml",
        "app:\n  image: busybox\n  links: [datbase]\ndatabase:\n  image: redis:7\n",
    );
    write(dir.path(), "codeship-steps.yml", "- service: web\n  command: 'true'\n");
    let diags = load(&options(dir.path())).unwrap_err();
    let rendered: Vec<String> = diags.errors().map(|d| d.render(false)).collect();
    assert_eq!(rendered.len(), 2, "{rendered:?}");
    assert!(rendered[0].contains("did you mean `database`?"), "{}", rendered[0]);
    assert!(!rendered[1].contains("did you mean"), "`web` is near no service: {}", rendered[1]);
    assert!(rendered[1].contains("services in codeship-services.yml: app, database"), "{}", rendered[1]);
}

#[test]
fn a_step_or_service_written_in_the_other_files_shape_says_how_to_write_it() {
    let rendered = |services: &str, steps: &str| -> String {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "codeship-services.yml", services);
        write(dir.path(), "codeship-steps.yml", steps);
        let diags = load(&options(dir.path())).expect_err("refused");
        diags.iter().map(|d| d.render(false)).collect::<Vec<_>>().join("\n")
    };
    // Both shapes were found in real pipelines.
    let text = rendered("app:\n  image: busybox\n", "name: test\nservice: app\ncommand: 'true'\n");
    assert!(text.contains("codeship-steps.yml:1:1") && text.contains("found a mapping"), "{text}");
    assert!(text.contains("start each step with `- `"), "{text}");
    let text = rendered("- name: app\n  image: busybox\n", "- { service: app, command: 'true' }\n");
    assert!(text.contains("found a list") && text.contains("`app:` rather than `- name: app`"), "{text}");
}

#[test]
fn values_the_engine_would_refuse_are_errors_at_their_line() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "codeship-services.yml",
        "app:\n  image: busybox\n  environment: [\"=x\", \"A=1\"]\n  extra_hosts: [\"nohostip\", \"a:1.2.3.4\"]\n  working_dir: relative/dir\n",
    );
    write(dir.path(), "codeship-steps.yml", "- { service: app, command: 'true' }\n");
    let errors = errors(&load(&options(dir.path())).unwrap_err());
    assert_eq!(errors.len(), 3, "{errors:?}");
    assert!(
        errors[0].contains("codeship-services.yml:3:17") && errors[0].contains("has no variable name"),
        "{errors:?}"
    );
    assert!(errors[1].contains("codeship-services.yml:4:17") && errors[1].contains("needs a host and an address"));
    assert!(errors[2].contains("codeship-services.yml:5:16") && errors[2].contains("must be an absolute path"));
}

#[test]
fn one_alias_for_two_links_is_an_error_and_a_push_step_without_image_name_says_so() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "codeship-services.yml",
        "a: {image: busybox}\nb: {image: busybox}\nc:\n  image: busybox\n  links: [\"a:bee\", \"a:bee\", \"b:bee\"]\n",
    );
    write(
        dir.path(),
        "codeship-steps.yml",
        "- { service: c, command: 'true' }\n- { name: ship, type: push, service: c }\n",
    );
    let errors = errors(&load(&options(dir.path())).unwrap_err());
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(
        errors[0].contains("codeship-services.yml:5:")
            && errors[0].contains("service `c` links both `a` and `b` as `bee`"),
        "{errors:?}"
    );
    assert!(errors[1].contains("step `ship` pushes an image but has no `image_name`"), "{errors:?}");
}

#[test]
fn keys_of_a_depends_on_entry_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "codeship-services.yml",
        "app:\n  image: busybox\n  depends_on:\n    db: {conditon: service_healthy}\n    cache:\ndb:\n  image: busybox\ncache:\n  image: busybox\n",
    );
    write(dir.path(), "codeship-steps.yml", "- { service: app, command: 'true' }\n");
    let (_, diags) = load(&options(dir.path())).unwrap();
    let warnings: Vec<String> = diags.iter().map(|d| d.render(false)).collect();
    assert!(
        warnings.iter().any(|w| w.contains("unknown key `conditon` in `db` in `depends_on`")
            && w.contains("did you mean `condition`")
            && w.contains("has no `condition` and this value is not used")),
        "{warnings:?}"
    );
}

#[test]
fn a_tag_written_as_a_pattern_without_anchors_is_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "codeship-services.yml", "app:\n  image: busybox\n");
    write(
        dir.path(),
        "codeship-steps.yml",
        "- { service: app, tag: release/.*, command: 'true' }\n- { service: app, tag: v1.2, exclude: '^wip', command: 'true' }\n",
    );
    let (_, diags) = load(&options(dir.path())).unwrap();
    let warnings: Vec<String> = diags.iter().map(|d| d.render(false)).collect();
    assert_eq!(warnings.len(), 1, "a dot alone is a valid branch name: {warnings:?}");
    assert!(
        warnings[0].contains("`tag` `release/.*` is matched as plain text") && warnings[0].contains("`^release/.*$`")
    );
}

#[test]
fn compose_extends_within_the_file_starts_from_the_base_service() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "docker-compose.yml",
        "services:
  base:
    image: busybox
    working_dir: /app
    environment: {A: base, B: base}
    depends_on: [db]
  web:
    extends: base
    environment: {B: web}
    command: echo web
  worker:
    extends: {service: web}
    user: nobody
  far:
    extends: {file: common/other.yml, service: x}
    environment: {C: far}
  db:
    image: busybox
",
    );
    // Another file's service, with paths relative to that file's folder, extending
    // one of its own.
    std::fs::create_dir(dir.path().join("common")).unwrap();
    std::fs::create_dir(dir.path().join("app")).unwrap();
    write(&dir.path().join("app"), "Dockerfile", "FROM busybox\n");
    write(
        &dir.path().join("common"),
        "other.yml",
        "services:
  x:
    extends: y
    build: ../app
    env_file: [ci.env]
    volumes: ['./data:/data:ro', 'cache:/cache', '/abs:/abs']
    environment: {C: x, D: x}
  y:
    image: busybox
    user: nobody
",
    );
    write(&dir.path().join("common"), "ci.env", "E=from-common\n");
    write(dir.path(), "slipway-steps.yml", "- { service: worker }\n- { service: far }\n");
    let (project, warnings) = load(&options(dir.path())).unwrap_or_else(|d| panic!("{:?}", errors(&d)));
    let env = |name: &str| -> Vec<(String, String)> {
        project.services[name]
            .environment
            .iter()
            .map(|(k, v)| (k.value.clone(), v.clone().unwrap_or_default()))
            .collect()
    };
    assert_eq!(env("web"), [("A".into(), "base".into()), ("B".into(), "web".into())]);
    assert_eq!(env("worker"), env("web"), "extends chains");
    let worker = &project.services["worker"];
    assert_eq!(worker.working_dir.as_ref().map(|w| w.value.as_str()), Some("/app"));
    assert_eq!(worker.command.as_ref().map(|c| c.text.as_str()), Some("echo web"));
    assert!(worker.depends_on.is_empty(), "depends_on is not inherited, as in compose");
    let w: Vec<String> = warnings.iter().map(|d| d.short()).collect();
    assert!(!w.iter().any(|w| w.contains("`extends` in")), "no 'ignored key' warning: {w:?}");

    let far = &project.services["far"];
    let root = project.dir.display().to_string();
    assert_eq!(far.build.as_ref().map(|b| b.context.value.clone()), Some(format!("{root}/app")));
    assert_eq!(far.user.as_ref().map(|u| u.value.as_str()), Some("nobody"), "extends chains in the other file");
    assert_eq!(env("far"), [("C".into(), "far".into()), ("D".into(), "x".into())]);
    assert_eq!(
        project.env_files["far"].iter().map(|(k, v)| (k.value.as_str(), v.as_deref())).collect::<Vec<_>>(),
        [("E", Some("from-common"))]
    );
    let volumes: Vec<String> = far.volumes.iter().map(|v| format!("{:?}", v.value)).collect();
    assert_eq!(
        volumes,
        [
            format!("Bind {{ source: \"{root}/common/data\", target: \"/data\", read_only: true }}"),
            "Named { name: \"cache\", target: \"/cache\", read_only: false }".to_string(),
            "Bind { source: \"/abs\", target: \"/abs\", read_only: false }".to_string(),
        ]
    );

    write(dir.path(), "docker-compose.yml", "services:\n  a:\n    extends: {file: nowhere.yml, service: x}\n  b:\n    extends: {file: common/other.yml, service: z}\n");
    let e = errors(&load(&options(dir.path())).unwrap_err());
    assert!(e.iter().any(|e| e.contains("cannot read `nowhere.yml` named by `extends`: no such file")), "{e:?}");
    assert!(e.iter().any(|e| e.contains("`extends` names unknown service `z` in")), "{e:?}");

    write(dir.path(), "docker-compose.yml", "services:\n  a:\n    extends: b\n  b:\n    extends: a\n");
    let e = errors(&load(&options(dir.path())).unwrap_err());
    assert!(e.iter().any(|e| e.contains("goes round in a circle")), "{e:?}");

    // A circle through two files.
    write(dir.path(), "docker-compose.yml", "services:\n  y:\n    extends: {file: common/x.yml, service: x}\n");
    write(
        &dir.path().join("common"),
        "x.yml",
        "services:\n  x:\n    extends: {file: ../docker-compose.yml, service: y}\n",
    );
    let e = errors(&load(&options(dir.path())).unwrap_err());
    assert!(e.iter().any(|e| e.contains("goes round in a circle")), "{e:?}");
    assert!(e.iter().all(|e| e.len() < 400), "{e:?}");
}

#[test]
fn shm_size_and_tmpfs_are_read_and_checked() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "codeship-services.yml",
        "app:\n  image: busybox\n  shm_size: 2gb\n  tmpfs: [/scratch, '/run:size=1m']\nsmall:\n  image: busybox\n  shm_size: 67108864\n  tmpfs: /tmp\n",
    );
    write(dir.path(), "codeship-steps.yml", "- { service: app, command: 'true' }\n");
    let (project, warnings) = load(&options(dir.path())).unwrap_or_else(|d| panic!("{:?}", errors(&d)));
    assert!(warnings.is_empty(), "{:?}", warnings.iter().map(|d| d.short()).collect::<Vec<_>>());
    let app = &project.services["app"];
    assert_eq!(app.shm_size, Some(2 << 30));
    assert_eq!(app.tmpfs.iter().map(|t| t.value.as_str()).collect::<Vec<_>>(), ["/scratch", "/run:size=1m"]);
    assert_eq!(project.services["small"].shm_size, Some(64 << 20));
    write(dir.path(), "codeship-services.yml", "app:\n  image: busybox\n  shm_size: lots\n  tmpfs: scratch\n");
    let e = errors(&load(&options(dir.path())).unwrap_err());
    assert!(e.iter().any(|e| e.contains("codeship-services.yml:3:13") && e.contains("is not a size")), "{e:?}");
    assert!(e.iter().any(|e| e.contains("codeship-services.yml:4:10") && e.contains("absolute path")), "{e:?}");
}

#[test]
fn a_misspelt_template_field_is_reported_with_the_other_problems() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "Dockerfile", "FROM busybox\n");
    write(
        dir.path(),
        "codeship-services.yml",
        "app:\n  build:\n    image: acme/app\n    args: { TAG: \"{{ .Brnch }}\" }\n",
    );
    write(
        dir.path(),
        "codeship-steps.yml",
        "- { type: push, service: app, image_name: acme/other, image_tag: \"{{ .CommitID | printf \\\"%.7s\\\" }}-{{ .Tme.Unix }}\" }\n",
    );
    let errors = errors(&load(&options(dir.path())).unwrap_err());
    assert!(errors.iter().any(|e| e.contains("`acme/other` matches no service image")), "{errors:?}");
    assert!(
        errors
            .iter()
            .any(|e| e.starts_with("codeship-steps.yml:1:") && e.contains("`.Tme` is not a known template field")),
        "{errors:?}"
    );
    assert!(!errors.iter().any(|e| e.contains("`.CommitID`")), "{errors:?}");
    assert!(
        errors.iter().any(|e| e.starts_with("codeship-services.yml:4:")
            && e.contains("build arg `TAG`")
            && e.contains("`.Brnch`")),
        "{errors:?}"
    );
}

#[test]
fn extends_in_a_jet_services_file_says_only_compose_files_have_it() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "codeship-services.yml", "base:\n  image: busybox\napp:\n  image: busybox\n  extends: base\n");
    write(dir.path(), "codeship-steps.yml", "- { service: app, command: 'true' }\n");
    let (_, warnings) = load(&options(dir.path())).unwrap_or_else(|d| panic!("{:?}", errors(&d)));
    let w: Vec<String> = warnings.iter().map(|d| d.short()).collect();
    assert!(
        w.iter().any(|w| w.starts_with("codeship-services.yml:5:") && w.contains("only compose files have it")),
        "{w:?}"
    );
    assert!(!w.iter().any(|w| w.contains("throw-away")), "{w:?}");
}

#[test]
fn what_the_engine_would_refuse_at_start_is_reported_where_it_is_written() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "codeship-services.yml",
        "app:\n  image: busybox\n  environment:\n    \"\": empty\n    \"A=B\": c\n    NUL: \"a\\0b\"\n    FINE: ok\n  extra_hosts: [\"host:notanip\", \"db:10.0.0.5\", \"gw:host-gateway\", \"six:::1\"]\n  tmpfs: [\"/t:size=abc\", \"/u:size=64m\"]\n",
    );
    write(dir.path(), "codeship-steps.yml", "- { service: app, command: 'true' }\n");
    let errors = errors(&load(&options(dir.path())).unwrap_err());
    let at = |line: usize, text: &str| {
        errors.iter().any(|e| e.starts_with(&format!("codeship-services.yml:{line}:")) && e.contains(text))
    };
    assert!(at(4, "has an entry with no name"), "{errors:?}");
    assert!(at(5, "the name `A=B` holds `=`"), "{errors:?}");
    assert!(at(6, "holds a NUL character"), "{errors:?}");
    assert!(at(8, "`notanip` is not an IP address"), "{errors:?}");
    assert!(at(9, "`size=abc` is not a size"), "{errors:?}");
    assert_eq!(errors.len(), 5, "{errors:?}");
}

#[test]
fn services_whose_container_names_would_clash_are_an_error() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "codeship-services.yml",
        "test/php:\n  image: busybox\ntest_php:\n  image: busybox\n  links: [test/php]\n",
    );
    write(dir.path(), "codeship-steps.yml", "- { service: test_php, command: 'true' }\n");
    let errors = errors(&load(&options(dir.path())).unwrap_err());
    assert!(
        errors.iter().any(|e| e.starts_with("codeship-services.yml:3:1")
            && e.contains("services `test/php` and `test_php` would get the same container name")),
        "{errors:?}"
    );
}

#[test]
fn another_form_of_a_key_and_a_huge_number_get_useful_hints() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "codeship-services.yml", "app:\n  image: busybox\n");
    write(dir.path(), "codeship-steps.yml", "- { service: app, command: 'true', retries: 2 }\n");
    let (_, warnings) = load(&options(dir.path())).unwrap_or_else(|d| panic!("{:?}", errors(&d)));
    let rendered: Vec<String> = warnings.iter().map(|d| d.render(false)).collect();
    assert!(rendered.iter().any(|w| w.contains("did you mean `retry`?")), "{rendered:?}");

    write(dir.path(), "codeship-services.yml", "app:\n  image: busybox\n  environment: {A: 1e999}\n");
    let rendered: Vec<String> = load(&options(dir.path())).unwrap_err().iter().map(|d| d.render(false)).collect();
    assert!(
        rendered
            .iter()
            .any(|e| e.contains("`1e999` is a number too large") && e.contains("quote it to keep it as text")),
        "{rendered:?}"
    );
}

#[test]
fn a_service_named_twice_in_services_and_a_link_alias_that_is_no_host_name_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "codeship-services.yml",
        "app:\n  image: busybox\n  links: [\"db:\", \"db:bad alias\", \"db:ok-alias\"]\ndb:\n  image: busybox\n",
    );
    write(dir.path(), "codeship-steps.yml", "- { name: m, services: [app, app], command: 'true' }\n");
    let diags = load(&options(dir.path())).unwrap_err();
    let all: Vec<String> = diags.iter().map(|d| d.short()).collect();
    assert!(all.iter().any(|e| e.contains("`` is no host name")), "{all:?}");
    assert!(all.iter().any(|e| e.contains("`bad alias` is no host name")), "{all:?}");
    assert!(!all.iter().any(|e| e.contains("ok-alias")), "{all:?}");
    assert!(all.iter().any(|e| e.starts_with("codeship-steps.yml:1:") && e.contains("names `app` twice")), "{all:?}");
}

#[test]
fn a_link_to_a_service_whose_name_is_no_host_name_wants_an_alias() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "codeship-services.yml",
        "test/php-7.2:\n  image: busybox\nok-db:\n  image: busybox\napp:\n  image: busybox\n  links: [test/php-7.2, ok-db, \"test/php-7.2:php\"]\n",
    );
    write(dir.path(), "codeship-steps.yml", "- { service: app, command: 'true' }\n");
    let (_, warnings) = load(&options(dir.path())).unwrap_or_else(|d| panic!("{:?}", errors(&d)));
    let rendered: Vec<String> = warnings.iter().map(|d| d.render(false)).collect();
    assert_eq!(rendered.iter().filter(|w| w.contains("cannot reach")).count(), 1, "{rendered:?}");
    assert!(
        rendered.iter().any(|w| w.contains("cannot reach `test/php-7.2`") && w.contains("`test/php-7.2:test-php-7-2`")),
        "{rendered:?}"
    );
}

#[test]
fn an_ignored_key_is_warned_of_once_with_every_service_that_sets_it_and_why() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "docker-compose.yml",
        r#"
services:
  vote:
    image: busybox
    ports: ["5000:80"]
    networks: [front]
  result:
    image: busybox
    networks: [front, back]
  worker:
    image: busybox
    networks: [back]
    privileged: true
networks:
  front:
  back:
"#,
    );
    write(dir.path(), "codeship-steps.yml", "- { service: vote, command: 'true' }\n");
    let (_, warnings) = load(&options(dir.path())).unwrap_or_else(|d| panic!("{:?}", errors(&d)));
    let rendered: Vec<String> = warnings.iter().map(|d| d.short()).collect();
    assert_eq!(rendered.len(), 3, "one per key: {rendered:#?}");
    assert!(
        rendered.iter().any(|w| w.starts_with("docker-compose.yml:6:5")
            && w.contains(
                "`networks` in services `vote`, `result`, `worker` is ignored: every step gets a network of its own"
            )),
        "{rendered:#?}"
    );
    assert!(
        rendered.iter().any(|w| w.contains("`ports` in service `vote`") && w.contains("never publish ports")),
        "{rendered:#?}"
    );
    assert!(rendered.iter().any(|w| w.contains("`privileged`") && w.contains("may fail")), "{rendered:#?}");
}

#[test]
fn a_service_or_push_key_written_under_build_says_where_it_belongs() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "Dockerfile", "FROM busybox\n");
    write(
        dir.path(),
        "codeship-services.yml",
        "app:\n  build:\n    image: acme/app\n    dockerfile_path: Dockerfile\n    cached: true\n    image_tag: \"{{ .Branch }}\"\n    environment:\n      A: b\n",
    );
    write(dir.path(), "codeship-steps.yml", "- { service: app, command: 'true' }\n");
    let (project, warnings) = load(&options(dir.path())).unwrap_or_else(|d| panic!("{:?}", errors(&d)));
    let w: Vec<String> =
        warnings.iter().map(|d| format!("{} | {}", d.short(), d.help.clone().unwrap_or_default())).collect();
    assert_eq!(w.len(), 3, "{w:#?}");
    assert!(
        w[0].starts_with("codeship-services.yml:5:5: warning: `cached` belongs to service `app`, not to `build`"),
        "{w:#?}"
    );
    assert!(w[0].ends_with("move it up one level, beside `build:`"), "{w:#?}");
    assert!(w[1].contains("`image_tag` belongs to a push step"), "{w:#?}");
    assert!(w[2].contains("`environment` belongs to service `app`") && w[2].contains("`args`"), "{w:#?}");
    assert!(!project.services["app"].cached, "as written it is not used");
}

#[test]
fn a_step_naming_its_own_service_inside_a_group_that_gives_one() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "codeship-services.yml", "app:\n  image: busybox\nother:\n  image: busybox\n");
    write(
        dir.path(),
        "codeship-steps.yml",
        r#"
- type: serial
  service: app
  steps:
  - service: other
    command: "true"
  - service: app
    command: "true"
- type: parallel
  services: [app, other]
  steps:
  - command: "true"
  - type: serial
    steps:
    - service: app
      command: "true"
"#,
    );
    let diags = load(&options(dir.path())).unwrap_err();
    let all: Vec<String> = diags.iter().map(|d| d.short()).collect();
    assert_eq!(all.len(), 2, "{all:#?}");
    assert!(
        all[0].starts_with(
            "codeship-steps.yml:5:14: warning: this step runs its own service `other`, not its group's `app`"
        ),
        "{all:#?}"
    );
    assert!(
        all[1].starts_with(
            "codeship-steps.yml:15:16: error: a step inside a `services:` group names its own service `app`"
        ),
        "{all:#?}"
    );
}

#[test]
fn a_variable_in_a_jet_services_files_environment_is_said_to_stay_as_written() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "codeship-services.yml",
        "app:\n  image: busybox\n  environment:\n    API_URL: \"${API_HOST:-localhost}:8080\"\n    BUILD_USER: $USER\n    PRICE: 5$\n    PASSWORD: pa$word\n",
    );
    write(dir.path(), "codeship-steps.yml", "- { service: app, command: 'true' }\n");
    let (_, warnings) = load(&options(dir.path())).unwrap_or_else(|d| panic!("{:?}", errors(&d)));
    let w: Vec<String> = warnings.iter().map(|d| d.short()).collect();
    assert_eq!(w.len(), 2, "{w:#?}");
    assert!(w[0].starts_with("codeship-services.yml:4:5") && w[0].contains("`API_URL`"), "{w:#?}");
    assert!(w[1].starts_with("codeship-services.yml:5:5") && w[1].contains("`$USER`"), "{w:#?}");
}

#[test]
fn steps_that_run_at_once_and_read_one_host_report_file_are_warned_of() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "codeship-services.yml",
        r#"
app:
  image: python:3.11
  working_dir: /code
  volumes: ["./:/code", "./out:/reports"]
alone:
  image: python:3.11
  working_dir: /code
"#,
    );
    write(
        dir.path(),
        "codeship-steps.yml",
        r#"
- type: parallel
  steps:
  - { name: sql, service: app, reports: ["/reports/junit.xml"], command: pytest }
  - { name: dates, service: app, reports: ["/reports/junit.xml"], command: pytest }
  - { name: own, service: app, reports: ["/reports/junit-own.xml"], command: pytest }
  - { name: unmounted, service: alone, reports: ["junit.xml"], command: pytest }
  - { name: unmounted-too, service: alone, reports: ["junit.xml"], command: pytest }
- { name: later, service: app, reports: ["/reports/junit.xml"], command: pytest }
- name: shards
  service: app
  parallelism: 3
  reports: ["reports/junit.xml", "reports/junit-{shard}.xml"]
  command: pytest
"#,
    );
    let (_, warnings) = load(&options(dir.path())).unwrap_or_else(|d| panic!("{:?}", errors(&d)));
    let warnings: Vec<String> = warnings.iter().map(|d| d.short()).collect();
    let shared: Vec<&String> = warnings.iter().filter(|w| w.contains("run at the same time")).collect();
    assert_eq!(shared.len(), 2, "{warnings:?}");
    // At the later step's entry, naming both and the host file.
    assert!(
        shared[0].contains(":5:")
            && shared[0].contains("step `sql` and step `dates`")
            && shared[0].contains("`./out/junit.xml`"),
        "{shared:?}"
    );
    // A shard writes one relative file under the bind-mounted project dir; with {shard}, one each.
    assert!(
        shared[1].contains("the shards of step `shards`") && shared[1].contains("`./reports/junit.xml`"),
        "{shared:?}"
    );
}
