//! Pushing and pulling with a real registry on the engine: a plain one and one behind
//! htpasswd basic auth, credentials from an encrypted docker config, a dockercfg service
//! or the user's own docker config.

mod support;

use support::registry::{docker_config, image_exists, image_id, remove_images, repo_digests, Registry};
use support::TestProject;

const KEY: &str = "E6kwQsGsIGMWrDQYmfnUcnHb+Yq2slOHH4/IBkVzaHo=";

fn encrypt(p: &TestProject, plain_name: &str, text: &str, encrypted_name: &str) {
    p.write(plain_name, text);
    let r = p.slipway_env(&["encrypt", plain_name, encrypted_name], &[("SLIPWAY_AES_KEY", KEY)]);
    r.assert_code(0);
    std::fs::remove_file(p.file(plain_name)).unwrap();
}

#[test]
fn push_steps_push_to_a_registry_and_the_digest_pulls_back() {
    let registry = Registry::start(None);
    let image = format!("{}/demo/app", registry.host);
    let p = TestProject::new("push");
    p.write("Dockerfile", "FROM busybox\nRUN echo pushed-content > /content\n");
    p.write("codeship-services.yml", &format!("app:\n  build:\n    image: {image}\n"));
    p.write(
        "codeship-steps.yml",
        &format!("- {{ name: check, service: app, command: cat /content }}\n- name: publish\n  type: push\n  service: app\n  image_name: {image}\n  image_tag: \"{{{{ .Branch }}}}-1\"\n"),
    );
    // Without --push the step is skipped.
    let r = p.slipway(&["steps", "--ci-branch", "release/1"]);
    r.assert_code(0);
    assert_eq!(r.status("publish"), "skipped");
    assert!(registry.manifest_digest("demo/app", "release1-1", None).is_none());

    let r = p.slipway(&["steps", "--push", "--ci-branch", "release/1"]);
    r.assert_code(0);
    assert_eq!(r.status("publish"), "passed");
    assert!(r.output("publish").iter().any(|l| l.contains("digest: sha256:")), "{}", r.dump());
    let served = registry.manifest_digest("demo/app", "release1-1", None).expect("the registry has the tag");
    let local = repo_digests(&format!("{image}:release1-1"));
    assert!(local.iter().any(|d| d.ends_with(&served)), "local {local:?} vs served {served}");

    // Pull it back by digest into a clean engine state.
    let original = image_id(&format!("{image}:release1-1"));
    remove_images(&[&format!("{image}:release1-1"), &format!("{image}:latest")]);
    assert!(!image_exists(&original));
    let by_digest = format!("{image}@{served}");
    let pulled = std::process::Command::new("docker").args(["pull", &by_digest]).output().unwrap();
    assert!(pulled.status.success(), "{}", String::from_utf8_lossy(&pulled.stderr));
    assert_eq!(image_id(&by_digest), original);
    remove_images(&[&by_digest]);
    p.assert_no_leftovers();
}

#[test]
fn authenticated_push_with_an_encrypted_dockercfg_and_a_clear_error_for_a_wrong_password() {
    let registry = Registry::start(Some(("ci", "s3cret-pass")));
    let image = format!("{}/private/app", registry.host);
    let p = TestProject::new("push-auth");
    p.write("Dockerfile", "FROM busybox\nRUN echo private > /content\n");
    p.write("codeship-services.yml", &format!("app:\n  build:\n    image: {image}\n"));
    encrypt(&p, "dockercfg", &docker_config(&registry.host, "ci", "s3cret-pass"), "dockercfg.encrypted");
    encrypt(&p, "badcfg", &docker_config(&registry.host, "ci", "wrong-pass"), "badcfg.encrypted");
    p.write(
        "codeship-steps.yml",
        &format!(
            "- type: serial\n  encrypted_dockercfg_path: dockercfg.encrypted\n  steps:\n    - {{ name: good, type: push, service: app, image_name: {image}, image_tag: v1 }}\n- {{ name: bad, type: push, service: app, image_name: {image}, image_tag: v2, encrypted_dockercfg_path: badcfg.encrypted }}\n"
        ),
    );
    let r = p.slipway_env(&["steps", "--push"], &[("SLIPWAY_AES_KEY", KEY)]);
    r.assert_code(1);
    assert_eq!(r.status("good"), "passed", "{}", r.dump());
    assert!(registry.manifest_digest("private/app", "v1", Some(("ci", "s3cret-pass"))).is_some());
    let bad = r.finished("bad");
    assert_eq!(bad["status"], "failed");
    let message = bad["message"].as_str().unwrap();
    assert!(
        message.contains("push of")
            && (message.contains("unauthorized") || message.contains("authentication required")),
        "{message}"
    );
    assert!(
        !r.stdout.contains("s3cret-pass") && !r.stdout.contains("wrong-pass"),
        "a password was shown: {}",
        r.dump()
    );
    // The tag made for the push that failed is gone; the pushed one stays.
    assert!(!image_exists(&format!("{image}:v2")), "a failed push left its tag");
    assert!(image_exists(&format!("{image}:v1")));
    remove_images(&[&format!("{image}:v1"), &format!("{image}:latest")]);
    p.assert_no_leftovers();
}

#[test]
fn a_dockercfg_service_provides_credentials_and_the_users_config_is_the_fallback() {
    let registry = Registry::start(Some(("gen", "generated-pass")));
    let image = format!("{}/gen/app", registry.host);
    let p = TestProject::new("dockercfg-service");
    p.write("Dockerfile", "FROM busybox\n");
    let config = docker_config(&registry.host, "gen", "generated-pass").replace('"', "\\\"");
    p.write(
        "codeship-services.yml",
        &format!("app:\n  build:\n    image: {image}\ncreds:\n  image: busybox\n  entrypoint: [sh, -c, 'echo \"{config}\" > \"$0\"']\n"),
    );
    p.write(
        "codeship-steps.yml",
        &format!("- {{ name: via-service, type: push, service: app, image_name: {image}, image_tag: v1, dockercfg_service: creds }}\n"),
    );
    let r = p.slipway(&["steps", "--push"]);
    r.assert_code(0);
    assert!(registry.manifest_digest("gen/app", "v1", Some(("gen", "generated-pass"))).is_some(), "{}", r.dump());
    assert!(!r.stdout.contains("generated-pass"));

    // No credentials in the pipeline: the user's docker config (DOCKER_CONFIG) is used.
    let home = tempfile::tempdir().unwrap();
    std::fs::write(home.path().join("config.json"), docker_config(&registry.host, "gen", "generated-pass")).unwrap();
    p.write(
        "codeship-steps.yml",
        &format!("- {{ name: via-home, type: push, service: app, image_name: {image}, image_tag: v2 }}\n"),
    );
    let r = p.slipway_env(&["steps", "--push"], &[("DOCKER_CONFIG", home.path().to_str().unwrap())]);
    r.assert_code(0);
    assert!(registry.manifest_digest("gen/app", "v2", Some(("gen", "generated-pass"))).is_some());
    remove_images(&[&format!("{image}:v1"), &format!("{image}:v2"), &format!("{image}:latest")]);
    p.assert_no_leftovers();
}

#[test]
fn private_images_are_pulled_and_built_from_with_credentials() {
    let registry = Registry::start(Some(("puller", "pull-pass")));
    let base = format!("{}/base/busybox:1", registry.host);
    // Put busybox into the private registry.
    let home = tempfile::tempdir().unwrap();
    std::fs::write(home.path().join("config.json"), docker_config(&registry.host, "puller", "pull-pass")).unwrap();
    let docker = |args: &[&str]| {
        let out = std::process::Command::new("docker").env("DOCKER_CONFIG", home.path()).args(args).output().unwrap();
        assert!(out.status.success(), "docker {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    docker(&["tag", "busybox", &base]);
    docker(&["push", &base]);
    remove_images(&[&base]);

    let p = TestProject::new("private-pull");
    encrypt(&p, "dockercfg", &docker_config(&registry.host, "puller", "pull-pass"), "dockercfg.encrypted");
    p.write("Dockerfile", &format!("FROM {base}\nRUN echo built-on-private > /b\n"));
    p.write(
        "codeship-services.yml",
        &format!("direct:\n  image: {base}\n  encrypted_dockercfg_path: dockercfg.encrypted\nbuilt:\n  build: .\n  encrypted_dockercfg_path: dockercfg.encrypted\n"),
    );
    p.write("codeship-steps.yml", "- { name: pulled, service: direct, command: echo pulled }\n- { name: built, service: built, command: cat /b }\n");
    let r = p.slipway_env(&["steps"], &[("SLIPWAY_AES_KEY", KEY)]);
    r.assert_code(0);
    assert_eq!(r.output("pulled"), ["pulled"]);
    assert_eq!(r.output("built"), ["built-on-private"]);
    remove_images(&[&base]);

    // Without credentials the registry's refusal is shown.
    p.write("codeship-services.yml", &format!("direct:\n  image: {base}\n"));
    p.write("codeship-steps.yml", "- { name: pulled, service: direct, command: echo pulled }\n");
    let r = p.slipway_env(&["steps"], &[("DOCKER_CONFIG", tempfile::tempdir().unwrap().path().to_str().unwrap())]);
    r.assert_code(1);
    let message = r.finished("pulled")["message"].as_str().unwrap().to_string();
    assert!(
        message.starts_with("cannot pull image")
            && (message.contains("unauthorized") || message.contains("no basic auth")),
        "{message}"
    );
    p.assert_no_leftovers();
}
