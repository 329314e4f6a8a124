//! Running pipelines on the real engine: order, Jet's failure rules, --fail-fast, tags,
//! --jobs, JUnit, exit statuses, images built once.

mod support;

use support::TestProject;

const BUSYBOX: &str = "app:\n  image: busybox\n";

#[test]
fn nested_serial_and_parallel_groups_run_in_order() {
    let p = TestProject::with_files(
        "order",
        BUSYBOX,
        r#"
- name: first
  service: app
  command: "true"
- type: parallel
  steps:
    - name: p1
      service: app
      command: sleep 1
    - type: serial
      steps:
        - name: s1
          service: app
          command: "true"
        - name: s2
          service: app
          command: "true"
- name: last
  service: app
  command: echo done
"#,
    );
    let r = p.slipway(&["steps"]);
    r.assert_code(0);
    let pos = |kind: &str, label: &str| r.position(kind, label);
    // serial: first before the group, the group before last
    assert!(pos("step_finished", "first") < pos("step_started", "p1"));
    assert!(pos("step_finished", "first") < pos("step_started", "s1"));
    // parallel: p1 and the nested serial group run at the same time
    assert!(pos("step_started", "s1") < pos("step_finished", "p1"));
    assert!(pos("step_started", "p1") < pos("step_finished", "s1"));
    // nested serial: s1 before s2
    assert!(pos("step_finished", "s1") < pos("step_started", "s2"));
    // last waits for the whole parallel group
    assert!(pos("step_finished", "p1") < pos("step_started", "last"));
    assert!(pos("step_finished", "s2") < pos("step_started", "last"));
    assert_eq!(r.output("last"), ["done"]);
    assert!(r.stdout.contains("PASSED 5 passed"), "{}", r.dump());
    p.assert_no_leftovers();
}

#[test]
fn parallel_siblings_finish_then_the_pipeline_stops() {
    let p = TestProject::with_files(
        "jet-failure",
        BUSYBOX,
        r#"
- type: parallel
  steps:
    - name: fails
      service: app
      command: sh -c 'echo failing; exit 3'
    - name: slow
      service: app
      command: sh -c 'sleep 2; echo slow finished'
- name: after
  service: app
  command: "true"
"#,
    );
    let r = p.slipway(&["steps"]);
    r.assert_code(1);
    assert_eq!(r.status("fails"), "failed");
    assert_eq!(r.finished("fails")["exit_code"], 3);
    assert_eq!(r.status("slow"), "passed", "Jet lets siblings finish");
    assert_eq!(r.output("slow"), ["slow finished"]);
    assert_eq!(r.status("after"), "not_run");
    assert!(!r.started("after"));
    assert!(r.stdout.contains("exited with code 3"), "{}", r.dump());
    p.assert_no_leftovers();
}

#[test]
fn fail_fast_cancels_running_siblings() {
    let p = TestProject::with_files(
        "fail-fast",
        BUSYBOX,
        r#"
- type: parallel
  steps:
    - name: fails
      service: app
      command: sh -c 'sleep 0.5; exit 1'
    - name: slow
      service: app
      command: sh -c 'sleep 30; echo never'
- name: after
  service: app
  command: "true"
"#,
    );
    let started = std::time::Instant::now();
    let r = p.slipway(&["steps", "--fail-fast"]);
    r.assert_code(1);
    assert_eq!(r.status("fails"), "failed");
    assert_eq!(r.status("slow"), "cancelled");
    assert!(r.output("slow").is_empty());
    assert_eq!(r.status("after"), "not_run");
    assert!(started.elapsed().as_secs() < 25, "the 30 s sibling was not cancelled");
    p.assert_no_leftovers();
}

#[test]
fn serial_failure_stops_what_follows() {
    let p = TestProject::with_files(
        "serial-stop",
        BUSYBOX,
        "- { name: ok, service: app, command: 'true' }\n- { name: bad, service: app, command: 'false' }\n- { name: never, service: app, command: 'true' }\n- { name: a step whose name is longer than any line prefix, service: app, command: 'true' }\n- { service: app, command: \"sh -c 'echo an unnamed step is labelled with its command, however long that is'\" }\n",
    );
    let r = p.slipway(&["steps"]);
    r.assert_code(1);
    assert_eq!(r.status("ok"), "passed");
    assert_eq!(r.status("bad"), "failed");
    assert_eq!(r.status("never"), "not_run");
    // The summary's columns line up whatever the names' lengths.
    let service_column: Vec<usize> = r
        .stdout
        .lines()
        .skip_while(|l| !l.starts_with("STEP "))
        .take(6)
        .map(|l| {
            let at = l.find("SERVICE").or_else(|| l.find(" app ").map(|i| i + 1)).expect("a service column");
            l[..at].chars().count()
        })
        .collect();
    assert_eq!(service_column.len(), 6, "{}", r.dump());
    assert!(service_column.iter().all(|c| *c == service_column[0]), "{service_column:?}\n{}", r.dump());
    // An unnamed step's whole command is cut short there, not the table made as wide.
    assert!(service_column[0] <= 62, "{service_column:?}\n{}", r.dump());
    p.assert_no_leftovers();
}

#[test]
fn tags_and_excludes_select_steps() {
    let p = TestProject::with_files(
        "tags",
        BUSYBOX,
        r#"
- { name: always, service: app, command: "true" }
- { name: on-master, service: app, command: "true", tag: master }
- { name: release-regex, service: app, command: "true", tag: "^release/" }
- { name: not-master, service: app, command: "true", exclude: master }
"#,
    );
    let local = p.slipway(&["steps"]);
    local.assert_code(0);
    assert_eq!(local.status("always"), "passed");
    assert_eq!(local.status("on-master"), "skipped");
    assert_eq!(local.status("release-regex"), "skipped");
    assert_eq!(local.status("not-master"), "passed");

    let master = p.slipway(&["steps", "--tag", "master"]);
    assert_eq!(master.status("on-master"), "passed");
    assert_eq!(master.status("release-regex"), "skipped");
    assert_eq!(master.status("not-master"), "skipped");

    // --ci-branch is the tag too, and regexes are searched
    let release = p.slipway(&["steps", "--ci-branch", "release/2.0"]);
    assert_eq!(release.status("on-master"), "skipped");
    assert_eq!(release.status("release-regex"), "passed");
    assert!(release.output("release-regex").is_empty());
    p.assert_no_leftovers();
}

#[test]
fn jobs_limit_concurrent_steps() {
    let p = TestProject::with_files(
        "jobs",
        BUSYBOX,
        r#"
- type: parallel
  steps:
    - { name: a, service: app, command: sleep 0.3 }
    - { name: b, service: app, command: sleep 0.3 }
    - { name: c, service: app, command: sleep 0.3 }
"#,
    );
    let r = p.slipway(&["steps", "-j", "1"]);
    r.assert_code(0);
    let spans: Vec<(usize, usize)> =
        ["a", "b", "c"].iter().map(|l| (r.position("step_started", l), r.position("step_finished", l))).collect();
    for (i, x) in spans.iter().enumerate() {
        for y in &spans[i + 1..] {
            assert!(x.1 < y.0 || y.1 < x.0, "steps overlapped with -j 1: {spans:?}");
        }
    }
    p.assert_no_leftovers();
}

#[test]
fn junit_report_has_every_step() {
    let p = TestProject::with_files(
        "junit",
        BUSYBOX,
        "- type: parallel\n  steps:\n    - { name: good, service: app, command: echo hello junit }\n    - { name: bad, service: app, command: sh -c 'exit 2' }\n- { name: skipped-one, service: app, command: 'true', tag: nope }\n",
    );
    let report = p.file("report.xml");
    let r = p.slipway(&["steps", "--junit", report.to_str().unwrap()]);
    r.assert_code(1);
    let xml = std::fs::read_to_string(&report).expect("junit written");
    assert!(xml.contains(r#"<testcase name="good""#), "{xml}");
    assert!(xml.contains("hello junit"), "{xml}");
    assert!(xml.contains(r#"<testcase name="bad""#), "{xml}");
    assert!(xml.contains("<failure"), "{xml}");
    assert!(xml.contains("exited with code 2"), "{xml}");
    assert!(xml.contains(r#"<testcase name="skipped-one""#) && xml.contains("<skipped"), "{xml}");
    p.assert_no_leftovers();
}

#[test]
fn junit_folders_are_made_and_a_path_that_cannot_be_written_fails_before_the_run() {
    let p = TestProject::with_files("junit-path", BUSYBOX, "- { name: only, service: app, command: 'true' }\n");
    let nested = p.file("no/such/dir/junit.xml");
    let r = p.slipway(&["steps", "--junit", nested.to_str().unwrap()]);
    r.assert_code(0);
    let xml = std::fs::read_to_string(&nested).expect("junit written in the folders it made");
    assert!(xml.contains(r#"<testcase name="only""#), "{xml}");

    p.write("a-file", "");
    let under_a_file = p.file("a-file/junit.xml");
    let r = p.slipway(&["steps", "--junit", under_a_file.to_str().unwrap()]);
    r.assert_code(1);
    assert!(r.stderr.contains("cannot write the JUnit report"), "{}", r.dump());
    assert!(!r.started("only"), "nothing runs when the report cannot be written:\n{}", r.dump());
    p.assert_no_leftovers();
}

#[test]
fn force_color_colours_piped_output_unless_no_color_is_set() {
    let p = TestProject::with_files("force-color", BUSYBOX, "- { name: only, service: app, command: echo hi }\n");
    let run = |env: &[(&str, &str)]| {
        let events = p.events_path();
        let mut command = p.command(&["steps"], &events);
        command.env_remove("NO_COLOR").env_remove("FORCE_COLOR").env_remove("CLICOLOR_FORCE").envs(env.iter().copied());
        let r = p.result(command.output().expect("slipway runs"), &events);
        r.assert_code(0);
        r
    };
    const ESC: &str = "\x1b[";
    let plain = run(&[]);
    assert!(!plain.stdout.contains(ESC), "piped output has no colour by default:\n{}", plain.dump());
    for var in ["FORCE_COLOR", "CLICOLOR_FORCE"] {
        let forced = run(&[(var, "1")]);
        assert!(forced.stdout.contains(ESC), "{var}=1 colours piped output:\n{}", forced.dump());
    }
    let no_color = run(&[("FORCE_COLOR", "1"), ("NO_COLOR", "1")]);
    assert!(!no_color.stdout.contains(ESC) && !no_color.stderr.contains(ESC), "NO_COLOR wins:\n{}", no_color.dump());
    p.assert_no_leftovers();
}

#[test]
fn built_image_is_built_once_per_run_and_shared() {
    let p = TestProject::new("build-once");
    p.write("Dockerfile", "FROM busybox\nRUN echo built-into-image > /built\n");
    p.write("codeship-services.yml", "app:\n  build: .\n");
    p.write(
        "codeship-steps.yml",
        "- type: parallel\n  steps:\n    - { name: one, service: app, command: cat /built }\n    - { name: two, service: app, command: cat /built }\n",
    );
    let r = p.slipway(&["steps"]);
    r.assert_code(0);
    let builds = r.events.iter().filter(|e| e["event"] == "image_started" && e["action"] == "build").count();
    assert_eq!(builds, 1, "{}", r.dump());
    assert_eq!(r.output("one"), ["built-into-image"]);
    assert_eq!(r.output("two"), ["built-into-image"]);
    // The steps' times include waiting for the build: the summary says how long it took.
    let built = format!("built image {}_app in ", p.name);
    assert!(
        r.stdout.lines().any(|l| l.contains(&built) && l.contains("the times of the steps that needed it include")),
        "{}",
        r.dump()
    );
    p.assert_no_leftovers();
    assert!(!support::registry::image_exists(&format!("{}_app", p.name)), "the built image was left behind");
}

#[test]
fn a_failing_build_shows_the_builders_output() {
    let p = TestProject::new("build-fails");
    p.write("Dockerfile", "FROM busybox\n\n# the failing step: the builder's step 2, the file's line 4\nRUN echo about to fail \\\n  && exit 7\n");
    p.write("codeship-services.yml", "app:\n  build:\n    context: .\n    dockerfile: Dockerfile\n");
    p.write("codeship-steps.yml", "- { name: uses-it, service: app, command: 'true' }\n");
    let r = p.slipway(&["steps"]);
    r.assert_code(1);
    assert_eq!(r.status("uses-it"), "failed");
    let message = r.finished("uses-it")["message"].as_str().unwrap().to_string();
    // Pointing at the service's `build:`.
    assert!(message.contains("building the image of service `app` (./codeship-services.yml:3:5) failed"), "{message}");
    assert!(message.contains("failed: The command"), "the engine's words, without a prefix: {message}");
    assert!(message.contains("returned a non-zero code: 7"), "{message}");
    assert!(
        message.ends_with(&format!("(step 2 of the build: fix {}:4)", p.file("Dockerfile").display())),
        "{message}"
    );
    assert!(r.stdout.contains("about to fail"), "build output is shown on failure: {}", r.dump());
    p.assert_no_leftovers();
}

#[test]
fn services_copies_and_group_service_inheritance() {
    let p = TestProject::with_files(
        "copies",
        "a:\n  image: busybox\n  environment: {WHO: a}\nb:\n  image: busybox\n  environment: {WHO: b}\n",
        r#"
- name: matrix
  type: serial
  services: [a, b]
  steps:
    - name: who
      command: sh -c 'echo I am $WHO'
- type: parallel
  service: b
  steps:
    - name: inherited
      command: sh -c 'echo inherited $WHO'
"#,
    );
    let r = p.slipway(&["steps"]);
    r.assert_code(0);
    assert_eq!(r.output("who [a]"), ["I am a"]);
    assert_eq!(r.output("who [b]"), ["I am b"]);
    assert_eq!(r.output("inherited"), ["inherited b"]);
    p.assert_no_leftovers();
}

#[test]
fn no_output_is_lost_however_fast_the_command_exits() {
    let p = TestProject::with_files(
        "output",
        "app:\n  image: busybox\n",
        "- type: parallel\n  steps:\n    - { name: many, service: app, command: \"sh -c 'seq 1 5000; printf no-newline'\" }\n    - { name: quick, service: app, command: printf x }\n",
    );
    let r = p.slipway(&["steps"]);
    r.assert_code(0);
    let many = r.output("many");
    assert_eq!(many.len(), 5001);
    assert_eq!(many[4999], "5000");
    assert_eq!(many[5000], "no-newline");
    assert_eq!(r.output("quick"), ["x"]);
    p.assert_no_leftovers();
}

#[test]
fn a_project_whose_history_cannot_be_written_still_runs() {
    let p = TestProject::with_files(
        "no-history",
        "app:\n  image: busybox\n",
        "- { name: hi, service: app, command: echo hi }\n",
    );
    // Where the history folder would go, a file: the folder cannot be made, as in a
    // read-only checkout.
    p.write(".slipway", "not a folder");
    let r = p.slipway(&["steps"]);
    r.assert_code(0);
    assert_eq!(r.output("hi"), ["hi"]);
    assert!(r.stderr.contains("this run is not kept in the history"), "{}", r.dump());
    // A folder asked for explicitly is not skipped.
    let r = p.slipway(&["steps", "--state-dir", ".slipway/inside"]);
    r.assert_code(1);
    assert!(r.stderr.contains("set --state-dir"), "{}", r.dump());
    p.assert_no_leftovers();
}

#[test]
fn a_step_that_runs_past_its_timeout_is_stopped_and_fails() {
    let p = TestProject::with_files(
        "timeout",
        "app:\n  image: busybox\n",
        "- type: parallel\n  steps:\n  - { name: stuck, service: app, timeout: 2s, command: \"sh -c 'echo line1; printf \\\"collected 2 items .\\\"; sleep 120'\" }\n  - { name: quick, service: app, timeout: 1m, command: echo done }\n- { name: after, service: app, command: 'true' }\n",
    );
    let started = std::time::Instant::now();
    let r = p.slipway(&["steps"]);
    r.assert_code(1);
    assert!(started.elapsed() < std::time::Duration::from_secs(60), "the timeout did not stop it");
    let stuck = r.finished("stuck");
    assert_eq!((stuck["status"].as_str(), stuck["exit_code"].as_i64()), (Some("failed"), Some(124)), "{}", r.dump());
    assert!(stuck["message"].as_str().unwrap_or_default().starts_with("timed out: stopped after 2"), "{stuck}");
    // Its last line had no newline when it was stopped: that is where it hung.
    assert_eq!(r.output("stuck"), ["line1", "collected 2 items ."], "{}", r.dump());
    assert_eq!(r.status("quick"), "passed");
    assert_eq!(r.status("after"), "not_run", "a timed-out step fails the serial group");
    p.assert_no_leftovers();

    // The command failed; its on_fail hangs: the step's end is the command's. (The limit
    // leaves a loaded engine time to start the step before its command fails.)
    p.write(
        "codeship-steps.yml",
        "- { name: broke, service: app, timeout: 8s, command: sh -c 'exit 3', on_fail: sleep 120 }\n",
    );
    let r = p.slipway(&["steps"]);
    r.assert_code(1);
    let broke = r.finished("broke");
    assert_eq!(broke["exit_code"].as_i64(), Some(3), "{broke}");
    let message = broke["message"].as_str().unwrap_or_default();
    assert!(message.starts_with("exited with code 3; its on_fail was stopped after 8"), "{message}");
    p.assert_no_leftovers();

    // Still waiting for a dependency: no command ran, and the message says so.
    p.write(
        "codeship-services.yml",
        "app:\n  image: busybox\n  depends_on: [never]\nnever:\n  image: busybox\n  command: sleep 300\n  healthcheck:\n    test: [\"CMD\", \"false\"]\n    interval: 1h\n",
    );
    p.write("codeship-steps.yml", "- { name: waits, service: app, timeout: 3s, command: echo never }\n");
    let r = p.slipway(&["steps"]);
    r.assert_code(1);
    let message = r.finished("waits")["message"].as_str().unwrap_or_default().to_string();
    assert!(message.starts_with("timed out: stopped after 3.0 s"), "{message}");
    assert!(message.contains("before its command started"), "{message}");
    p.assert_no_leftovers();
    p.write("codeship-services.yml", "app:\n  image: busybox\n");

    p.write(
        "codeship-steps.yml",
        "- { service: app, timeout: soon, command: 'true' }\n- { service: app, timeout: 0s, command: 'true' }\n",
    );
    let r = p.slipway(&["validate"]);
    r.assert_code(1);
    assert!(r.stderr.contains("`timeout` of") && r.stderr.contains("is zero"), "{}", r.dump());
    assert!(r.stderr.contains("e.g. `timeout: 20m`"), "{}", r.dump());
}

#[test]
fn more_parallel_steps_than_the_engine_has_address_pools_wait_for_a_network() {
    // A stock engine has about 30 address pools for bridge networks, one per step.
    let steps: String = (1..=40).map(|i| format!("  - {{ name: s{i}, command: 'true' }}\n")).collect();
    let p = TestProject::with_files(
        "many-networks",
        "app:\n  image: busybox\n",
        &format!("- type: parallel\n  service: app\n  steps:\n{steps}"),
    );
    let r = p.slipway(&["steps"]);
    r.assert_code(0);
    assert!(r.stdout.contains("40 passed"), "{}", r.dump());
    p.assert_no_leftovers();
}

#[test]
fn escape_sequences_in_a_steps_output_are_printed_as_text() {
    let p = TestProject::with_files(
        "escapes",
        "app:\n  image: busybox\n",
        "- { name: talk, service: app, command: \"printf 'before\\\\033[2J\\\\033]0;title\\\\007after\\\\n'\" }\n",
    );
    let r = p.slipway(&["steps"]);
    r.assert_code(0);
    assert_eq!(r.output("talk"), ["before\u{1b}[2J\u{1b}]0;title\u{7}after"], "the events keep the bytes");
    let printed = format!("{}{}", r.stdout, r.stderr);
    assert!(printed.contains("before^[[2J^[]0;title^Gafter"), "{printed}");
    assert!(!printed.contains('\u{1b}') && !printed.contains('\u{7}'), "{printed:?}");
    p.assert_no_leftovers();
}
