//! Each step's environment on the real engine: links and aliases, dependency order,
//! health checks, volumes, environment precedence, commands without a shell.

mod support;

use support::TestProject;

const SLEEPER: &str = "sh -c 'sleep 300'";

#[test]
fn links_with_aliases_and_depends_on_are_reachable() {
    let p = TestProject::with_files(
        "links",
        &format!(
            "app:\n  image: busybox\n  links: ['db:database', cache]\n  depends_on: [queue]\ndb:\n  image: busybox\n  command: {SLEEPER}\ncache:\n  image: busybox\n  command: {SLEEPER}\nqueue:\n  image: busybox\n  command: {SLEEPER}\n"
        ),
        "- name: reach\n  service: app\n  command: sh -c 'for h in database db cache queue; do ping -c 1 -W 2 $h >/dev/null && echo reached $h; done'\n",
    );
    let r = p.slipway(&["steps"]);
    r.assert_code(0);
    assert_eq!(r.output("reach"), ["reached database", "reached db", "reached cache", "reached queue"]);
    p.assert_no_leftovers();
}

#[test]
fn steps_do_not_see_each_others_containers() {
    // Two parallel steps each start their own `db`; each must only reach its own.
    let p = TestProject::with_files(
        "isolation",
        "app:\n  image: busybox\n  links: [db]\ndb:\n  image: busybox\n  command: sh -c 'hostname > /tmp/id; httpd -f -p 8080 -h /tmp'\n",
        r#"
- type: parallel
  steps:
    - { name: one, service: app, command: "sh -c 'sleep 0.5; wget -q -O - http://db:8080/id; hostname'" }
    - { name: two, service: app, command: "sh -c 'sleep 0.5; wget -q -O - http://db:8080/id; hostname'" }
"#,
    );
    let r = p.slipway(&["steps"]);
    r.assert_code(0);
    let (one, two) = (r.output("one"), r.output("two"));
    assert_eq!(one.len(), 2, "{}", r.dump());
    assert_ne!(one[0], two[0], "both steps reached the same db container");
    p.assert_no_leftovers();
}

#[test]
fn dependencies_start_in_order_and_health_is_awaited() {
    let p = TestProject::with_files(
        "health-order",
        r#"
app:
  image: busybox
  depends_on:
    mid:
      condition: service_started
mid:
  image: busybox
  command: sh -c 'sleep 300'
  depends_on: [base]
base:
  image: busybox
  command: sh -c 'sleep 1.5; touch /tmp/ready; sleep 300'
  healthcheck:
    test: ["CMD", "test", "-f", "/tmp/ready"]
    interval: 30s
"#,
        "- { name: check, service: app, command: echo app ran }\n",
    );
    let r = p.slipway(&["steps"]);
    r.assert_code(0);
    let phase = |text: &str| {
        r.events
            .iter()
            .position(|e| e["event"] == "step_phase" && e["message"].as_str().unwrap_or_default().starts_with(text))
            .unwrap_or_else(|| panic!("no phase `{text}`: {}", r.dump()))
    };
    let output = r.events.iter().position(|e| e["event"] == "step_output").expect("output");
    // base healthy (probed by slipway well before the 30 s interval) → mid → app
    assert!(phase("starting base") < phase("base is healthy"));
    assert!(phase("base is healthy") < phase("starting mid"));
    assert!(phase("starting mid") < output);
    // mid has no healthcheck: the log says nothing waits for it; base's has one.
    assert!(phase("starting mid (it has no healthcheck: nothing waits for it to be ready)") < output);
    assert_eq!(r.events[phase("starting base")]["message"], "starting base");
    assert_eq!(r.output("check"), ["app ran"]);
    p.assert_no_leftovers();
}

#[test]
fn image_healthcheck_counts_too() {
    let p = TestProject::new("image-health");
    p.write("db/Dockerfile", "FROM busybox\nHEALTHCHECK --interval=30s CMD test -f /tmp/ready\nCMD sh -c 'sleep 1; touch /tmp/ready; sleep 300'\n");
    p.write("codeship-services.yml", "app:\n  image: busybox\n  links: [db]\ndb:\n  build: ./db\n");
    p.write("codeship-steps.yml", "- { name: check, service: app, command: echo up }\n");
    let r = p.slipway(&["steps"]);
    r.assert_code(0);
    assert!(
        r.events
            .iter()
            .any(|e| e["event"] == "step_phase" && e["message"].as_str().unwrap().starts_with("db is healthy")),
        "{}",
        r.dump()
    );
    p.assert_no_leftovers();
    assert!(!support::registry::image_exists(&format!("{}_db", p.name)), "the built image was left behind");
}

#[test]
fn a_dependency_that_exits_fails_the_step_with_its_last_lines() {
    let p = TestProject::with_files(
        "dep-exits",
        r#"
app:
  image: busybox
  links: [db]
db:
  image: busybox
  command: sh -c 'echo starting up; echo disk is full >&2; exit 3'
  healthcheck:
    # Never passes: a passing probe could win the race with the exit under load.
    test: ["CMD", "test", "-e", "/never"]
    interval: 30s
"#,
        "- { name: needs-db, service: app, command: echo never }\n",
    );
    let r = p.slipway(&["steps"]);
    r.assert_code(1);
    let finished = r.finished("needs-db");
    assert_eq!(finished["status"], "failed");
    assert!(finished["message"].as_str().unwrap().contains("dependency `db` exited with code 3"), "{finished}");
    let details = finished["details"].to_string();
    assert!(details.contains("disk is full") && details.contains("starting up"), "{details}");
    assert!(r.output("needs-db").is_empty());
    p.assert_no_leftovers();
}

#[test]
fn a_healthcheck_whose_program_the_image_lacks_fails_at_once_and_says_so() {
    for (form, said) in [
        ("[\"CMD\", \"curl\", \"-f\", \"http://localhost\"]", "\"curl\""),
        ("[\"CMD-SHELL\", \"curl -f http://localhost\"]", "curl: not found"),
        // The usual form: the shell goes on to `exit 1` after saying so.
        ("[\"CMD-SHELL\", \"curl -f http://localhost || exit 1\"]", "curl: not found"),
    ] {
        let p = TestProject::with_files(
            "healthcheck-missing",
            &format!("app:\n  image: busybox\n  depends_on: [web]\nweb:\n  image: busybox\n  command: sleep 300\n  healthcheck:\n    test: {form}\n    interval: 10s\n    retries: 30\n"),
            "- { name: needs-web, service: app, command: echo never }\n",
        );
        let started = std::time::Instant::now();
        let r = p.slipway(&["steps"]);
        r.assert_code(1);
        let message = r.finished("needs-web")["message"].as_str().unwrap_or_default().to_string();
        assert!(
            message.contains("the healthcheck of dependency `web` cannot run in its container"),
            "{form}: {}",
            r.dump()
        );
        assert!(message.contains(said), "{form}: {message}");
        // Not after its 30 retries of 10 s: the first check shows it can never pass.
        assert!(started.elapsed() < std::time::Duration::from_secs(60), "{form}: took {:?}", started.elapsed());
        p.assert_no_leftovers();
    }
}

#[test]
fn an_unhealthy_dependency_or_a_timeout_fails_the_step() {
    let p = TestProject::with_files(
        "unhealthy",
        r#"
app:
  image: busybox
  links: [sick, slow]
sick:
  image: busybox
  command: sh -c 'sleep 300'
  healthcheck:
    test: ["CMD-SHELL", "echo sick is not ready; false"]
    interval: 200ms
    retries: 1
slow:
  image: busybox
  command: sh -c 'sleep 300'
"#,
        "- { name: needs-sick, service: app, command: echo never }\n",
    );
    let r = p.slipway(&["steps"]);
    r.assert_code(1);
    let message = r.finished("needs-sick")["message"].as_str().unwrap().to_string();
    assert!(message.contains("`sick` is unhealthy: its healthcheck failed once in a row"), "{}", r.dump());
    // Where it went wrong: what the engine's last check printed, and what to change.
    assert!(message.contains("its last check said: sick is not ready"), "{message}");
    assert!(message.contains("start_period"), "{message}");
    p.assert_no_leftovers();

    p.write(
        "codeship-services.yml",
        "app:\n  image: busybox\n  links: [never]\nnever:\n  image: busybox\n  command: sh -c 'sleep 300'\n  healthcheck:\n    test: [\"CMD\", \"false\"]\n    interval: 1h\n",
    );
    let r = p.slipway(&["steps", "--health-timeout", "1500ms"]);
    r.assert_code(1);
    assert!(
        r.finished("needs-sick")["message"].as_str().unwrap().contains("was not healthy after 1.5 s"),
        "{}",
        r.dump()
    );
    p.assert_no_leftovers();
}

#[test]
fn condition_service_healthy_needs_a_healthcheck() {
    let p = TestProject::with_files(
        "healthy-no-check",
        "app:\n  image: busybox\n  depends_on:\n    db:\n      condition: service_healthy\ndb:\n  image: busybox\n  command: sh -c 'sleep 300'\n",
        "- { name: s, service: app, command: 'true' }\n",
    );
    let r = p.slipway(&["steps"]);
    r.assert_code(1);
    let message = r.finished("s")["message"].as_str().unwrap().to_string();
    assert!(message.contains("has no healthcheck"), "{}", r.dump());
    // Where in the services file `db` is, to add one.
    assert!(
        message.contains("add a `healthcheck` to `db` (") && message.contains("codeship-services.yml:7:10)"),
        "{message}"
    );
    p.assert_no_leftovers();
}

#[test]
fn volumes_bind_anonymous_and_project_folders() {
    let p = TestProject::with_files(
        "volumes",
        "app:\n  image: busybox\n  volumes:\n    - ./data:/data\n    - ./data:/ro:ro\n    - /scratch\n    - cache:/cache\n",
        r#"
- name: write
  service: app
  command: sh -c 'cat /data/in.txt; echo from-container > /data/out.txt; echo kept > /cache/c; echo gone > /scratch/s; touch /ro/x 2>/dev/null || echo read-only'
- name: read
  service: app
  command: sh -c 'cat /cache/c; ls /scratch | wc -l'
"#,
    );
    p.write("data/in.txt", "from-host\n");
    let r = p.slipway(&["steps"]);
    r.assert_code(0);
    assert_eq!(r.output("write")[0], "from-host");
    assert_eq!(r.output("write").last().unwrap(), "read-only");
    assert_eq!(std::fs::read_to_string(p.file("data/out.txt")).unwrap(), "from-container\n");
    // Jet read a bare `cache:` as the project folder `./cache`; the anonymous volume is
    // fresh per container.
    assert_eq!(std::fs::read_to_string(p.file("cache/c")).unwrap(), "kept\n");
    assert_eq!(r.output("read"), ["kept", "0"]);
    p.assert_no_leftovers();
}

#[test]
fn compose_named_volumes_are_shared_by_the_run_and_removed_after_it() {
    let p = TestProject::new("named-volumes");
    p.write(
        "docker-compose.yml",
        "services:\n  app:\n    image: busybox\n    volumes: ['cache:/cache']\nvolumes:\n  cache: {}\n",
    );
    p.write(
        "slipway-steps.yml",
        "- { name: write, service: app, command: \"sh -c 'echo kept > /cache/c'\" }\n- { name: read, service: app, command: cat /cache/c }\n",
    );
    let r = p.slipway(&["steps"]);
    r.assert_code(0);
    assert_eq!(r.output("read"), ["kept"]);
    assert!(!p.file("cache").exists(), "a named volume, not a folder");
    p.assert_no_leftovers();
}

#[test]
fn volumes_from_containers_live_for_the_whole_run() {
    let p = TestProject::with_files(
        "volumes-from",
        "data:\n  image: busybox\n  volumes: [/shared]\n  command: sh -c 'sleep 300'\napp:\n  image: busybox\n  volumes_from: [data]\n",
        "- { name: write, service: app, command: \"sh -c 'echo persisted > /shared/file'\" }\n- { name: read, service: app, command: cat /shared/file }\n",
    );
    let r = p.slipway(&["steps"]);
    r.assert_code(0);
    assert_eq!(r.output("read"), ["persisted"]);
    p.assert_no_leftovers();
}

#[test]
fn environment_precedence_later_wins() {
    let p = TestProject::with_files(
        "env",
        "app:\n  image: busybox\n  env_file: app.env\n  environment:\n    - FROM_ENV=environment\n    - BOTH=environment\n    - FLAG=environment\n    - CI_NAME=mine\n    - PASSED_THROUGH\n",
        "- { name: env, service: app, command: \"sh -c 'echo $FROM_ENV $BOTH $FROM_FILE $FLAG $CI $CI_NAME $PASSED_THROUGH $CI_BRANCH $CI_BUILD_ID'\" }\n",
    );
    p.write("app.env", "BOTH=file\nFROM_FILE=file\n");
    let r = p.slipway_env(
        &["steps", "-e", "FLAG=flag", "--ci-branch", "feature/x", "--ci-build-id", "b-42"],
        &[("PASSED_THROUGH", "host")],
    );
    r.assert_code(0);
    assert_eq!(r.output("env"), ["environment file file flag true mine host feature/x b-42"]);
    p.assert_no_leftovers();
}

#[test]
fn commands_are_split_without_a_shell_and_keep_the_entrypoint() {
    let p = TestProject::with_files(
        "words",
        "app:\n  image: busybox\n  working_dir: /tmp\n  user: nobody\nwrapped:\n  image: busybox\n  entrypoint: [echo, from-entrypoint]\n",
        r#"
- name: literal
  service: app
  command: printf '%s|' "a b" '$HOME' && c
- name: where
  service: app
  command: sh -c 'pwd; id -u'
- name: entry
  service: wrapped
  command: the-cmd
"#,
    );
    let r = p.slipway(&["steps"]);
    r.assert_code(0);
    assert_eq!(r.output("literal"), ["a b|$HOME|&&|c|"]);
    assert_eq!(r.output("where"), ["/tmp", "65534"]);
    assert_eq!(r.output("entry"), ["from-entrypoint the-cmd"]);
    p.assert_no_leftovers();

    // `entrypoint: ""` clears the image's ENTRYPOINT and keeps its CMD, as in compose.
    p.write("Dockerfile", "FROM busybox\nENTRYPOINT [\"echo\", \"from-image\"]\nCMD [\"echo\", \"image-cmd\"]\n");
    p.write(
        "codeship-services.yml",
        "cleared:\n  build: .\n  entrypoint: \"\"\nlisted:\n  build: .\n  entrypoint: []\n",
    );
    p.write(
        "codeship-steps.yml",
        "- { name: own, service: cleared, command: echo own }\n- { name: default, service: cleared }\n- { name: list, service: listed }\n",
    );
    let r = p.slipway(&["steps"]);
    r.assert_code(0);
    assert_eq!(r.output("own"), ["own"]);
    assert_eq!(r.output("default"), ["image-cmd"]);
    assert_eq!(r.output("list"), ["image-cmd"]);
    p.assert_no_leftovers();
}

#[test]
fn a_command_missing_from_the_image_is_a_clear_error() {
    let p = TestProject::with_files(
        "no-such-command",
        "app:\n  image: busybox\n",
        "- { name: nope, service: app, command: no-such-binary --flag }\n",
    );
    let r = p.slipway(&["steps"]);
    r.assert_code(1);
    let message = r.finished("nope")["message"].as_str().unwrap().to_string();
    assert!(message.contains("could not be started") && message.contains("no-such-binary"), "{message}");
    p.assert_no_leftovers();
}

#[test]
fn an_image_without_a_shell_still_runs_after_its_dependencies() {
    // Steps with dependencies normally start early behind an `sh` gate; without /bin/sh
    // slipway must fall back to a plain start.
    let p = TestProject::new("no-shell");
    p.write("Dockerfile", "FROM busybox\nRUN rm /bin/sh\n");
    p.write(
        "codeship-services.yml",
        "app:\n  build: .\n  links: [db]\ndb:\n  image: busybox\n  command: sh -c 'touch /tmp/ok; sleep 300'\n  healthcheck:\n    test: [CMD, test, -f, /tmp/ok]\n",
    );
    p.write("codeship-steps.yml", "- { name: plain, service: app, command: echo without a shell }\n");
    let r = p.slipway(&["steps"]);
    r.assert_code(0);
    assert_eq!(r.output("plain"), ["without a shell"]);
    p.assert_no_leftovers();
    assert!(!support::registry::image_exists(&format!("{}_app", p.name)), "the built image was left behind");
}

#[test]
fn on_fail_runs_in_the_failed_steps_environment() {
    let p = TestProject::with_files(
        "on-fail",
        "app:\n  image: busybox\n  links: [db]\ndb:\n  image: busybox\n  command: sh -c 'sleep 300'\n",
        "- name: breaks\n  service: app\n  command: sh -c 'exit 5'\n  on_fail:\n    - sh -c 'ping -c 1 -W 2 db >/dev/null && echo on_fail reached db'\n",
    );
    let r = p.slipway(&["steps"]);
    r.assert_code(1);
    assert_eq!(r.finished("breaks")["exit_code"], 5);
    assert_eq!(r.output("breaks"), ["on_fail reached db"]);
    p.assert_no_leftovers();
}

#[test]
fn on_fail_entries_may_name_another_service() {
    let p = TestProject::with_files(
        "on-fail-service",
        "app:\n  image: busybox\nnotifier:\n  image: busybox\n  environment: {ROLE: notifier}\n",
        "- name: breaks\n  service: app\n  command: \"false\"\n  on_fail:\n    - command: sh -c 'echo notified by $ROLE'\n      service: notifier\n",
    );
    let r = p.slipway(&["steps"]);
    r.assert_code(1);
    assert_eq!(r.output("breaks"), ["notified by notifier"]);
    p.assert_no_leftovers();
}

#[test]
fn on_fail_runs_when_the_command_cannot_start_or_a_dependency_fails() {
    let p = TestProject::with_files(
        "on-fail-start",
        "app:\n  image: busybox\ndb:\n  image: busybox\n  command: sh -c 'exit 3'\n  healthcheck:\n    test: [CMD, test, -f, /never]\nweb:\n  image: busybox\n  depends_on: [db]\n",
        "- name: missing\n  service: app\n  command: no-such-binary\n  on_fail:\n    - echo on_fail after a missing command\n- name: dependency\n  service: web\n  command: \"true\"\n  on_fail:\n    - echo on_fail after a failed dependency\n",
    );
    let r = p.slipway(&["steps"]);
    r.assert_code(1);
    assert_eq!(r.output("missing"), ["on_fail after a missing command"]);
    assert_eq!(r.finished("missing")["status"], "failed");
    p.write("codeship-steps.yml", "- name: dependency\n  service: web\n  command: \"true\"\n  on_fail:\n    - echo on_fail after a failed dependency\n");
    let r = p.slipway(&["steps"]);
    r.assert_code(1);
    assert_eq!(r.output("dependency"), ["on_fail after a failed dependency"]);
    p.assert_no_leftovers();
}

#[test]
fn a_missing_command_in_a_step_with_dependencies_says_so() {
    let p = TestProject::with_files(
        "missing-with-deps",
        "app:\n  image: busybox\n  links: [db]\ndb:\n  image: busybox\n  command: sh -c 'sleep 300'\n",
        "- { name: nope, service: app, command: no-such-binary }\n",
    );
    let r = p.slipway(&["steps"]);
    r.assert_code(1);
    let message = r.finished("nope")["message"].as_str().unwrap().to_string();
    assert!(message.contains("command not found"), "{message}");
    p.assert_no_leftovers();
}

#[test]
fn shm_size_and_tmpfs_reach_the_container() {
    let p = TestProject::with_files(
        "shm-tmpfs",
        "app:\n  image: busybox\n  shm_size: 128m\n  tmpfs: ['/scratch:size=1m']\n",
        "- { name: look, service: app, command: \"sh -c 'df -k /dev/shm | tail -1; grep \\\" /scratch \\\" /proc/mounts'\" }\n",
    );
    let r = p.slipway(&["steps"]);
    r.assert_code(0);
    let lines = r.output("look");
    assert!(lines.first().is_some_and(|l| l.split_whitespace().nth(1) == Some("131072")), "{lines:?}");
    assert!(
        lines.get(1).is_some_and(|l| l.starts_with("tmpfs /scratch tmpfs") && l.contains("size=1024k")),
        "{lines:?}"
    );
    p.assert_no_leftovers();
}

#[test]
fn cap_add_and_cap_drop_change_the_containers_capabilities() {
    let p = TestProject::with_files(
        "capabilities",
        "plain:\n  image: busybox\nadjusted:\n  image: busybox\n  cap_add: [NET_ADMIN]\n  cap_drop: [CAP_CHOWN]\n",
        "- { name: plain, service: plain, command: \"grep CapEff /proc/self/status\" }\n\
         - { name: adjusted, service: adjusted, command: \"grep CapEff /proc/self/status\" }\n",
    );
    let r = p.slipway(&["steps"]);
    r.assert_code(0);
    let capabilities = |step: &str| {
        let lines = r.output(step);
        let hex = lines.first().and_then(|l| l.split_whitespace().nth(1)).unwrap_or_else(|| panic!("{lines:?}"));
        u64::from_str_radix(hex, 16).expect("hex")
    };
    let (plain, adjusted) = (capabilities("plain"), capabilities("adjusted"));
    const CHOWN: u64 = 1 << 0;
    const NET_ADMIN: u64 = 1 << 12;
    assert_eq!(plain & (CHOWN | NET_ADMIN), CHOWN, "the engine's defaults: {plain:x}");
    assert_eq!(adjusted, (plain | NET_ADMIN) & !CHOWN, "{adjusted:x} from {plain:x}");
    p.assert_no_leftovers();
}

#[test]
fn a_script_with_windows_line_endings_is_named_as_such() {
    let p = TestProject::with_files(
        "crlf-script",
        "plain:\n  image: busybox\n  entrypoint: /code/entry.sh\n  volumes: ['./entry.sh:/code/entry.sh']\n\
         waiting:\n  image: busybox\n  entrypoint: ./entry.sh\n  working_dir: /code\n  volumes: ['./entry.sh:/code/entry.sh']\n  depends_on: [helper]\n\
         helper:\n  image: busybox\n  command: sleep 30\n\
         option:\n  image: busybox\n  entrypoint: /code/option.sh\n  volumes: ['./option.sh:/code/option.sh']\n",
        "- type: parallel\n  steps:\n  - { name: plain, service: plain, command: echo hi }\n  - { name: waiting, service: waiting, command: echo hi }\n  - { name: option, service: option, command: echo hi }\n",
    );
    p.write("entry.sh", "#!/bin/sh\r\nexec \"$@\"\r\n");
    p.write("option.sh", "#!/bin/sh -e\r\nexec \"$@\"\r\n");
    for script in ["entry.sh", "option.sh"] {
        std::fs::set_permissions(p.file(script), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    }
    let r = p.slipway(&["steps"]);
    r.assert_code(1);
    // The code is the engine's (runc's exec fails: 1), the gate's shell's (127) or the
    // interpreter's, refusing the option `-e\r` (2).
    for (step, program, code) in
        [("plain", "/code/entry.sh", 1), ("waiting", "./entry.sh", 127), ("option", "/code/option.sh", 2)]
    {
        let finished = r.finished(step);
        let message = finished["message"].as_str().unwrap_or_default();
        assert_eq!(finished["exit_code"].as_i64(), Some(code), "{finished}");
        assert!(
            message.contains(&format!("`{program}` has Windows (CRLF) line endings"))
                && message.contains("\\r`)")
                && message.contains("dos2unix"),
            "{step}: {message}"
        );
    }
    p.assert_no_leftovers();
}

#[test]
fn a_script_without_its_execute_bit_says_to_chmod_it() {
    let p = TestProject::with_files(
        "noexec-script",
        "plain:\n  image: busybox\n  entrypoint: /code/entry.sh\n  volumes: ['./entry.sh:/code/entry.sh']\n\
         waiting:\n  image: busybox\n  entrypoint: /code/entry.sh\n  volumes: ['./entry.sh:/code/entry.sh']\n  depends_on: [helper]\n\
         helper:\n  image: busybox\n  command: sleep 30\n",
        "- type: parallel\n  steps:\n  - { name: plain, service: plain, command: echo hi }\n  - { name: waiting, service: waiting, command: echo hi }\n",
    );
    p.write("entry.sh", "#!/bin/sh\nexec \"$@\"\n");
    std::fs::set_permissions(p.file("entry.sh"), std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    let r = p.slipway(&["steps"]);
    r.assert_code(1);
    for step in ["plain", "waiting"] {
        let finished = r.finished(step);
        assert_eq!(finished["exit_code"].as_i64(), Some(126), "{finished}");
        let said = format!("{} {}", finished["message"].as_str().unwrap_or_default(), r.output(step).join(" "));
        assert!(said.contains("`/code/entry.sh` is not executable"), "{step}: {said}");
        assert!(said.contains("chmod +x"), "{step}: {said}");
    }
    p.assert_no_leftovers();
}
