//! What every part of the server shares: settings, databases, paths, the running builds.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use slipway_store::Store;
use tokio::sync::{broadcast, watch, Notify};

use crate::builds::Status;
use crate::config::ServerConfig;
use crate::db::Db;

/// Where things live in the data dir.
#[derive(Clone, Debug)]
pub struct Paths {
    pub data: PathBuf,
    /// The run history every build records into (`--state-dir` of its `slipway steps`).
    pub history: PathBuf,
    /// `builds/<id>/`: events.jsonl, junit.xml, output.log.
    pub builds: PathBuf,
    /// `workspaces/<id>/<project>/`: the checkout, removed when the build ends.
    pub workspaces: PathBuf,
}

impl Paths {
    pub fn new(data: PathBuf) -> Paths {
        Paths { history: data.join("history"), builds: data.join("builds"), workspaces: data.join("workspaces"), data }
    }

    pub fn build_dir(&self, id: i64) -> PathBuf {
        self.builds.join(id.to_string())
    }

    pub fn events(&self, id: i64) -> PathBuf {
        self.build_dir(id).join("events.jsonl")
    }

    pub fn junit(&self, id: i64) -> PathBuf {
        self.build_dir(id).join("junit.xml")
    }

    pub fn output(&self, id: i64) -> PathBuf {
        self.build_dir(id).join("output.log")
    }
}

/// A build whose `slipway steps` is running.
pub struct Running {
    pub project: String,
    pub branch: String,
    /// The child process, once started (None while the checkout runs).
    pub pid: Option<u32>,
    /// Why it was asked to stop, once it was: it got SIGTERM for the first reason only.
    pub stop: Option<StopReason>,
    /// The number of complete lines in its events file, for live viewers.
    pub events: watch::Receiver<u64>,
}

/// Why a running build was told to stop; decides how its end is recorded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopReason {
    /// By a user or a newer push: it ends cancelled.
    Cancelled,
    /// The server is stopping: it ends interrupted and is queued again.
    ServerStopping,
}

pub struct Server {
    pub config: ServerConfig,
    pub db: Db,
    pub store: Store,
    pub paths: Paths,
    pub slipway_bin: PathBuf,
    /// Wakes the dispatcher: a build was queued or finished.
    pub wake: Notify,
    pub running: Mutex<HashMap<i64, Running>>,
    /// Set (with `running` locked) when the server stops: no build starts after that.
    pub stopping: AtomicBool,
    /// Every status change, for live pages.
    pub statuses: broadcast::Sender<(i64, Status)>,
}

pub type Shared = Arc<Server>;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Db(#[from] crate::db::DbError),
    #[error("history store: {0}")]
    Store(#[from] slipway_store::StoreError),
    #[error("cannot find the slipway binary to run builds with: {0}")]
    Binary(std::io::Error),
}

impl Server {
    pub fn open(config: ServerConfig) -> Result<Shared, StartError> {
        let paths = Paths::new(config.data_dir.clone());
        let db = Db::open(&paths.data)?;
        let store = Store::open(&paths.history)?;
        let slipway_bin = match &config.slipway_bin {
            Some(bin) => bin.clone(),
            None => std::env::current_exe().map_err(StartError::Binary)?,
        };
        let (statuses, _) = broadcast::channel(256);
        Ok(Arc::new(Server {
            config,
            db,
            store,
            paths,
            slipway_bin,
            wake: Notify::new(),
            running: Mutex::new(HashMap::new()),
            stopping: AtomicBool::new(false),
            statuses,
        }))
    }

    pub fn running(&self) -> std::sync::MutexGuard<'_, HashMap<i64, Running>> {
        self.running.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }

    pub fn announce(&self, id: i64, status: Status) {
        // No receivers is fine: nobody is watching.
        let _ = self.statuses.send((id, status));
    }

    /// The events counter of a running build, for live viewers.
    pub fn live_events(&self, id: i64) -> Option<watch::Receiver<u64>> {
        self.running().get(&id).map(|r| r.events.clone())
    }
}
