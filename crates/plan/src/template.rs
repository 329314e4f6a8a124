//! Go-template style placeholders (`{{ .Branch }}`) in build args and push tags.

use std::collections::BTreeMap;

pub use slipway_config::image_name_part;

/// Values a template may use, by field name (`Branch`, `CommitID`, …).
pub type TemplateVars = BTreeMap<String, String>;

pub use slipway_config::TEMPLATE_FIELDS;

/// Render `{{ … }}` actions: fields such as `{{ .Branch }}`, and the part of Go's
/// templates Jet's users wrote (see [`crate::go_template`]). An action it cannot do is
/// an error that names it.
pub fn render(template: &str, vars: &TemplateVars) -> Result<String, String> {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after.find("}}").ok_or_else(|| format!("`{{{{` without `}}}}` in `{template}`"))?;
        let mut action = &after[..end];
        let mut next = &after[end + 2..];
        // `{{- ` and ` -}}` trim the white space before and after, as in Go.
        if let Some(trimmed) = action.strip_prefix("- ") {
            out.truncate(out.trim_end().len());
            action = trimmed;
        }
        if let Some(trimmed) = action.strip_suffix(" -") {
            next = next.trim_start();
            action = trimmed;
        }
        out.push_str(&crate::go_template::evaluate(action.trim(), vars)?);
        rest = next;
    }
    out.push_str(rest);
    Ok(out)
}

/// Keep only characters valid in a Docker image tag (`[A-Za-z0-9_.-]`, not starting with
/// `.` or `-`, at most 128), as Jet did with rendered `image_tag`s.
pub fn sanitize_image_tag(tag: &str) -> String {
    let kept: String = tag.chars().filter(|c| c.is_ascii_alphanumeric() || "_.-".contains(*c)).collect();
    let trimmed = kept.trim_start_matches(['.', '-']);
    trimmed.chars().take(128).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_fields() {
        let vars: TemplateVars =
            [("Branch".to_string(), "feature/x".to_string()), ("CommitID".to_string(), "abc".to_string())].into();
        assert_eq!(render("{{ .Branch }}-{{.CommitID}}", &vars).unwrap(), "feature/x-abc");
        assert_eq!(render("plain", &vars).unwrap(), "plain");
        assert!(render("{{ .Nope }}", &vars).unwrap_err().contains(".Branch"));
        assert!(render("{{ .Branch", &vars).is_err());
    }

    #[test]
    fn sanitizes_tags() {
        assert_eq!(sanitize_image_tag("feature/x-abc"), "featurex-abc");
        assert_eq!(sanitize_image_tag("-.v1.0+build"), "v1.0build");
        assert_eq!(sanitize_image_tag(&"a".repeat(200)).len(), 128);
    }
}
