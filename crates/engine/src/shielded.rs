//! A runtime whose creations finish even when the step that asked for them is
//! cancelled: a dropped request may still be carried out by the engine after the run's
//! final sweep looked for leftovers. Creations run as tracked tasks, and the sweep waits
//! for them ([`Shielded::settled`]) before it lists what carries the run's label.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures::stream::BoxStream;
use slipway_plan::BuildSpec;
use tokio_util::task::TaskTracker;

use crate::registry::Credentials;
use crate::runtime::{
    Attached, BuildOptions, ContainerSpec, ContainerState, ContainerSummary, ExecCommand, ImageInfo, ImageSummary,
    Labels, Leftovers, OutputChunk, ProgressFn, Result, Runtime, RuntimeError,
};

pub(crate) struct Shielded {
    inner: Arc<dyn Runtime>,
    creations: TaskTracker,
}

impl Shielded {
    pub fn new(inner: Arc<dyn Runtime>) -> Shielded {
        Shielded { inner, creations: TaskTracker::new() }
    }

    /// Wait until every creation asked for so far is done (bounded: an engine that hangs
    /// must not hang the clean-up).
    pub async fn settled(&self) {
        self.creations.close();
        let _ = tokio::time::timeout(Duration::from_secs(60), self.creations.wait()).await;
        self.creations.reopen();
    }

    /// Create a container in the background, counted among the creations the sweep
    /// waits for; for code that cannot wait (a build's output handler).
    pub fn create_container_soon(&self, spec: ContainerSpec) {
        let inner = self.inner.clone();
        self.creations.spawn(async move {
            if let Err(e) = inner.create_container(&spec).await {
                tracing::debug!("cannot create {}: {}", spec.name, e.message);
            }
        });
    }

    async fn shield<T: Send + 'static>(
        &self,
        work: impl std::future::Future<Output = Result<T>> + Send + 'static,
    ) -> Result<T> {
        self.creations
            .spawn(work)
            .await
            .unwrap_or_else(|e| Err(RuntimeError::other(format!("engine call failed: {e}"))))
    }
}

#[async_trait]
impl Runtime for Shielded {
    async fn create_network(&self, name: &str, labels: &Labels) -> Result<String> {
        let (inner, name, labels) = (self.inner.clone(), name.to_string(), labels.clone());
        self.shield(async move { inner.create_network(&name, &labels).await }).await
    }

    async fn create_volume(&self, name: &str, labels: &Labels) -> Result<()> {
        let (inner, name, labels) = (self.inner.clone(), name.to_string(), labels.clone());
        self.shield(async move { inner.create_volume(&name, &labels).await }).await
    }

    async fn create_container(&self, spec: &ContainerSpec) -> Result<String> {
        let (inner, spec) = (self.inner.clone(), spec.clone());
        self.shield(async move { inner.create_container(&spec).await }).await
    }

    async fn inspect_image(&self, image: &str) -> Result<Option<ImageInfo>> {
        self.inner.inspect_image(image).await
    }
    async fn pull_image(&self, image: &str, credentials: Option<&Credentials>, progress: ProgressFn<'_>) -> Result<()> {
        self.inner.pull_image(image, credentials, progress).await
    }
    async fn build_image(&self, build: &BuildSpec, options: &BuildOptions, output: ProgressFn<'_>) -> Result<()> {
        self.inner.build_image(build, options, output).await
    }
    async fn tag_image(&self, source: &str, target: &str) -> Result<()> {
        self.inner.tag_image(source, target).await
    }
    async fn push_image(
        &self,
        target: &str,
        credentials: Option<&Credentials>,
        progress: ProgressFn<'_>,
    ) -> Result<()> {
        self.inner.push_image(target, credentials, progress).await
    }
    async fn remove_image(&self, image: &str) -> Result<()> {
        self.inner.remove_image(image).await
    }
    async fn list_images(&self, prefix: &str) -> Result<Vec<ImageSummary>> {
        self.inner.list_images(prefix).await
    }
    async fn list_dangling_images(&self, key: Option<&str>) -> Result<Vec<ImageSummary>> {
        self.inner.list_dangling_images(key).await
    }
    async fn remove_network(&self, id: &str) -> Result<()> {
        self.inner.remove_network(id).await
    }
    async fn remove_volume(&self, name: &str) -> Result<()> {
        self.inner.remove_volume(name).await
    }
    async fn start_container(&self, id: &str) -> Result<()> {
        self.inner.start_container(id).await
    }
    async fn container_state(&self, id: &str) -> Result<ContainerState> {
        self.inner.container_state(id).await
    }
    async fn probe(&self, id: &str, test: &[String], timeout: Duration) -> Result<bool> {
        self.inner.probe(id, test, timeout).await
    }
    async fn attach(&self, id: &str, stdin: bool) -> Result<Attached> {
        self.inner.attach(id, stdin).await
    }
    async fn resize_tty(&self, id: &str, width: u16, height: u16) -> Result<()> {
        self.inner.resize_tty(id, width, height).await
    }
    async fn wait_exit(&self, id: &str) -> Result<i64> {
        self.inner.wait_exit(id).await
    }
    async fn tail_output(&self, id: &str, lines: usize) -> Result<Vec<String>> {
        self.inner.tail_output(id, lines).await
    }
    async fn remove_container(&self, id: &str) -> Result<()> {
        self.inner.remove_container(id).await
    }
    async fn rename_container(&self, id: &str, name: &str) -> Result<()> {
        self.inner.rename_container(id, name).await
    }
    async fn containers_labelled(&self, labels: &Labels) -> Result<Vec<ContainerSummary>> {
        self.inner.containers_labelled(labels).await
    }
    async fn read_file(&self, id: &str, path: &str) -> Result<Vec<u8>> {
        self.inner.read_file(id, path).await
    }
    async fn read_archive(&self, id: &str, path: &str) -> Result<BoxStream<'static, Result<bytes::Bytes>>> {
        self.inner.read_archive(id, path).await
    }
    async fn exec(&self, id: &str, command: &ExecCommand) -> Result<(BoxStream<'static, Result<OutputChunk>>, String)> {
        self.inner.exec(id, command).await
    }
    async fn exec_exit_code(&self, exec_id: &str) -> Result<i64> {
        self.inner.exec_exit_code(exec_id).await
    }
    async fn find_labelled(&self, labels: &Labels) -> Result<Leftovers> {
        self.inner.find_labelled(labels).await
    }
}
