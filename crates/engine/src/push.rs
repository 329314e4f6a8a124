//! Push steps: the service's image, tagged `image_name:image_tag`, pushed with the
//! credentials that apply, progress under the step's label.

use slipway_plan::{PushAction, StepId};

use crate::events::Event;
use crate::registry::{normalize_host, registry_host};
use crate::run::Run;
use crate::runtime::Stream;

impl Run {
    /// Push; `Err` is the message to show (the registry's own words included).
    pub(crate) async fn push(&self, id: StepId, push: &PushAction) -> Result<(), String> {
        self.phase(id, format!("preparing {}", push.service));
        let source = match self.plan.builds.get(&push.service) {
            Some(build) => build.image.clone(),
            None => self.plan.services[&push.service].image.clone(),
        };
        self.image(&push.service, Some(id)).await?;
        let target = format!("{}:{}", push.image_name, push.image_tag);
        self.runtime
            .tag_image(&source, &target)
            .await
            .map_err(|e| format!("cannot tag `{source}` as `{target}`: {}", e.message))?;
        let config = self.docker_config(&push.auth).await?;
        let host = push.registry.as_deref().map_or_else(|| registry_host(&push.image_name), normalize_host);
        let credentials = config.as_ref().and_then(|c| c.for_host(&host));
        let how = match credentials {
            Some(c) => format!("as {}", c.username.as_deref().unwrap_or("token")),
            None => "without credentials".to_string(),
        };
        self.phase(id, format!("pushing {target} to {host} {how}"));
        let output = |line: String| self.events.send(Event::StepOutput { step: id, stream: Stream::Stdout, line });
        if let Err(e) = self.runtime.push_image(&target, credentials, &output).await {
            // Only a pushed image stays: the tag made for a push that failed would keep
            // the run's image on the engine after the run removed it.
            if target != source {
                let _ = self.runtime.remove_image(&target).await;
            }
            return Err(format!("push of `{target}` failed: {}", e.message));
        }
        self.images.mark_pushed(&source);
        output(format!("pushed {target}"));
        Ok(())
    }
}
