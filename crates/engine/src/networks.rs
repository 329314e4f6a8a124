//! The run's networks: every step gets its own, and a finished step's network, empty
//! again and so as good as new, goes to the next step instead of being removed and
//! created again. The run's final sweep removes them.

use std::time::{Duration, Instant};

use slipway_plan::StepId;

use crate::labels::object_name;
use crate::run::Run;
use crate::runtime::ErrorKind;

impl Run {
    /// A network of this run: an idle one, or a new one. While the engine has no free
    /// address pool, wait for another step to give one back.
    pub(crate) async fn take_network(&self, step: Option<StepId>) -> Result<String, String> {
        if let Some(network) = self.idle_networks.lock().expect("networks").pop() {
            return Ok(network);
        }
        let n = self.network_count.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
        let name = object_name(&["slipway", &self.plan.run_id, &format!("net{n}")]);
        let mut waited = false;
        let deadline = Instant::now() + self.options.health_timeout;
        loop {
            match self.runtime.create_network(&name, &self.labels).await {
                Ok(network) => return Ok(network),
                Err(e) if e.kind == ErrorKind::AddressPoolsExhausted && Instant::now() < deadline => {
                    if let Some(network) = self.idle_networks.lock().expect("networks").pop() {
                        return Ok(network);
                    }
                    if let (false, Some(id)) = (waited, step) {
                        self.phase(id, "waiting for a free network (all of the engine's address pools are in use; -j limits parallel steps)");
                        waited = true;
                    }
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
                Err(e) => return Err(format!("cannot create a network: {}", e.message)),
            }
        }
    }

    /// A network for work outside a step; `None` (no network) if none can be had.
    pub(crate) async fn take_network_for(&self, what: &str) -> Option<String> {
        match self.take_network(None).await {
            Ok(network) => Some(network),
            Err(e) => {
                self.notice(format!("{what} runs without a network: {e}"));
                None
            }
        }
    }

    /// A network whose containers are all removed.
    pub(crate) fn give_back_network(&self, network: String) {
        self.idle_networks.lock().expect("networks").push(network);
    }
}
