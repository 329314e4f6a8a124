//! `cached: true`: the built image is kept under a cache name per branch, and the next
//! build of that branch (or of a branch without a cache, from `default_cache_branch`)
//! uses it as its layer cache. With a cache registry the cache also travels to machines
//! that lack it.

use slipway_plan::template::{image_name_part, sanitize_image_tag};

use crate::images::remove_if_nameless;
use crate::run::Run;

/// Repository of cache images: `slipway-cache/<project>/<service>`.
pub const CACHE_REPOSITORY: &str = "slipway-cache";

/// The cache image of a service for a branch, optionally on a registry. Project and
/// service are path components of their own: joined by `-`, project `a` with service
/// `b-c` and project `a-b` with service `c` would share one cache.
pub fn cache_reference(registry: Option<&str>, project: &str, service: &str, branch: &str) -> String {
    let name = format!("{}/{}", image_name_part(project), image_name_part(service));
    let tag = match sanitize_image_tag(branch) {
        t if t.is_empty() => "default".to_string(),
        t => t,
    };
    match registry {
        Some(r) => format!("{}/{CACHE_REPOSITORY}/{name}:{tag}", r.trim_end_matches('/')),
        None => format!("{CACHE_REPOSITORY}/{name}:{tag}"),
    }
}

impl Run {
    fn cache_reference(&self, service: &str, branch: &str) -> String {
        cache_reference(self.options.cache.registry.as_deref(), &self.plan.project, service, branch)
    }

    /// The cache to build `service` from: this branch's, else the default branch's; local,
    /// else pulled from the cache registry. `None` when there is none.
    pub(crate) async fn cache_source(&self, service: &str, output: &(dyn Fn(String) + Send + Sync)) -> Option<String> {
        let default_branch = &self.plan.services[service].default_cache_branch;
        let mut branches = vec![self.options.cache.branch.clone()];
        if *default_branch != self.options.cache.branch {
            branches.push(default_branch.clone());
        }
        for branch in &branches {
            let reference = self.cache_reference(service, branch);
            if matches!(self.runtime.inspect_image(&reference).await, Ok(Some(_))) {
                output(format!("using cache {reference}"));
                return Some(reference);
            }
        }
        if self.options.cache.registry.is_some() {
            let credentials = self.options.registry.default_config.clone();
            for branch in &branches {
                let reference = self.cache_reference(service, branch);
                let creds = credentials.as_ref().and_then(|c| c.for_image(&reference));
                if self.runtime.pull_image(&reference, creds, &|_| {}).await.is_ok() {
                    output(format!("using cache {reference} (pulled from the cache registry)"));
                    return Some(reference);
                }
            }
        }
        output(if self.options.cache.branch.is_empty() {
            // Outside a git repository, and no --ci-branch: one cache for all runs.
            "no cache yet (no branch: not a git repository and no --ci-branch); building from scratch".to_string()
        } else {
            match branches.get(1) {
                Some(default) => format!(
                    "no cache for branch `{}` yet, nor for `{default}` (the service's `default_cache_branch`); building from scratch",
                    self.options.cache.branch
                ),
                None => format!("no cache for branch `{}` yet; building from scratch", self.options.cache.branch),
            }
        });
        None
    }

    /// Keep the new image as this branch's cache (and send it to the cache registry).
    pub(crate) async fn save_cache(&self, service: &str, image: &str, output: &(dyn Fn(String) + Send + Sync)) {
        let reference = self.cache_reference(service, &self.options.cache.branch);
        let previous = self.runtime.inspect_image(&reference).await.ok().flatten().map(|i| i.id);
        if let Err(e) = self.runtime.tag_image(image, &reference).await {
            self.notice(format!("cannot keep the cache of `{service}` as {reference}: {}", e.message));
            return;
        }
        // The cache it replaces would linger untagged: remove it, unless it still has a
        // name (another branch's cache, one of yours) or a container uses it.
        let current = self.runtime.inspect_image(&reference).await.ok().flatten().map(|i| i.id);
        if let Some(previous) = previous.filter(|p| Some(p) != current.as_ref()) {
            let _ = remove_if_nameless(self.runtime.as_ref(), &previous).await;
        }
        output(format!("saved cache {reference}"));
        if self.options.cache.registry.is_some() {
            let config = self.options.registry.default_config.clone();
            let creds = config.as_ref().and_then(|c| c.for_image(&reference));
            match self.runtime.push_image(&reference, creds, &|_| {}).await {
                Ok(()) => output(format!("pushed cache {reference}")),
                Err(e) => self.notice(format!("cannot push the cache of `{service}` to {reference}: {}", e.message)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::cache_reference;

    #[test]
    fn cache_names_are_valid_references() {
        assert_eq!(cache_reference(None, "shop", "web", "feature/x"), "slipway-cache/shop/web:featurex");
        assert_eq!(
            cache_reference(Some("localhost:5000/"), "shop", "Web_1", "master"),
            "localhost:5000/slipway-cache/shop/web_1:master"
        );
        assert_eq!(cache_reference(None, "p", "test/php-7.2", ""), "slipway-cache/p/test-php-7.2:default");
        // Joined by `-`, these two would share one cache.
        assert_ne!(cache_reference(None, "x", "y-z", "main"), cache_reference(None, "x-y", "z", "main"));
    }
}
