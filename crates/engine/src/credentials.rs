//! Which registry credentials apply: a decrypted `encrypted_dockercfg_path`, the output
//! of a `dockercfg_service`, or the user's own docker config.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use slipway_plan::RegistryAuthSpec;
use tokio::sync::OnceCell;

use crate::container_spec::{container_spec, SpecRequest};
use crate::labels::{object_name, with, SERVICE};
use crate::lines::LineSplitter;
use crate::registry::DockerConfig;
use crate::run::Run;

/// Where a `dockercfg_service` writes the config: a volume mounted only for it.
const DOCKERCFG_DIR: &str = "/slipway-dockercfg";
const DOCKERCFG_FILE: &str = "/slipway-dockercfg/config.json";

type Cell = Arc<OnceCell<Result<DockerConfig, String>>>;

/// Configs made by `dockercfg_service`s, once per service per run.
#[derive(Default)]
pub(crate) struct GeneratedConfigs {
    cells: Mutex<HashMap<String, Cell>>,
}

impl Run {
    /// The docker config for these credentials settings; `None` when there is none.
    pub(crate) async fn docker_config(&self, auth: &RegistryAuthSpec) -> Result<Option<DockerConfig>, String> {
        if let Some(path) = &auth.encrypted_dockercfg_path {
            return match self.options.registry.docker_configs.get(path) {
                Some(config) => Ok(Some(config.clone())),
                None => Err(format!("encrypted_dockercfg_path `{path}` was not decrypted before the run")),
            };
        }
        if let Some(service) = &auth.dockercfg_service {
            let cell =
                self.generated_configs.cells.lock().expect("configs").entry(service.clone()).or_default().clone();
            // Boxed: the service's own image may need credentials too (never its own:
            // validation refuses a service that is its own dockercfg_service).
            let generate = Box::pin(self.run_dockercfg_service(service));
            return cell.get_or_init(|| generate).await.clone().map(Some);
        }
        Ok(self.options.registry.default_config.clone())
    }

    /// Jet's `dockercfg_service`: run the service with one argument, a file path on a
    /// volume mounted for it; it writes a docker config there, which slipway reads. The
    /// volume (and with it the file) is removed right after.
    fn run_dockercfg_service<'a>(
        &'a self,
        service: &'a str,
    ) -> futures::future::BoxFuture<'a, Result<DockerConfig, String>> {
        Box::pin(self.run_dockercfg_service_inner(service))
    }

    async fn run_dockercfg_service_inner(&self, service: &str) -> Result<DockerConfig, String> {
        let what = format!("dockercfg_service `{service}`");
        let spec = &self.plan.services[service];
        // Its own image is pulled with the user's credentials: it cannot depend on itself.
        let image = self.image(service, None).await.map_err(|e| format!("{what}: {e}"))?;
        let name = object_name(&["slipway", &self.plan.run_id, "dockercfg", service]);
        let labels = with(&self.labels, &[(SERVICE, service)]);
        let volume = format!("{name}-out");
        self.runtime.create_volume(&volume, &labels).await.map_err(|e| format!("{what}: {}", e.message))?;
        let network = self.take_network_for(&what).await;
        let named = |n: &str| self.named_volume_name(n);
        let (mut container, own_volumes) = container_spec(SpecRequest {
            service: spec,
            image: &image,
            name: name.clone(),
            labels: labels.clone(),
            network: network.clone().map(|n| (n, vec![service.to_string()])),
            command: Some(vec![DOCKERCFG_FILE.to_string()]),
            volume_prefix: name.clone(),
            named_volume: &named,
            volumes_from: Vec::new(),
        });
        container.mounts.push(crate::runtime::Mount {
            source: crate::runtime::MountSource::Volume(volume.clone()),
            target: DOCKERCFG_DIR.to_string(),
            read_only: false,
        });
        let result = async {
            for v in &own_volumes {
                self.runtime.create_volume(v, &labels).await.map_err(|e| e.message)?;
            }
            let id = self.runtime.create_container(&container).await.map_err(|e| e.message)?;
            let attached = self.runtime.attach(&id, false).await.map_err(|e| e.message)?;
            self.runtime.start_container(&id).await.map_err(|e| e.message)?;
            let mut output = attached.output;
            let mut lines = LineSplitter::default();
            let mut tail: Vec<String> = Vec::new();
            let collect = async {
                use futures::StreamExt;
                while let Some(Ok(chunk)) = output.next().await {
                    tail.extend(lines.push(chunk.stream, &chunk.bytes));
                }
                tail.extend(lines.finish().into_iter().map(|(_, l)| l));
            };
            let (code, ()) = tokio::join!(self.runtime.wait_exit(&id), collect);
            let code = code.map_err(|e| e.message)?;
            if code != 0 {
                let last: Vec<&String> = tail.iter().rev().take(20).collect::<Vec<_>>().into_iter().rev().collect();
                return Err(format!(
                    "exited with code {code}; its last lines:\n  {}",
                    last.iter().map(|l| l.as_str()).collect::<Vec<_>>().join("\n  ")
                ));
            }
            let bytes = self.runtime.read_file(&id, DOCKERCFG_FILE).await.map_err(|e| {
                format!("wrote no docker config at {DOCKERCFG_FILE} (it gets that path as its argument): {}", e.message)
            })?;
            let _ = self.runtime.remove_container(&id).await;
            for v in &own_volumes {
                let _ = self.runtime.remove_volume(v).await;
            }
            DockerConfig::parse(&String::from_utf8_lossy(&bytes))
                .map_err(|e| format!("wrote {DOCKERCFG_FILE}, but it is {e}"))
        }
        .await;
        // The config holds credentials: remove the volume holding the file at once.
        let _ = self.runtime.remove_volume(&volume).await;
        if let Some(network) = network {
            self.give_back_network(network);
        }
        let config = result.map_err(|e| format!("{what}: {e}"))?;
        self.add_secrets(config.secrets());
        Ok(config)
    }
}
