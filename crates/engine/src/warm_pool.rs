//! `slipway warm`: keep environments of a project's services started ahead of time, so
//! steps claim one instead of making their own (see [`crate::warm`]). Each environment
//! is a slot: a network of the pool's and, on it, a container of the service that only
//! waits. When a step has claimed and removed a slot's container, the pool starts a new
//! one on the same network. Everything carries the pool's own run labels, so `gc`
//! removes what a killed pool leaves.
//!
//! A container once claimed is never free again, even if its marker goes first (a
//! claimer killed, then `gc`): the pool remembers it and removes it.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use slipway_plan::Plan;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::container_spec::{container_spec, SpecRequest};
use crate::events::EventSink;
use crate::labels::{object_name, with, HOST, RUN, SERVICE};
use crate::options::EngineOptions;
use crate::queue::KEEPALIVE;
use crate::run::Run;
use crate::runtime::{ContainerSpec, ContainerSummary, Healthcheck, ImageInfo, Labels, Runtime};
use crate::sweep::sweep_run;
use crate::warm::{
    can_run_warm, claim, read_marker, warm_key, CLAIMER_HOST, CLAIMER_PID, WARM_CLAIM, WARM_KEY, WARM_NETWORK,
    WARM_PREFIX, WARM_SLOT,
};

/// How often the pool looks for claimed slots to refill.
const REFILL_POLL: Duration = Duration::from_millis(100);
/// How often the pool checks whether a service's image was rebuilt under its name.
const IMAGE_POLL: Duration = Duration::from_secs(2);

/// One service kept warm.
struct Pool {
    service: String,
    image: ImageInfo,
    /// The container a step of the service would run in, whose [`warm_key`] it carries.
    spec: ContainerSpec,
    key: String,
    /// Why it stopped being kept warm.
    failed: Option<String>,
}

/// Claim markers by the short id of the container they claim, and whether the claimer is
/// done with it.
type Claims = HashMap<String, (ContainerSummary, bool)>;

/// Where the pool says what it does (not a warning).
pub type Status<'a> = &'a (dyn Fn(String) + Send + Sync);

struct Slot {
    pool: usize,
    network: String,
}

/// Keep `size` warm environments of each service until `cancel`; then wait for the
/// steps still running in claimed ones (a second signal ends the process), and remove
/// everything. The error says why a service cannot be kept warm.
pub async fn keep_warm(
    plan: Arc<Plan>,
    runtime: Arc<dyn Runtime>,
    options: EngineOptions,
    events: EventSink,
    services: &[(String, usize)],
    cancel: CancellationToken,
    status: Status<'_>,
) -> Result<(), String> {
    let run = Run::new(plan, runtime, options, events);
    let result = run.keep_warm(services, &cancel, status).await;
    sweep_run(&run).await;
    result
}

impl Run {
    async fn keep_warm(
        &self,
        services: &[(String, usize)],
        cancel: &CancellationToken,
        status: Status<'_>,
    ) -> Result<(), String> {
        let mut pools = Vec::new();
        for (service, _) in services {
            let image = tokio::select! {
                image = self.image(service, None) => image?,
                _ = cancel.cancelled() => return Ok(()),
            };
            let (spec, key) = self.warm_spec(service, &image)?;
            pools.push(Pool { service: service.clone(), image, spec, key, failed: None });
        }
        let mut slots = Vec::new();
        for (pool, (_, size)) in services.iter().enumerate() {
            for _ in 0..*size {
                if cancel.is_cancelled() {
                    return Ok(());
                }
                slots.push(Slot { pool, network: self.take_network(None).await? });
            }
        }
        let mut generation = 0usize;
        let mut images_checked = Instant::now();
        let mut announced = false;
        let mut once_claimed: HashSet<String> = HashSet::new();
        // Claimed containers are removed in the background, so their slots refill at once.
        let removing: Arc<Mutex<HashSet<String>>> = Arc::default();
        let removals = TaskTracker::new();
        let remove_later = |ids: Vec<String>| {
            removing.lock().expect("removing").extend(ids.iter().cloned());
            let (runtime, removing) = (self.runtime.clone(), removing.clone());
            removals.spawn(async move {
                // The container before its marker: while the container exists, its marker
                // is what keeps steps from claiming it.
                for id in ids {
                    let _ = runtime.remove_container(&id).await;
                    removing.lock().expect("removing").remove(&id);
                }
            });
        };
        while !cancel.is_cancelled() {
            if images_checked.elapsed() >= IMAGE_POLL {
                images_checked = Instant::now();
                self.follow_rebuilt_images(&mut pools, status).await;
            }
            let (containers, claims) = match self.pool_state().await {
                Ok(state) => state,
                Err(e) => {
                    // Not knowing what is there, start nothing: look again shortly.
                    self.notice(format!("cannot list the pool's containers: {e}"));
                    tokio::time::sleep(IMAGE_POLL).await;
                    continue;
                }
            };
            once_claimed.retain(|id| containers.iter().any(|c| &c.id == id));
            let in_removal = |id: &str| removing.lock().expect("removing").contains(id);
            let mut to_start = Vec::new();
            for (index, slot) in slots.iter().enumerate() {
                let pool = &mut pools[slot.pool];
                if pool.failed.is_some() {
                    continue;
                }
                let occupant = containers
                    .iter()
                    .find(|c| c.labels.get(WARM_SLOT) == Some(&index.to_string()) && !in_removal(&c.id));
                let Some(c) = occupant else {
                    to_start.push(index);
                    continue;
                };
                if let Some((marker, done)) = claims.get(short(&c.id)) {
                    once_claimed.insert(c.id.clone());
                    // Done, or claimed by a step that was killed before it could say so.
                    if *done || !self.claimer_alive(&marker.labels) {
                        remove_later(vec![c.id.clone(), marker.id.clone()]);
                        to_start.push(index);
                    }
                } else if once_claimed.contains(&c.id) {
                    remove_later(vec![c.id.clone()]);
                    to_start.push(index);
                } else if !c.running {
                    let last = self.runtime.tail_output(&c.id, 20).await.unwrap_or_default();
                    let e = format!(
                        "its container stopped on its own (it waits with /bin/sh, which the image must have){}",
                        if last.is_empty() { String::new() } else { format!(":\n  {}", last.join("\n  ")) }
                    );
                    self.notice(format!("`{}` cannot be kept warm: {e}", pool.service));
                    pool.failed = Some(e);
                    let _ = self.runtime.remove_container(&c.id).await;
                } else if c.labels.get(WARM_KEY) != Some(&pool.key) {
                    // Made for an image since rebuilt: no step would claim it.
                    self.remove_free(c).await;
                }
            }
            // Markers left without their container (its claimer removed both and one failed).
            for (short_id, (marker, done)) in &claims {
                let orphan = !containers.iter().any(|c| short(&c.id) == short_id);
                if orphan && !in_removal(&marker.id) && (*done || !self.claimer_alive(&marker.labels)) {
                    remove_later(vec![marker.id.clone()]);
                }
            }
            let started = futures::future::join_all(to_start.iter().map(|&index| {
                generation += 1;
                let slot = &slots[index];
                self.start_warm(&pools[slot.pool], slot, index, generation)
            }))
            .await;
            for (index, result) in to_start.iter().zip(started) {
                let pool = &mut pools[slots[*index].pool];
                if let (Err(e), None) = (result, &pool.failed) {
                    self.notice(format!("`{}` cannot be kept warm: {e}", pool.service));
                    pool.failed = Some(e);
                }
            }
            if pools.iter().all(|p| p.failed.is_some()) {
                removals.close();
                removals.wait().await;
                self.drain_pool(status).await;
                return Err("no service could be kept warm".to_string());
            }
            if !announced {
                announced = true;
                let ready: Vec<String> = pools
                    .iter()
                    .enumerate()
                    .filter(|(_, p)| p.failed.is_none())
                    .map(|(i, p)| format!("{} ×{}", p.service, slots.iter().filter(|s| s.pool == i).count()))
                    .collect();
                status(format!("warm: {} (Ctrl-C stops and removes them)", ready.join(", ")));
            }
            tokio::select! {
                _ = tokio::time::sleep(REFILL_POLL) => {}
                _ = cancel.cancelled() => {}
            }
        }
        removals.close();
        removals.wait().await;
        self.drain_pool(status).await;
        Ok(())
    }

    /// The container a step of `service` would run in, and its key; an error if the
    /// service has something a warm environment cannot share between runs.
    fn warm_spec(&self, service: &str, image: &ImageInfo) -> Result<(ContainerSpec, String), String> {
        let config = &self.plan.services[service];
        if !can_run_warm(config, image) {
            return Err(format!(
                "`{service}` cannot be kept warm: it has volumes of its own (anonymous or named, or its image's VOLUMEs) or volumes_from, which belong to one run"
            ));
        }
        let (spec, _) = container_spec(SpecRequest {
            service: config,
            image,
            name: String::new(),
            labels: with(&self.labels, &[(SERVICE, service)]),
            network: None,
            command: None,
            volume_prefix: String::new(),
            named_volume: &|volume: &str| volume.to_string(),
            volumes_from: Vec::new(),
        });
        let key = warm_key(&spec, image);
        Ok((spec, key))
    }

    /// A service whose image was rebuilt under its name (a run of a changed Dockerfile)
    /// is kept warm with the new image from now on.
    async fn follow_rebuilt_images(&self, pools: &mut [Pool], status: Status<'_>) {
        for pool in pools.iter_mut().filter(|p| p.failed.is_none()) {
            let Ok(Some(image)) = self.runtime.inspect_image(&pool.spec.image).await else { continue };
            if image.id == pool.image.id {
                continue;
            }
            match self.warm_spec(&pool.service, &image) {
                Ok((spec, key)) => {
                    status(format!("`{}`: its image changed; warming the new one", pool.service));
                    (pool.spec, pool.key, pool.image) = (spec, key, image);
                }
                Err(e) => {
                    self.notice(e.clone());
                    pool.failed = Some(e);
                }
            }
        }
    }

    /// The pool's containers, and the markers claiming them by the claimed container's
    /// short id.
    async fn pool_state(&self) -> Result<(Vec<ContainerSummary>, Claims), String> {
        let run_id = self.plan.run_id.clone();
        let containers = Labels::from([(RUN.to_string(), run_id.clone()), (WARM_SLOT.to_string(), String::new())]);
        let markers = Labels::from([(WARM_CLAIM.to_string(), run_id)]);
        let (containers, markers) =
            tokio::join!(self.runtime.containers_labelled(&containers), self.runtime.containers_labelled(&markers));
        let claims = markers
            .map_err(|e| e.message)?
            .into_iter()
            .filter_map(|m| {
                let (short, done) = read_marker(&m.name)?;
                Some((short.to_string(), (m.clone(), done)))
            })
            .collect();
        Ok((containers.map_err(|e| e.message)?, claims))
    }

    /// Remove a container no step claimed, claiming it first so none claims it meanwhile.
    async fn remove_free(&self, container: &ContainerSummary) {
        let image = self.pool_image(container);
        if let Some(marker) = claim(self.runtime.as_ref(), container, &image, &self.options.extra_labels).await {
            let _ = self.runtime.remove_container(&container.id).await;
            let _ = self.runtime.remove_container(&marker).await;
        }
    }

    /// The image a pool container runs (a marker is created from it).
    fn pool_image(&self, container: &ContainerSummary) -> String {
        let service = container.labels.get(SERVICE).map_or("", String::as_str);
        self.plan.services.get(service).map(|s| s.image.clone()).unwrap_or_default()
    }

    /// A new waiting container in `slot`.
    async fn start_warm(&self, pool: &Pool, slot: &Slot, index: usize, generation: usize) -> Result<(), String> {
        let slot_label = index.to_string();
        let spec = ContainerSpec {
            name: object_name(&[
                WARM_PREFIX.trim_end_matches('-'),
                &self.plan.run_id,
                &slot_label,
                &generation.to_string(),
            ]),
            labels: with(
                &pool.spec.labels,
                &[(WARM_KEY, &pool.key), (WARM_SLOT, &slot_label), (WARM_NETWORK, &slot.network)],
            ),
            network: Some((slot.network.clone(), vec![pool.service.clone()])),
            entrypoint: Some(vec!["/bin/sh".into(), "-c".into(), KEEPALIVE.into()]),
            cmd: None,
            stdin: true,
            // Nothing waits on a step's own container being healthy; probes would only
            // cost CPU while it waits.
            healthcheck: Some(Healthcheck {
                test: vec!["NONE".into()],
                interval: None,
                timeout: None,
                start_period: None,
                retries: None,
            }),
            ..pool.spec.clone()
        };
        let id = self.runtime.create_container(&spec).await.map_err(|e| e.message)?;
        if let Err(e) = self.runtime.start_container(&id).await {
            let _ = self.runtime.remove_container(&id).await;
            return Err(format!("{} (a warm container waits with /bin/sh, which the image must have)", e.message));
        }
        Ok(())
    }

    /// Whether the step whose marker carries `labels` still runs (claimers on other
    /// hosts are taken to be alive).
    fn claimer_alive(&self, labels: &Labels) -> bool {
        let (Some(host), Some(pid)) = (labels.get(CLAIMER_HOST), labels.get(CLAIMER_PID).and_then(|p| p.parse().ok()))
        else {
            return true;
        };
        self.options.extra_labels.get(HOST).is_none_or(|h| h != host) || crate::liveness::slipway_runs(pid)
    }

    /// Remove the containers nobody claimed; wait for the claimed ones to be removed by
    /// the steps running in them.
    async fn drain_pool(&self, status: Status<'_>) {
        let mut told = false;
        loop {
            let (containers, claims) = self.pool_state().await.unwrap_or_default();
            let (claimed, free): (Vec<_>, Vec<_>) = containers.iter().partition(|c| claims.contains_key(short(&c.id)));
            futures::future::join_all(free.iter().map(|c| self.remove_free(c))).await;
            // Those whose step is done go now; those whose step still runs are waited for.
            let (done, claimed): (Vec<_>, Vec<_>) = claimed.into_iter().partition(|c| {
                let (marker, done) = &claims[short(&c.id)];
                *done || !self.claimer_alive(&marker.labels)
            });
            futures::future::join_all(done.iter().map(|c| async {
                let _ = self.runtime.remove_container(&c.id).await;
                let _ = self.runtime.remove_container(&claims[short(&c.id)].0.id).await;
            }))
            .await;
            let busy = claimed;
            if busy.is_empty() {
                return;
            }
            if !told {
                told = true;
                let by_service: BTreeMap<&str, usize> = busy.iter().fold(BTreeMap::new(), |mut m, c| {
                    *m.entry(c.labels.get(SERVICE).map_or("?", String::as_str)).or_default() += 1;
                    m
                });
                let list: Vec<String> = by_service.iter().map(|(s, n)| format!("{s} ×{n}")).collect();
                status(format!(
                    "waiting for {} step(s) running in warm environments to finish ({}); Ctrl-C again to stop at once",
                    busy.len(),
                    list.join(", ")
                ));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// A container id as a marker names it.
fn short(id: &str) -> &str {
    &id[..id.len().min(12)]
}
