//! A step whose dependency fails while it runs: the step's failure says so, with the
//! dependency's last log lines.

mod support;

use support::TestProject;

#[test]
fn a_step_failing_after_its_dependency_crashed_names_it_and_shows_its_last_lines() {
    let p = TestProject::with_files(
        "dep-crashed",
        "app:\n  image: busybox\n  links: [db]\n  depends_on: [helper]\n\
         db:\n  image: busybox\n  command: sh -c 'echo db starting; echo FATAL no password set; exit 3'\n\
         helper:\n  image: busybox\n  command: sh -c 'echo done; exit 0'\n",
        "- { name: use-db, service: app, command: \"sh -c 'sleep 2; nc -z db 5432'\" }\n",
    );
    let r = p.slipway(&["steps"]);
    r.assert_code(1);
    let finished = r.finished("use-db");
    let message = finished["message"].as_str().unwrap_or_default();
    assert!(message.contains("its dependency `db` had exited with code 3"), "{message}");
    assert!(!message.contains("helper"), "a dependency that finished well is not blamed: {message}");
    let details: Vec<&str> = finished["details"].as_array().unwrap().iter().filter_map(|d| d.as_str()).collect();
    assert!(details.contains(&"FATAL no password set"), "{details:?}");
    assert!(r.stdout.contains("FATAL no password set"), "the terminal shows the lines: {}", r.stdout);
    p.assert_no_leftovers();
}

#[test]
fn a_missing_command_of_a_step_with_dependencies_is_named_plainly() {
    let p = TestProject::with_files(
        "dep-missing-cmd",
        "app:\n  image: busybox\n  depends_on: [db]\ndb:\n  image: busybox\n  command: sleep 30\n",
        "- { name: nocmd, service: app, command: npm test }\n",
    );
    let r = p.slipway(&["steps"]);
    r.assert_code(1);
    assert_eq!(r.finished("nocmd")["exit_code"], 127, "{}", r.dump());
    assert_eq!(r.output("nocmd"), ["slipway: `npm` is not in the image's $PATH"], "{}", r.dump());
    p.write("codeship-steps.yml", "- { name: nofile, service: app, command: ./gradlew test }\n");
    let r = p.slipway(&["steps"]);
    r.assert_code(1);
    assert_eq!(r.output("nofile"), ["slipway: `./gradlew` does not exist in the container"], "{}", r.dump());
    p.assert_no_leftovers();
}
