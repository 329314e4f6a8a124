//! What the steps that will run use: the services they start, build (also for one
//! another), push or run for credentials, and the encrypted docker configs their pulls
//! and pushes log in with. Secrets are decrypted for these alone, so a pipeline whose
//! deploy steps are skipped (no `--tag`, no `--push`) runs on a machine without the key.

use std::collections::BTreeSet;

use crate::model::{Action, Plan, RegistryAuthSpec};

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct InUse {
    pub services: BTreeSet<String>,
    /// `encrypted_dockercfg_path`s, as the files name them.
    pub dockercfg_paths: BTreeSet<String>,
}

impl Plan {
    pub fn in_use(&self) -> InUse {
        let mut pending: Vec<String> = self.services_in_use().into_iter().map(String::from).collect();
        let mut out = InUse::default();
        for step in self.steps.iter().filter(|s| s.skip.is_none()) {
            match &step.action {
                Action::Run(run) => pending.extend(run.on_fail.iter().map(|f| f.service.clone())),
                Action::Push(push) => {
                    pending.push(push.service.clone());
                    note_auth(&push.auth, &mut out, &mut pending);
                }
            }
        }
        // What a service needs brings in more: pull credentials from another service
        // (`dockercfg_service`, which then runs too), its image from another's build.
        while let Some(name) = pending.pop() {
            if !out.services.insert(name.clone()) {
                continue;
            }
            if let Some(spec) = self.services.get(&name) {
                note_auth(&spec.registry_auth, &mut out, &mut pending);
                pending.extend(self.builds.iter().filter(|(_, b)| b.image == spec.image).map(|(s, _)| s.clone()));
            }
        }
        out
    }
}

fn note_auth(auth: &RegistryAuthSpec, out: &mut InUse, pending: &mut Vec<String>) {
    out.dockercfg_paths.extend(auth.encrypted_dockercfg_path.clone());
    pending.extend(auth.dockercfg_service.clone());
}
