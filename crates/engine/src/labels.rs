//! Labels and names of everything slipway creates, so `gc` can always find it.

use crate::runtime::Labels;

pub const RUN: &str = "io.slipway.run";
pub const PROJECT: &str = "io.slipway.project";
pub const STEP: &str = "io.slipway.step";
pub const SERVICE: &str = "io.slipway.service";
pub const PID: &str = "io.slipway.pid";
pub const HOST: &str = "io.slipway.host";
/// On the marker container of an image built for a run: the image to remove with it.
pub const IMAGE: &str = "io.slipway.image";
/// On an image marker: the id the build gave the image named by [`IMAGE`].
pub const IMAGE_ID: &str = "io.slipway.image.id";
/// On an image marker: the id the image's name meant before the build took it, given
/// back to the name when the built image goes.
pub const IMAGE_REPLACED: &str = "io.slipway.image.replaced";
/// On a layer marker: a layer a build of the run committed. Layers carry no label of
/// their own until the build's end, so a run killed mid-build leaves these for `gc`.
pub const IMAGE_LAYER: &str = "io.slipway.image.layer";

/// Labels of one run, before step and service labels are added.
pub fn run_labels(run_id: &str, project: &str, extra: &Labels) -> Labels {
    let mut labels = extra.clone();
    labels.insert(RUN.into(), run_id.into());
    labels.insert(PROJECT.into(), project.into());
    labels
}

pub fn with(labels: &Labels, pairs: &[(&str, &str)]) -> Labels {
    let mut out = labels.clone();
    for (k, v) in pairs {
        out.insert((*k).into(), (*v).into());
    }
    out
}

/// A name valid for containers, networks and volumes: `[a-zA-Z0-9][a-zA-Z0-9_.-]*`.
pub fn object_name(parts: &[&str]) -> String {
    let joined = parts.iter().filter(|p| !p.is_empty()).copied().collect::<Vec<_>>().join("-");
    let cleaned: String =
        joined.chars().map(|c| if c.is_ascii_alphanumeric() || "_.-".contains(c) { c } else { '_' }).collect();
    let trimmed = cleaned.trim_start_matches(|c: char| !c.is_ascii_alphanumeric());
    // Keep names short enough for every engine (and readable in `docker ps`).
    trimmed.chars().take(120).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_valid() {
        assert_eq!(object_name(&["slipway", "ab12", "3", "my service/x"]), "slipway-ab12-3-my_service_x");
        assert_eq!(object_name(&["_x", "", "y"]), "x-y");
    }
}
