//! Which service's build makes the image a service runs. Services that build one image
//! name the same way share one build (two builds racing for one tag would leave the
//! loser's image behind, untagged), and a service whose `image:` names what another
//! service builds runs that build's result, whatever order the steps come in. Services
//! that build one name differently are an error of the services file.

use slipway_config::same_image;

use crate::model::{BuildSpec, Plan};

impl Plan {
    /// The service whose build makes the image `service` runs: the first service (in file
    /// order) that builds the same image the same way, which may be `service` itself; for
    /// an `image:` service, the first that builds that image. `None`: the image comes from
    /// the engine or a registry.
    pub fn image_builder(&self, service: &str) -> Option<&str> {
        let own = self.builds.get(service);
        let wanted = match own {
            Some(build) => build.image.as_str(),
            None => self.services.get(service)?.image.as_str(),
        };
        self.builds
            .iter()
            .find(|(_, b)| same_image(&b.image, wanted) && own.is_none_or(|own| same_build(own, b)))
            .map(|(name, _)| name.as_str())
    }

    /// The name of the image `service` runs: what its builder's build tags, else its own
    /// `image:`. `None` for a service not in the plan.
    pub fn image_name(&self, service: &str) -> Option<&str> {
        match self.image_builder(service) {
            Some(builder) => Some(self.builds[builder].image.as_str()),
            None => self.services.get(service).map(|s| s.image.as_str()),
        }
    }
}

fn same_build(a: &BuildSpec, b: &BuildSpec) -> bool {
    a.context == b.context && a.dockerfile == b.dockerfile && a.args == b.args && a.target == b.target
}
