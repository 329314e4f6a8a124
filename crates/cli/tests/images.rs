//! Images a run builds: removed at the end unless cached, pushed or --keep-images;
//! `cached: true` keeps them per branch and the next build starts from them, also on a
//! machine that only has the cache registry; `load`; `gc` after a crash.

mod support;

use std::process::Command;
use std::time::Duration;

use support::registry::{image_exists, image_id, remove_images, Registry};
use support::{TestProject, BIN};

fn project_with_build(test: &str, cached: bool) -> TestProject {
    let p = TestProject::new(test);
    // A RUN that takes a moment, so a cache hit is visible in the build output.
    p.write(
        "Dockerfile",
        &format!("FROM busybox\nRUN echo layer-of-{test} > /layer && sleep 1\nCMD [\"cat\", \"/layer\"]\n"),
    );
    p.write("codeship-services.yml", &format!("app:\n  build: .\n  cached: {cached}\n"));
    p.write("codeship-steps.yml", "- { name: use, service: app }\n");
    p
}

fn build_lines(r: &support::RunResult) -> Vec<String> {
    r.events
        .iter()
        .filter(|e| e["event"] == "image_output")
        .map(|e| e["line"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[test]
fn images_built_for_a_run_are_removed_unless_kept() {
    let p = project_with_build("built-removed", false);
    let image = format!("{}_app", p.name);
    let r = p.slipway(&["steps"]);
    r.assert_code(0);
    assert_eq!(r.output("use"), ["layer-of-built-removed"]);
    assert!(!image_exists(&image), "the built image was left behind");

    let r = p.slipway(&["steps", "--keep-images"]);
    r.assert_code(0);
    assert!(image_exists(&image));
    remove_images(&[&image]);
    p.assert_no_leftovers();
}

#[test]
fn cached_services_keep_their_image_per_branch_and_build_from_it() {
    let p = project_with_build("cached", true);
    let cache = format!("slipway-cache/{}/app:feature-a", p.name);
    let default_cache = format!("slipway-cache/{}/app:master", p.name);
    let first = p.slipway(&["steps", "--ci-branch", "feature-a"]);
    first.assert_code(0);
    assert!(
        build_lines(&first).iter().any(|l| l.contains("no cache for branch `feature-a`")),
        "{:?}",
        build_lines(&first)
    );
    assert!(image_exists(&cache), "no cache image {cache}");
    // Only the cache tag is kept: the run's own name for the image is removed.
    assert!(!image_exists(&format!("{}_app", p.name)), "the run's image name was left behind");

    let second = p.slipway(&["steps", "--ci-branch", "feature-a"]);
    second.assert_code(0);
    let lines = build_lines(&second);
    assert!(lines.iter().any(|l| l.contains(&format!("using cache {cache}"))), "{lines:?}");
    assert!(lines.iter().any(|l| l.contains("Using cache")), "the builder reused layers: {lines:?}");
    assert!(!lines.iter().any(|l| l.contains("sleep 1") && l.starts_with(" ---> Running")), "{lines:?}");

    // A new branch starts from the default branch's cache.
    let on_master = p.slipway(&["steps", "--ci-branch", "master"]);
    on_master.assert_code(0);
    assert!(image_exists(&default_cache));
    let new_branch = p.slipway(&["steps", "--ci-branch", "feature-b"]);
    assert!(
        build_lines(&new_branch).iter().any(|l| l.contains(&format!("using cache {default_cache}"))),
        "{:?}",
        build_lines(&new_branch)
    );

    // A changed build on master moves only master's cache tag: the image it meant before
    // keeps its other name — another branch's cache (feature-b's, built from it
    // unchanged), or one of yours. (The engine, asked to remove an image by id, removes
    // its one remaining name.)
    let branch_b = format!("slipway-cache/{}/app:feature-b", p.name);
    let mine = format!("{}-mine:keep", p.name);
    for (round, other_name) in [&branch_b, &mine].into_iter().enumerate() {
        let old_master = image_id(&default_cache);
        if other_name == &mine {
            let tagged = Command::new("docker").args(["tag", &default_cache, &mine]).output().unwrap();
            assert!(tagged.status.success());
        }
        assert_eq!(image_id(other_name), old_master);
        p.write("Dockerfile", &format!("FROM busybox\nRUN echo changed-{round} > /layer\nCMD [\"cat\", \"/layer\"]\n"));
        p.slipway(&["steps", "--ci-branch", "master"]).assert_code(0);
        assert_ne!(image_id(&default_cache), old_master, "master's cache did not move");
        let after = image_id(other_name);
        remove_images(&[&mine]);
        assert_eq!(after, old_master, "{other_name} went with master's old cache");
    }

    // cache ls / rm
    let ls = Command::new(BIN).args(["cache", "ls"]).output().unwrap();
    assert!(String::from_utf8_lossy(&ls.stdout).contains(&cache));
    let rm = p.slipway(&["cache", "rm", "app", "--branch", "feature-a"]);
    rm.assert_code(0);
    assert!(!image_exists(&cache));
    assert!(image_exists(&default_cache));
    p.slipway(&["cache", "rm"]).assert_code(0);
    assert!(!image_exists(&default_cache));
    p.assert_no_leftovers();
}

#[test]
fn a_cache_registry_warms_a_machine_without_the_cache() {
    let registry = Registry::start(None);
    let p = project_with_build("cache-registry", true);
    let cache = format!("{}/slipway-cache/{}/app:main", registry.host, p.name);
    let r = p.slipway(&["steps", "--ci-branch", "main", "--cache-registry", &registry.host]);
    r.assert_code(0);
    assert!(build_lines(&r).iter().any(|l| l.contains(&format!("pushed cache {cache}"))), "{:?}", build_lines(&r));
    // A "fresh machine": neither the cache nor the built image is local any more.
    remove_images(&[&cache, &format!("{}_app", p.name)]);
    assert!(!image_exists(&cache));
    let r = p.slipway(&["steps", "--ci-branch", "main", "--cache-registry", &registry.host]);
    r.assert_code(0);
    let lines = build_lines(&r);
    assert!(lines.iter().any(|l| l.contains("pulled from the cache registry")), "{lines:?}");
    assert!(lines.iter().any(|l| l.contains("Using cache")), "cache-from reused the pulled layers: {lines:?}");
    // The local copy named after the registry is this project's cache too.
    let ls = p.slipway(&["cache", "ls", "--project-only"]);
    assert!(ls.stdout.contains(&cache), "{}", ls.dump());
    p.slipway(&["cache", "rm", "--branch", "main"]).assert_code(0);
    assert!(!image_exists(&cache), "cache rm left the registry-named copy");
    remove_images(&[&format!("{}_app", p.name)]);
    p.assert_no_leftovers();
}

#[test]
fn load_builds_a_service_and_leaves_it_tagged() {
    let p = project_with_build("load", false);
    let image = format!("{}_app", p.name);
    let r = p.slipway(&["load", "app"]);
    r.assert_code(0);
    assert!(r.stdout.contains(&image), "{}", r.dump());
    assert!(image_exists(&image));
    let r = p.slipway(&["load", "nope"]);
    r.assert_code(1);
    let loaded = image_id(&image);

    // A run whose build is the loaded image, every layer cached, leaves it as it was.
    p.slipway(&["steps"]).assert_code(0);
    assert_eq!(image_id(&image), loaded, "the run removed the image `load` made");
    // A run that builds something else gives the name back to the loaded image at its end.
    p.write("Dockerfile", "FROM busybox\nRUN echo changed > /layer\nCMD [\"cat\", \"/layer\"]\n");
    let r = p.slipway(&["steps"]);
    r.assert_code(0);
    assert_eq!(r.output("use"), ["changed"]);
    assert_eq!(image_id(&image), loaded, "the name did not go back to the loaded image");
    remove_images(&[&image]);
    p.assert_no_leftovers();
}

/// Images labelled with the project that have no tag: what a lost build race or an
/// interrupted build leaves behind.
fn dangling_images(project: &str) -> Vec<String> {
    let out = Command::new("docker")
        .args(["images", "-q", "--filter", "dangling=true", "--filter"])
        .arg(format!("label=io.slipway.project={project}"))
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).lines().map(str::to_string).collect()
}

#[test]
fn services_sharing_an_image_name_share_one_build_whatever_the_step_order() {
    let p = TestProject::new("shared-build");
    p.write("Dockerfile", "FROM busybox\nRUN echo built > /built\n");
    let image = format!("{}-shared", p.name);
    p.write(
        "codeship-services.yml",
        &format!(
            "app:\n  build: {{ image: {image}, dockerfile: Dockerfile }}\nworker:\n  build: {{ image: {image}, dockerfile: Dockerfile }}\ntests:\n  image: {image}\n"
        ),
    );
    // `tests` comes first: it runs what `app` builds, not a pull of a name no registry has.
    p.write(
        "codeship-steps.yml",
        "- { name: tests, service: tests, command: cat /built }\n- type: parallel\n  steps:\n    - { name: app, service: app, command: cat /built }\n    - { name: worker, service: worker, command: cat /built }\n",
    );
    let r = p.slipway(&["steps"]);
    r.assert_code(0);
    for step in ["tests", "app", "worker"] {
        assert_eq!(r.output(step), ["built"], "{step}");
    }
    let builds = r.events.iter().filter(|e| e["event"] == "image_started" && e["action"] == "build").count();
    assert_eq!(builds, 1, "one build for the three services");
    assert!(!image_exists(&image), "the built image was left behind");
    assert_eq!(dangling_images(&p.name), Vec::<String>::new(), "untagged images were left behind");
    p.assert_no_leftovers();
}

#[test]
fn two_different_builds_of_one_image_name_each_run_their_own() {
    // Jet builds every service on its own; the name is for pushing. Codeship's own
    // examples name two different builds alike.
    let p = TestProject::new("two-builds-one-name");
    p.write("Dockerfile", "FROM busybox\n");
    p.write("Other.Dockerfile", "FROM busybox\nRUN touch /other\n");
    p.write(
        "codeship-services.yml",
        "app:\n  build: { image: acme/one, dockerfile: Dockerfile }\nworker:\n  build: { image: acme/one, dockerfile: Other.Dockerfile }\n",
    );
    p.write(
        "codeship-steps.yml",
        "- type: parallel\n  steps:\n  - { name: app, service: app, command: \"test ! -e /other\" }\n  - { name: worker, service: worker, command: \"test -e /other\" }\n",
    );
    p.slipway(&["validate"]).assert_code(0);
    let r = p.slipway(&["steps"]);
    r.assert_code(0);
    assert_eq!(r.status("app"), "passed", "{}", r.dump());
    assert_eq!(r.status("worker"), "passed", "{}", r.dump());
    p.assert_no_leftovers();
}

#[test]
fn a_run_keeps_its_own_image_while_another_project_builds_the_same_name() {
    // Two checkouts (or branches) of one project on a shared CI machine build one name.
    let shared = "slipway-test/one-name-two-projects";
    let first = TestProject::new("same-name-first");
    first.write("Dockerfile", "FROM busybox\nRUN echo first > /who\n");
    first.write("codeship-services.yml", &format!("app:\n  build: {{ image: {shared}, context: . }}\n"));
    first.write(
        "codeship-steps.yml",
        "- { name: hold, service: app, command: \"sh -c 'echo ready; sleep 4'\" }\n- { name: who, service: app, command: cat /who }\n",
    );
    let second = TestProject::new("same-name-second");
    second.write("Dockerfile", "FROM busybox\nRUN echo second > /who\n");
    second.write("codeship-services.yml", &format!("app:\n  build: {{ image: {shared}, context: . }}\n"));
    second.write("codeship-steps.yml", "- { name: who, service: app, command: cat /who }\n");

    let events = first.events_path();
    let child = first.command(&["steps"], &events).spawn().expect("spawn");
    support::wait_for_event(&events, "the first run's start", Duration::from_secs(120), |e| {
        e["event"] == "step_output" && e["line"] == "ready"
    });
    // The second project builds the name anew, runs, and removes its image at its end.
    let r = second.slipway(&["steps"]);
    r.assert_code(0);
    assert_eq!(r.output("who"), ["second"]);

    let out = child.wait_with_output().expect("first run");
    let r = first.result(out, &events);
    r.assert_code(0);
    assert_eq!(r.output("who"), ["first"], "the first run's later step ran another image: {}", r.dump());
    assert!(!image_exists(shared), "the name was left behind");
    assert_eq!(dangling_images(&first.name), Vec::<String>::new(), "the first run's image was left behind");
    first.assert_no_leftovers();
    second.assert_no_leftovers();
}

#[test]
fn gc_removes_the_image_of_a_run_that_was_killed() {
    let p = TestProject::new("gc-image");
    p.write("Dockerfile", "FROM busybox\nRUN echo x > /x\n");
    p.write("codeship-services.yml", "app:\n  build: .\n");
    p.write("codeship-steps.yml", "- { name: long, service: app, command: \"sh -c 'echo ready; sleep 120'\" }\n");
    let image = format!("{}_app", p.name);
    // The name already means an image of the user's: gc gives it back.
    let tagged = Command::new("docker").args(["tag", "busybox", &image]).output().unwrap();
    assert!(tagged.status.success(), "{}", String::from_utf8_lossy(&tagged.stderr));
    let before = image_id(&image);
    // Two killed runs, each building the name anew: gc undoes both, whatever order their
    // run ids sort in.
    let mut built = Vec::new();
    for change in ["one", "two"] {
        p.write("Dockerfile", &format!("FROM busybox\nRUN echo {change} > /x\n"));
        let events = p.events_path();
        let _ = std::fs::remove_file(&events);
        let mut child = p.command(&["steps"], &events).spawn().unwrap();
        support::wait_for_event(&events, "the step's start", Duration::from_secs(60), |e| e["event"] == "step_output");
        child.kill().unwrap(); // SIGKILL: no clean-up at all
        child.wait().unwrap();
        built.push(image_id(&image));
    }
    assert!(built[0] != before && built[1] != built[0], "the runs did not build");
    let gc = Command::new(BIN).arg("gc").output().unwrap();
    assert!(gc.status.success(), "{}", String::from_utf8_lossy(&gc.stderr));
    let after = image_id(&image);
    remove_images(&[&image]);
    assert_eq!(after, before, "the name did not go back to busybox: {}", String::from_utf8_lossy(&gc.stdout));
    for id in &built {
        assert!(!image_exists(id), "gc left a built image: {}", String::from_utf8_lossy(&gc.stdout));
    }
    p.assert_no_leftovers();
}

#[test]
fn two_runs_of_one_build_leave_no_image_whichever_ends_first() {
    let p = TestProject::new("two-runs-one-build");
    p.write("Dockerfile", "FROM busybox\nRUN echo built > /who\n");
    p.write("codeship-services.yml", "web:\n  build: .\n");
    p.write("codeship-steps.yml", "- { name: first, service: web, command: \"sh -c 'cat /who; sleep $PAUSE'\" }\n");
    let image = format!("{}_web", p.name);
    // A starts and builds; B starts while A runs, its build all cached: the same image.
    // A ends first, then B.
    let events_a = p.events_path().with_file_name("a.jsonl");
    let a = p.command(&["steps", "-e", "PAUSE=4"], &events_a).stderr(std::process::Stdio::piped()).spawn().unwrap();
    support::wait_for_event(&events_a, "A's step start", Duration::from_secs(60), |e| e["event"] == "step_output");
    let b = p.command(&["steps", "-e", "PAUSE=6"], &p.events_path()).spawn().unwrap();
    let a = a.wait_with_output().unwrap();
    let b = p.result(b.wait_with_output().unwrap(), &p.events_path());
    let a_stderr = String::from_utf8_lossy(&a.stderr);
    assert!(a.status.success(), "{a_stderr}");
    assert!(!a_stderr.contains("clean-up"), "A complained at its clean-up: {a_stderr}");
    b.assert_code(0);
    assert!(!image_exists(&image), "the image outlived both runs");
    p.assert_no_leftovers();
}

#[test]
fn add_docker_gives_the_service_the_engine() {
    let p = TestProject::with_files(
        "add-docker",
        "app:\n  image: python:3.11\n  add_docker: true\n",
        "- name: ping\n  service: app\n  command: python3 -c \"import os, socket; s = socket.socket(socket.AF_UNIX); s.connect(os.environ['DOCKER_HOST'][len('unix://'):]); s.sendall(b'GET /_ping HTTP/1.0\\r\\n\\r\\n'); print(s.recv(4096).decode().split()[-1])\"\n",
    );
    let r = p.slipway(&["steps"]);
    r.assert_code(0);
    assert_eq!(r.output("ping"), ["OK"]);
    p.assert_no_leftovers();
}
