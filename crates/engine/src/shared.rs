//! What lives for the whole run rather than one step: containers that lend volumes
//! (`volumes_from`) and named volumes (`name:/path`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use futures::future::BoxFuture;
use futures::FutureExt;
use tokio::sync::OnceCell;

use crate::container_spec::{container_spec, SpecRequest};
use crate::labels::{object_name, with, SERVICE};
use crate::run::Run;

type Cell = Arc<OnceCell<Result<String, String>>>;

#[derive(Default)]
pub(crate) struct Shared {
    containers: Mutex<HashMap<String, Cell>>,
    volumes: Mutex<HashMap<String, Cell>>,
}

fn cell(map: &Mutex<HashMap<String, Cell>>, key: &str) -> Cell {
    map.lock().expect("shared lock").entry(key.to_string()).or_default().clone()
}

impl Run {
    /// Engine name of the run-wide named volume `name`.
    pub fn named_volume_name(&self, name: &str) -> String {
        object_name(&["slipway", &self.plan.run_id, "vol", name])
    }

    /// Create the run-wide named volumes `service` mounts (once each).
    pub async fn ensure_named_volumes(&self, service: &str) -> Result<(), String> {
        for volume in &self.plan.services[service].volumes {
            if let slipway_plan::VolumeSpec::Named { name, .. } = volume {
                let engine_name = self.named_volume_name(name);
                cell(&self.shared.volumes, name)
                    .get_or_init(|| async {
                        let labels = with(&self.labels, &[("io.slipway.volume", name)]);
                        self.runtime
                            .create_volume(&engine_name, &labels)
                            .await
                            .map(|()| engine_name.clone())
                            .map_err(|e| format!("cannot create volume `{name}`: {}", e.message))
                    })
                    .await
                    .clone()?;
            }
        }
        Ok(())
    }

    /// `volumes_from` entries of `service` as container references (`id` or `id:ro`),
    /// creating the lending containers the first time.
    pub fn volumes_from<'a>(&'a self, service: &'a str) -> BoxFuture<'a, Result<Vec<String>, String>> {
        async move {
            let mut out = Vec::new();
            for (lender, read_only) in &self.plan.services[service].volumes_from {
                let id = self.shared_container(lender).await?;
                out.push(if *read_only { format!("{id}:ro") } else { id });
            }
            Ok(out)
        }
        .boxed()
    }

    /// The run-wide container of a lending service: created and started once, with no
    /// network (it only has to hold its volumes).
    fn shared_container<'a>(&'a self, service: &'a str) -> BoxFuture<'a, Result<String, String>> {
        async move {
            cell(&self.shared.containers, service)
                .get_or_init(|| async {
                    let image = self.image(service, None).await?;
                    self.ensure_named_volumes(service).await?;
                    let volumes_from = self.volumes_from(service).await?;
                    let name = object_name(&["slipway", &self.plan.run_id, "shared", service]);
                    let named = |n: &str| self.named_volume_name(n);
                    let (spec, own_volumes) = container_spec(SpecRequest {
                        service: &self.plan.services[service],
                        image: &image,
                        name: name.clone(),
                        labels: with(&self.labels, &[(SERVICE, service)]),
                        network: None,
                        command: None,
                        volume_prefix: name.clone(),
                        named_volume: &named,
                        volumes_from,
                    });
                    for volume in &own_volumes {
                        self.runtime.create_volume(volume, &spec.labels).await.map_err(|e| e.message)?;
                    }
                    let id = self.runtime.create_container(&spec).await.map_err(|e| {
                        format!("cannot create the `{service}` container that lends volumes: {}", e.message)
                    })?;
                    self.runtime.start_container(&id).await.map_err(|e| {
                        format!("cannot start the `{service}` container that lends volumes: {}", e.message)
                    })?;
                    Ok(id)
                })
                .await
                .clone()
        }
        .boxed()
    }
}
