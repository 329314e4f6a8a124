//! `slipway trigger`: queue a build on a server through its API.

use std::process::ExitCode;
use std::time::Duration;

use super::fail;
use crate::cli::TriggerArgs;

pub fn trigger(args: &TriggerArgs) -> ExitCode {
    let base = args.server.trim_end_matches('/');
    let body = serde_json::json!({ "project": args.project, "branch": args.branch, "commit": args.commit });
    let agent = ureq::Agent::new_with_config(ureq::Agent::config_builder().http_status_as_error(false).build());
    let response = agent
        .post(&format!("{base}/api/builds"))
        .header("Authorization", &format!("Bearer {}", args.token))
        .send_json(&body);
    let mut response = match response {
        Ok(r) => r,
        Err(e) => {
            return fail(format!("cannot reach the slipway server at {base}: {e} (set --server or SLIPWAY_SERVER)"))
        }
    };
    let status = response.status();
    let answer: serde_json::Value = response.body_mut().read_json().unwrap_or_default();
    if !status.is_success() {
        let message = answer["error"].as_str().unwrap_or("no explanation");
        return fail(format!("the server refused the build ({status}): {message}"));
    }
    let id = answer["id"].as_i64().unwrap_or_default();
    outln!("build #{id} queued: {base}/builds/{id}");
    if !args.wait {
        return ExitCode::SUCCESS;
    }
    loop {
        std::thread::sleep(Duration::from_secs(2));
        let build: serde_json::Value = match agent
            .get(&format!("{base}/api/builds/{id}"))
            .header("Authorization", &format!("Bearer {}", args.token))
            .call()
            .and_then(|mut r| r.body_mut().read_json())
        {
            Ok(v) => v,
            Err(e) => return fail(format!("lost the server while waiting for build #{id}: {e}")),
        };
        let status = build["build"]["status"].as_str().unwrap_or("unknown").to_string();
        if !matches!(status.as_str(), "queued" | "running") {
            // Why it ended as it did, when the server knows (a failed fetch, a cancel).
            match build["build"]["note"].as_str().map(str::trim).filter(|note| !note.is_empty()) {
                Some(note) => outln!("build #{id} {status}: {note}"),
                None => outln!("build #{id} {status}"),
            }
            return if status == "passed" { ExitCode::SUCCESS } else { ExitCode::from(super::EXIT_FAILURE) };
        }
    }
}
