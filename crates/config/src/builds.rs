//! Services' `build`s: that the context and Dockerfile exist (so `validate` says so, not
//! the first step that needs the image), and which tag each build gets (services that
//! name one image but build it differently must not overwrite each other's).

use std::borrow::Cow;
use std::path::Path;

use crate::diagnostic::Diagnostics;
use crate::project::Project;
use crate::service::{Build, Service};

pub(crate) fn check_builds(project: &Project, diags: &mut Diagnostics) {
    for service in project.services.values() {
        if let Some(build) = &service.build {
            check_paths(&project.dir, service, build, diags);
        }
    }
}

impl Project {
    /// The tag a service's build gets on the engine: the image name the file gives it,
    /// unless an earlier service already builds that name differently, or the engine would
    /// refuse the name (`FakeDns`: upper case). Jet builds every service on its own and
    /// uses the name only to push (Codeship's own examples name two different builds
    /// alike), so such a build gets a name of its own, `<project>_<service>`, and push
    /// steps still push it under `image_name`.
    pub fn build_tag_of(&self, service: &str) -> Option<String> {
        let (index, _, this) = self.services.get_full(service)?;
        let build = this.build.as_ref()?;
        let image = self.image_of(service)?;
        let taken = self.services.values().take(index).any(|earlier| {
            earlier.build.as_ref().is_some_and(|b| {
                built_image(earlier).is_some_and(|other| same_image(&other.value, &image)) && !same_build(b, build)
            })
        });
        Some(if taken || !valid_reference(&image) { self.default_image(service) } else { image })
    }
}

/// The name a service's build is tagged with when the file gives one: `build.image`, or
/// in a compose file `image` beside `build`. Default names differ per service.
fn built_image(service: &Service) -> Option<&crate::source::Spanned<String>> {
    service.build.as_ref().and_then(|b| b.image.as_ref()).or(service.image.as_ref())
}

fn check_paths(dir: &Path, service: &Service, build: &Build, diags: &mut Diagnostics) {
    let name = &service.name.value;
    let context = dir.join(&build.context.value);
    if !context.is_dir() {
        diags
            .error(
                &build.context.span,
                format!("the build context `{}` of service `{name}` is not a directory", build.context.value),
            )
            .hint(format!("paths are relative to the project dir `{}`", dir.display()));
        return;
    }
    let dockerfile = build.dockerfile.as_ref().map_or("Dockerfile", |d| d.value.as_str());
    if !context.join(dockerfile).is_file() {
        let span = build.dockerfile.as_ref().map_or(&build.span, |d| &d.span);
        diags
            .error(
                span,
                format!(
                    "service `{name}` has no Dockerfile `{dockerfile}` in its build context `{}`",
                    build.context.value
                ),
            )
            .hint("the dockerfile path is relative to the build context");
    }
}

/// Text made fit to be one part of an image name, as the engine's reference grammar has
/// it: lower-case letters and digits, joined by `.`, `_`, `__` or dashes, with a letter or
/// digit at both ends. Other characters become `-`, and so does a run of separators the
/// grammar has not (`a___b`, `c..d` → `a-b`, `c-d`).
pub fn image_name_part(text: &str) -> String {
    let mapped: String = text
        .to_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || "._-".contains(c) { c } else { '-' })
        .collect();
    let mut out = String::with_capacity(mapped.len());
    let mut separators = String::new();
    for c in mapped.chars() {
        if c.is_ascii_alphanumeric() {
            if !out.is_empty() && !separators.is_empty() {
                let allowed = matches!(separators.as_str(), "." | "_" | "__") || separators.chars().all(|s| s == '-');
                out.push_str(if allowed { &separators } else { "-" });
            }
            separators.clear();
            out.push(c);
        } else {
            separators.push(c);
        }
    }
    if out.is_empty() {
        "x".to_string()
    } else {
        out
    }
}

/// Same image reference, `name` and `name:latest` being one.
pub fn same_image(a: &str, b: &str) -> bool {
    with_tag(a) == with_tag(b)
}

fn with_tag(image: &str) -> Cow<'_, str> {
    let last = image.rsplit('/').next().unwrap_or(image);
    if image.contains('@') || last.contains(':') {
        Cow::Borrowed(image)
    } else {
        Cow::Owned(format!("{image}:latest"))
    }
}

fn same_build(a: &Build, b: &Build) -> bool {
    let context = |b: &Build| {
        let trimmed = b.context.value.trim_start_matches("./").trim_end_matches('/');
        if trimmed.is_empty() {
            ".".to_string()
        } else {
            trimmed.to_string()
        }
    };
    let dockerfile = |b: &Build| b.dockerfile.as_ref().map_or_else(|| "Dockerfile".to_string(), |d| d.value.clone());
    let args = |b: &Build| b.args.iter().map(|(k, v)| (k.value.clone(), v.clone())).collect::<Vec<_>>();
    let target = |b: &Build| b.target.as_ref().map(|t| t.value.clone());
    context(a) == context(b)
        && dockerfile(a) == dockerfile(b)
        && args(a) == args(b)
        && target(a) == target(b)
        && a.encrypted_args.as_ref().map(|e| &e.value) == b.encrypted_args.as_ref().map(|e| &e.value)
        && a.encrypted_args_file.as_ref().map(|e| &e.value) == b.encrypted_args_file.as_ref().map(|e| &e.value)
}

#[cfg(test)]
mod tests {
    use super::{image_name_part, same_image, valid_reference, with_tag};

    #[test]
    fn image_name_parts_follow_the_reference_grammar() {
        for (text, part) in [
            ("a___b", "a-b"),
            ("c..d", "c-d"),
            ("h-", "h"),
            ("-_x_-", "x"),
            ("test/php-7.2", "test-php-7.2"),
            ("a__b", "a__b"),
            ("a--b", "a--b"),
            ("___", "x"),
            ("Web App", "web-app"),
        ] {
            assert_eq!(image_name_part(text), part, "{text}");
            assert!(valid_reference(&format!("{}_{}", image_name_part("proj-"), image_name_part(text))), "{text}");
        }
    }

    #[test]
    fn an_untagged_name_is_its_latest_tag() {
        assert!(same_image("acme/app", "acme/app:latest"));
        assert!(same_image("localhost:5000/app", "localhost:5000/app:latest"));
        assert!(!same_image("acme/app:1", "acme/app"));
        assert_eq!(with_tag("app@sha256:abc"), "app@sha256:abc");
    }
}

/// Docker's reference grammar (distribution/reference), simplified only in accepting an
/// upper-case first component that Docker would not take for a registry host.
static REFERENCE: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
    let component = r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*";
    let host =
        r"(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::[0-9]+)?";
    let tag = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}";
    let digest = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}";
    regex::Regex::new(&format!("^(?:{host}/)?{component}(?:/{component})*(?::{tag})?(?:@{digest})?$"))
        .expect("the reference grammar compiles")
});

/// Whether `image` is a reference the engine can pull or tag.
pub(crate) fn valid_reference(image: &str) -> bool {
    image.len() <= 255 + 128 + 80 && REFERENCE.is_match(image)
}

#[cfg(test)]
mod reference_tests {
    use super::valid_reference;

    #[test]
    fn docker_references_are_told_from_typos() {
        for good in [
            "busybox",
            "postgres:15",
            "acme/app",
            "localhost:5000/acme/app:1.2",
            "registry.example.com/a/b_c__d-e:v1.0",
            "python:3.11-slim",
        ] {
            assert!(valid_reference(good), "{good}");
        }
        for bad in ["BusyBox:::latest@@", "busy box", "acme/App", "app:", ":tag", "app@sha256:xyz", "a\u{1b}[2Jb"] {
            assert!(!valid_reference(bad), "{bad}");
        }
    }
}
