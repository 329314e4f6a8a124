//! `slipway warm`: keep environments of a project's services started ahead of time, so
//! steps claim one instead of making their own (see [`crate::warm`]). Each environment
//! is a slot: a network of the pool's and, on it, a container of the service that only
//! waits. When a step has claimed and removed a slot's container, the pool starts a new
//! one on the same network. Everything carries the pool's own run labels, so `gc`
//! removes what a killed pool leaves.
//!
//! Runs lease containers over the pool's Unix socket (see [`crate::warm_server`]); a
//! container once leased is never free again.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use slipway_plan::Plan;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::container_spec::{container_spec, SpecRequest};
use crate::events::EventSink;
use crate::labels::{object_name, with, IMAGE_ID, PROJECT, RUN, SERVICE};
use crate::options::EngineOptions;
use crate::run::Run;
use crate::runtime::{ContainerSpec, ContainerSummary, ErrorKind, Healthcheck, ImageInfo, Labels, Runtime};
use crate::sweep::sweep_run;
use crate::warm::{can_run_warm, warm_key, WARM_KEY, WARM_NETWORK, WARM_PREFIX, WARM_SLOT, WARM_SOCKET};
use crate::warm_agent::AGENT;
use crate::warm_server::{listen, serve, socket_path, Ready, SharedShelf};

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
    let run = Run::new(plan, runtime.clone(), options, events);
    let socket = socket_path(&run.plan.run_id);
    let listener = listen(&socket)?;
    let shelf = SharedShelf::default();
    let returned = Arc::new(tokio::sync::Notify::new());
    let server = tokio::spawn(serve(listener, shelf.clone(), runtime, returned.clone()));
    let pool = PoolRun { shelf, returned, socket: socket.display().to_string() };
    let result = run.keep_warm(&pool, services, &cancel, status).await;
    server.abort();
    let _ = std::fs::remove_file(&socket);
    sweep_run(&run).await;
    result
}

/// What the pool's loop shares with its socket.
struct PoolRun {
    shelf: SharedShelf,
    /// Told when a run hands a container back, so its slot refills at once.
    returned: Arc<tokio::sync::Notify>,
    socket: String,
}

impl Run {
    async fn keep_warm(
        &self,
        pool_run: &PoolRun,
        services: &[(String, usize)],
        cancel: &CancellationToken,
        status: Status<'_>,
    ) -> Result<(), String> {
        // The networks first: they carry this process's labels, so while the images
        // build, `slipway gc` elsewhere sees the project as busy and leaves the build's
        // untagged layers alone.
        let mut slots = Vec::new();
        for (pool, (_, size)) in services.iter().enumerate() {
            for _ in 0..*size {
                if cancel.is_cancelled() {
                    return Ok(());
                }
                slots.push(Slot { pool, network: self.take_network(None).await? });
            }
        }
        let mut pools = Vec::new();
        for (service, _) in services {
            let image = tokio::select! {
                image = self.image(service, None) => image?,
                _ = cancel.cancelled() => return Ok(()),
            };
            let (spec, key) = self.warm_spec(service, &image)?;
            pools.push(Pool { service: service.clone(), image, spec, key, failed: None });
        }
        let mut generation = 0usize;
        let mut images_checked = Instant::now();
        let mut announced = false;
        let shelf = &pool_run.shelf;
        // Returned containers are removed in the background, so their slots refill at once.
        let removing: Arc<Mutex<HashSet<String>>> = Arc::default();
        let removals = TaskTracker::new();
        let remove_later = |id: String| {
            removing.lock().expect("removing").insert(id.clone());
            let (runtime, removing) = (self.runtime.clone(), removing.clone());
            removals.spawn(async move {
                let _ = runtime.remove_container(&id).await;
                removing.lock().expect("removing").remove(&id);
            });
        };
        // Images the pool moved away from: the run that rebuilt the name left them to
        // the pool, whose containers still ran them.
        let mut replaced: Vec<String> = Vec::new();
        while !cancel.is_cancelled() {
            if images_checked.elapsed() >= IMAGE_POLL {
                images_checked = Instant::now();
                replaced.extend(self.follow_rebuilt_images(&mut pools, status).await);
                self.remove_replaced_images(&mut replaced).await;
            }
            let containers = match self.pool_containers().await {
                Ok(containers) => containers,
                Err(e) => {
                    // Not knowing what is there, start nothing: look again shortly.
                    self.notice(format!("cannot list the pool's containers: {e}"));
                    tokio::time::sleep(IMAGE_POLL).await;
                    continue;
                }
            };
            shelf.lock().expect("shelf").keep_only(&containers.iter().map(|c| c.id.as_str()).collect());
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
                let (leased, waiting, replace) = {
                    let mut shelf = shelf.lock().expect("shelf");
                    (shelf.leased.contains(&c.id), shelf.returned.contains_key(&c.id), shelf.take_returned(&c.id))
                };
                if replace {
                    remove_later(c.id.clone());
                    to_start.push(index);
                } else if leased || waiting {
                    // A run's step is in it (the run hands it back when done), or it waits
                    // to be replaced until the steps still running are done.
                } else if !c.running {
                    shelf.lock().expect("shelf").free.remove(&c.id);
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
                    if shelf.lock().expect("shelf").free.remove(&c.id).is_some() {
                        remove_later(c.id.clone());
                    }
                }
            }
            let started = futures::future::join_all(to_start.iter().map(|&index| {
                generation += 1;
                let slot = &slots[index];
                self.start_warm(pool_run, &pools[slot.pool], slot, index, generation)
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
                self.drain_pool(shelf, status).await;
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
                _ = pool_run.returned.notified() => {}
                _ = cancel.cancelled() => {}
            }
        }
        removals.close();
        removals.wait().await;
        self.drain_pool(shelf, status).await;
        self.remove_replaced_images(&mut replaced).await;
        Ok(())
    }

    /// Remove the images the pool moved away from once they have no name and no container
    /// runs them; keep the others in `replaced` to try again.
    async fn remove_replaced_images(&self, replaced: &mut Vec<String>) {
        if replaced.is_empty() {
            return;
        }
        let project = format!("{PROJECT}={}", self.plan.project);
        let Ok(dangling) = self.runtime.list_dangling_images(Some(&project)).await else { return };
        let mut still = Vec::new();
        for id in replaced.drain(..) {
            if !dangling.iter().any(|i| i.id == id) {
                // Named again (tagged by someone), or gone: not the pool's to remove.
                continue;
            }
            if let Err(e) = self.runtime.remove_image(&id).await {
                if e.kind == ErrorKind::Conflict {
                    still.push(id);
                }
            }
        }
        *replaced = still;
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
    /// Returns the ids of the images it moved away from.
    async fn follow_rebuilt_images(&self, pools: &mut [Pool], status: Status<'_>) -> Vec<String> {
        let mut replaced = Vec::new();
        for pool in pools.iter_mut().filter(|p| p.failed.is_none()) {
            // By name: the pool's containers run the image by id.
            let Some(name) = self.plan.image_name(&pool.service) else { continue };
            let Ok(Some(image)) = self.runtime.inspect_image(name).await else { continue };
            if image.id == pool.image.id {
                continue;
            }
            match self.warm_spec(&pool.service, &image) {
                Ok((spec, key)) => {
                    status(format!("`{}`: its image changed; warming the new one", pool.service));
                    replaced.push(pool.image.id.clone());
                    // The run that built it left it to the pool (its containers will run
                    // it): removed when the pool stops, as the pool's own build is.
                    if self.plan.image_builder(&pool.service).is_some() {
                        self.images.note_built(name, &image.id, None);
                    }
                    (pool.spec, pool.key, pool.image) = (spec, key, image);
                }
                Err(e) => {
                    self.notice(e.clone());
                    pool.failed = Some(e);
                }
            }
        }
        replaced
    }

    /// The pool's containers.
    async fn pool_containers(&self) -> Result<Vec<ContainerSummary>, String> {
        let filter =
            Labels::from([(RUN.to_string(), self.plan.run_id.clone()), (WARM_SLOT.to_string(), String::new())]);
        self.runtime.containers_labelled(&filter).await.map_err(|e| e.message)
    }

    /// A new waiting container in `slot`, attached so runs' commands reach its agent.
    async fn start_warm(
        &self,
        pool_run: &PoolRun,
        pool: &Pool,
        slot: &Slot,
        index: usize,
        generation: usize,
    ) -> Result<(), String> {
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
                &[
                    (WARM_KEY, &pool.key),
                    (IMAGE_ID, &pool.image.id),
                    (WARM_SLOT, &slot_label),
                    (WARM_NETWORK, &slot.network),
                    (WARM_SOCKET, &pool_run.socket),
                ],
            ),
            network: Some((slot.network.clone(), vec![pool.service.clone()])),
            entrypoint: Some(vec!["/bin/sh".into(), "-c".into(), AGENT.into()]),
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
        let attached = match self.runtime.attach(&id, true).await {
            Ok(attached) => attached,
            Err(e) => {
                let _ = self.runtime.remove_container(&id).await;
                return Err(format!("cannot attach to its container: {}", e.message));
            }
        };
        if let Err(e) = self.runtime.start_container(&id).await {
            let _ = self.runtime.remove_container(&id).await;
            return Err(format!("{} (a warm container waits with /bin/sh, which the image must have)", e.message));
        }
        let ready = Ready { key: pool.key.clone(), network: slot.network.clone(), attached };
        pool_run.shelf.lock().expect("shelf").free.insert(id, ready);
        Ok(())
    }

    /// Remove the containers nobody leased; wait for the runs that lease the others to
    /// hand them back.
    async fn drain_pool(&self, shelf: &SharedShelf, status: Status<'_>) {
        let mut told = false;
        loop {
            let (free, returned, leased) = {
                let mut shelf = shelf.lock().expect("shelf");
                let free: Vec<String> = shelf.free.drain().map(|(id, _)| id).collect();
                let returned: Vec<String> = shelf.returned.drain().map(|(id, _)| id).collect();
                (free, returned, shelf.leased.clone())
            };
            futures::future::join_all(free.iter().chain(&returned).map(|id| self.runtime.remove_container(id))).await;
            if leased.is_empty() {
                // Anything else of the pool (a container whose start failed half-way) goes
                // with the run's sweep.
                return;
            }
            if !told {
                told = true;
                let containers = self.pool_containers().await.unwrap_or_default();
                let by_service: BTreeMap<&str, usize> =
                    containers.iter().filter(|c| leased.contains(&c.id)).fold(BTreeMap::new(), |mut m, c| {
                        *m.entry(c.labels.get(SERVICE).map_or("?", String::as_str)).or_default() += 1;
                        m
                    });
                let list: Vec<String> = by_service.iter().map(|(s, n)| format!("{s} ×{n}")).collect();
                status(format!(
                    "waiting for {} step(s) running in warm environments to finish ({}); Ctrl-C again to stop at once",
                    leased.len(),
                    list.join(", ")
                ));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}
