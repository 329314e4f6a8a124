//! Compose keys slipway accepts and ignores: one warning per key for the whole services
//! file (a compose file that sets `networks` on ten services gets one line, not ten),
//! with what ignoring it means for a step.

use crate::diagnostic::Diagnostics;
use crate::source::Span;

/// One ignored key where a service sets it.
pub(crate) struct IgnoredKey {
    pub key: String,
    pub span: Span,
    pub service: String,
}

/// Why `key` is ignored, and what that means for the steps.
fn why(key: &str) -> &'static str {
    match key {
        "ports" | "expose" => "steps never publish ports; a step reaches its services by name on its own network",
        "container_name" => "slipway names every run's containers itself, so that runs never clash",
        "networks" | "network_mode" | "external_links" | "dns" | "dns_search" | "domainname" | "mac_address" => {
            "every step gets a network of its own, where its services answer to their names and link aliases"
        }
        "restart" | "deploy" | "profiles" => "a step starts the services it needs once, for that step",
        "logging" | "log_driver" | "log_opt" => "slipway reads every container's output itself",
        "labels" => "slipway labels every container with its run, so that `slipway gc` finds it",
        "stop_signal" | "stop_grace_period" => "a step's containers are removed as soon as it ends",
        "tty" | "stdin_open" => "steps run without a terminal (`slipway run` gives one when started from a terminal)",
        "mem_limit" | "mem_reservation" | "memswap_limit" | "mem_swappiness" | "cpus" | "cpu_shares" | "cpu_quota"
        | "cpuset" | "oom_score_adj" => "steps run without resource limits",
        "extends" => "only compose files (docker-compose.yml, compose.yaml) have `extends`",
        // Settings a container may need to work at all: say so.
        _ => "containers start with the engine's defaults; if the step needs this setting it may fail",
    }
}

/// One warning per key, at its first use, naming every service that sets it.
pub(crate) fn warn_ignored_keys(ignored: &[IgnoredKey], diags: &mut Diagnostics) {
    let mut keys: Vec<&str> = Vec::new();
    for entry in ignored {
        if !keys.contains(&entry.key.as_str()) {
            keys.push(&entry.key);
        }
    }
    for key in keys {
        let uses: Vec<&IgnoredKey> = ignored.iter().filter(|entry| entry.key == key).collect();
        let services: Vec<String> = uses.iter().map(|entry| format!("`{}`", entry.service)).collect();
        let where_ = if services.len() == 1 { "service" } else { "services" };
        let message = format!("`{key}` in {where_} {} is ignored: {}", services.join(", "), why(key));
        diags.warning(&uses[0].span, message);
    }
}
