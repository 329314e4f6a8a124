//! Encryption (Jet's v1 files and slipway's own), encrypted env files and build args at
//! run time, and masking: a secret never appears in anything slipway writes.

mod support;

use support::TestProject;

const KEY: &str = "E6kwQsGsIGMWrDQYmfnUcnHb+Yq2slOHH4/IBkVzaHo=";
/// Codeship's published example, encrypted by Jet with KEY.
const JET_V1_EXAMPLE: &str = "6UU+0y1kdnR2CqcxLQ9WYwBtv0EjbbGfKLw994VzfZC7XA27dFIZygdU8ylr236OtuQ+PA/PUE11HPObTgWewgAl3zcIxvJKKEJcUAbnn3n0Ns0zw291nA8/EergAWKoog8P";

#[test]
fn decrypts_jets_v1_files_byte_for_byte() {
    let p = TestProject::new("jet-vector");
    p.write("key.key", &format!("{KEY}\n"));
    p.write("environment.encrypted", JET_V1_EXAMPLE);
    let r = p.slipway(&["decrypt", "--key-path", "key.key", "environment.encrypted", "environment"]);
    r.assert_code(0);
    let plain = std::fs::read(p.file("environment")).unwrap();
    assert_eq!(plain, b"# jet encrypt --key-path=key.key environment environment.encrypted\nFOO=bar\nBAZ=bat\n");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(p.file("environment")).unwrap().permissions().mode() & 0o777, 0o600);
}

#[test]
fn encrypt_keygen_and_clear_errors_for_wrong_keys_and_tampering() {
    let p = TestProject::new("crypt");
    let r = p.slipway(&["keygen", "codeship.aes"]);
    r.assert_code(0);
    p.slipway(&["keygen", "codeship.aes"]).assert_code(1); // never overwrites
    p.write("plain.env", "TOKEN=abcdef123456\n");
    for format in ["slipway", "jet-v1"] {
        p.slipway(&["encrypt", "--format", format, "plain.env", "sealed"]).assert_code(0);
        let sealed = std::fs::read_to_string(p.file("sealed")).unwrap();
        assert!(!sealed.contains("abcdef123456"));
        assert_eq!(format == "slipway", sealed.starts_with("slipway:v1:"));
        p.slipway(&["decrypt", "sealed", "back"]).assert_code(0);
        assert_eq!(std::fs::read_to_string(p.file("back")).unwrap(), "TOKEN=abcdef123456\n");
        // Another key must not decrypt it, and must not produce garbage either.
        let r = p.slipway_env(&["decrypt", "sealed", "-"], &[("SLIPWAY_AES_KEY", KEY)]);
        r.assert_code(1);
        assert!(r.stdout.is_empty());
        assert!(r.stderr.contains("`sealed`") && r.stderr.contains("wrong key"), "{}", r.dump());
    }
    // Tampering with slipway's format is detected.
    p.slipway(&["encrypt", "plain.env", "sealed"]).assert_code(0);
    let mut bytes = std::fs::read(p.file("sealed")).unwrap();
    let i = bytes.len() / 2;
    bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
    std::fs::write(p.file("sealed"), bytes).unwrap();
    let r = p.slipway(&["decrypt", "sealed", "-"]);
    r.assert_code(1);
    assert!(r.stderr.contains("`sealed`"), "{}", r.dump());
    assert!(r.stdout.is_empty());
}

#[test]
fn encrypted_env_and_args_are_decrypted_and_every_secret_is_masked() {
    let p = TestProject::new("masking");
    p.write("codeship.aes", &format!("{KEY}\n"));
    p.write("secrets.env", "API_TOKEN=tok-7f3a9c1e-secret\nSHORT=abc\nSHARED=enc\n");
    p.slipway(&["encrypt", "secrets.env", "secrets.env.encrypted"]).assert_code(0);
    p.write("args.env", "BUILD_SECRET=build-arg-value-42\n");
    p.slipway(&["encrypt", "--format", "jet-v1", "args.env", "args.encrypted"]).assert_code(0);
    std::fs::remove_file(p.file("secrets.env")).unwrap();
    std::fs::remove_file(p.file("args.env")).unwrap();
    p.write("Dockerfile", "FROM busybox\nARG BUILD_SECRET\nRUN echo \"$BUILD_SECRET\" > /arg\n");
    p.write(
        "codeship-services.yml",
        "app:\n  build:\n    context: .\n    encrypted_args_file: args.encrypted\n  environment:\n    SHARED: from-environment\n  encrypted_env_file: secrets.env.encrypted\n",
    );
    p.write(
        "codeship-steps.yml",
        r#"- name: leaks
  service: app
  command: sh -c 'echo token=$API_TOKEN; echo short=$SHORT shared=$SHARED flag=$FLAG; cat /arg; printf tok-7f3a9; printf c1e-secret; echo; echo $API_TOKEN >&2; exit 3'
"#,
    );
    let junit = p.file("../junit.xml");
    let r = p.slipway(&["steps", "--junit", junit.to_str().unwrap(), "--secret-env", "FLAG=flag-secret-99"]);
    r.assert_code(1);
    let out = r.output("leaks");
    assert!(out.contains(&"token=***".to_string()), "{out:?}");
    // Values shorter than 4 characters are not masked; the encrypted env file wins over
    // `environment`.
    assert!(out.contains(&"short=abc shared=enc flag=***".to_string()), "{out:?}");
    assert!(out.contains(&"***".to_string()), "the build arg reached the image and is masked: {out:?}");
    let junit = std::fs::read_to_string(&junit).unwrap();
    let events = std::fs::read_to_string(p.events_path()).unwrap();
    for secret in ["tok-7f3a9c1e-secret", "build-arg-value-42", "flag-secret-99"] {
        assert!(!r.stdout.contains(secret) && !r.stderr.contains(secret), "{secret} in the terminal: {}", r.dump());
        assert!(!junit.contains(secret), "{secret} in JUnit");
        assert!(!events.contains(secret), "{secret} in the events");
    }
    p.assert_no_leftovers();
}

#[test]
fn encrypted_yaml_env_files_are_read_too() {
    let p = TestProject::new("yaml-env");
    p.write("codeship.aes", &format!("{KEY}\n"));
    p.write("env.yml", "# codeship encrypt env.yml env.yml.enc\nFOO: bar\nBAZ: bat-bat\n");
    p.slipway(&["encrypt", "--format", "jet-v1", "env.yml", "env.yml.enc"]).assert_code(0);
    p.write("codeship-services.yml", "app:\n  image: busybox\n  encrypted_env_file: env.yml.enc\n");
    p.write("codeship-steps.yml", "- { name: show, service: app, command: \"sh -c 'echo $FOO'\" }\n");
    let r = p.slipway(&["steps"]);
    r.assert_code(0);
    assert_eq!(r.output("show"), ["bar"]);
    p.assert_no_leftovers();
}

#[test]
fn steps_that_do_not_run_need_no_key() {
    let p = TestProject::new("skipped-no-key");
    p.write("codeship.aes", &format!("{KEY}\n"));
    p.write("deploy.env", "TOKEN=t0ps3cret\n");
    p.slipway(&["encrypt", "deploy.env", "deploy.env.encrypted"]).assert_code(0);
    p.slipway(&["encrypt", "deploy.env", "dockercfg.encrypted"]).assert_code(0);
    std::fs::remove_file(p.file("codeship.aes")).unwrap();
    p.write(
        "codeship-services.yml",
        "app:\n  image: busybox\ndeploy:\n  image: busybox\n  encrypted_env_file: deploy.env.encrypted\n",
    );
    p.write(
        "codeship-steps.yml",
        r#"
- { name: test, service: app, command: "true" }
- { name: deploy, service: deploy, command: "true", tag: master }
- type: push
  service: app
  image_name: busybox
  encrypted_dockercfg_path: dockercfg.encrypted
"#,
    );
    // Locally the deploy and push steps are skipped: the tests run without the key.
    let r = p.slipway(&["steps"]);
    r.assert_code(0);
    // On master the deploy step runs, and its secrets need the key.
    let r = p.slipway(&["steps", "--tag", "master"]);
    r.assert_code(1);
    assert!(r.stderr.contains("`deploy.env.encrypted` is encrypted, and there is no key"), "{}", r.dump());
    assert!(!r.stderr.contains("dockercfg.encrypted"), "the push step is skipped: {}", r.dump());
    p.assert_no_leftovers();
}

#[test]
fn an_encrypted_file_without_a_key_or_with_the_wrong_key_stops_the_run() {
    let p = TestProject::new("no-key");
    p.write("codeship.aes", &format!("{KEY}\n"));
    p.write("s.env", "A=b\n");
    p.slipway(&["encrypt", "s.env", "s.env.encrypted"]).assert_code(0);
    std::fs::remove_file(p.file("codeship.aes")).unwrap();
    p.write("codeship-services.yml", "app:\n  image: busybox\n  encrypted_env_file: s.env.encrypted\n");
    p.write("codeship-steps.yml", "- { service: app, command: 'true' }\n");
    let r = p.slipway(&["steps"]);
    r.assert_code(1);
    assert!(r.stderr.contains("codeship-services.yml:3:") && r.stderr.contains("there is no key"), "{}", r.dump());
    p.slipway(&["keygen"]).assert_code(0);
    let r = p.slipway(&["steps"]);
    r.assert_code(1);
    assert!(r.stderr.contains("`s.env.encrypted`") && r.stderr.contains("wrong key"), "{}", r.dump());
    assert!(r.events.is_empty(), "nothing may run");
    p.assert_no_leftovers();
}
