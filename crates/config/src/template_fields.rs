//! The fields Jet's templates (`{{ .Branch }}` in build args and push tags) may name, and
//! a check of the names a template uses, so `validate` reports a misspelt field together
//! with the files' other problems (the template is rendered only when the plan is made).

use crate::diagnostic::Diagnostics;
use crate::reader::closest;
use crate::source::Span;

pub const TEMPLATE_FIELDS: &[&str] = &[
    "ProjectID",
    "BuildID",
    "RepoName",
    "Branch",
    "CommitID",
    "CommitMessage",
    "CommitDescription",
    "CommitterName",
    "CommitterEmail",
    "CommitterUsername",
    "Time",
    "Timestamp",
    "StringTime",
    "StepName",
    "ServiceName",
    "ImageName",
    "Ci",
    "CiName",
];

/// Report, at `span`, the fields `template` names that no template has (`.Brnch`).
pub(crate) fn check_template_fields(template: &str, span: &Span, what: &str, diags: &mut Diagnostics) {
    for field in named_fields(template) {
        if !TEMPLATE_FIELDS.contains(&field) {
            let problem = diags.error(span, format!("{what}: `.{field}` is not a known template field"));
            match closest(field, TEMPLATE_FIELDS) {
                Some(near) => problem.hint(format!("did you mean `.{near}`?")),
                None => problem.hint(format!("the fields are {}", TEMPLATE_FIELDS.join(", "))),
            };
        }
    }
}

/// The first part of every `.Field` inside `{{ … }}` actions (text in quotes skipped).
fn named_fields(template: &str) -> Vec<&str> {
    let mut fields = Vec::new();
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else { break };
        let action = &after[..end];
        let mut quoted = false;
        let bytes = action.as_bytes();
        for (i, &b) in bytes.iter().enumerate() {
            match b {
                b'"' if i == 0 || bytes[i - 1] != b'\\' => quoted = !quoted,
                b'.' if !quoted && (i == 0 || !bytes[i - 1].is_ascii_alphanumeric()) => {
                    let name: &str = &action[i + 1..];
                    let len = name.find(|c: char| !c.is_ascii_alphanumeric() && c != '_').unwrap_or(name.len());
                    if len > 0 {
                        fields.push(&name[..len]);
                    }
                }
                _ => {}
            }
        }
        rest = &after[end + 2..];
    }
    fields
}

#[cfg(test)]
mod tests {
    use super::named_fields;

    #[test]
    fn the_fields_a_template_names() {
        assert_eq!(named_fields("v-{{ .Branch }}-{{ .Time.Format \"2006.01\" }}"), ["Branch", "Time"]);
        assert_eq!(named_fields("{{ .CommitID | printf \"%.7s\" }}"), ["CommitID"]);
        assert_eq!(named_fields("{{ printf \"%s.%s\" .Brnch .BuildID }}"), ["Brnch", "BuildID"]);
        assert_eq!(named_fields("plain.text {{ 1.5 }}"), Vec::<&str>::new());
        assert_eq!(named_fields("{{ .Branch"), Vec::<&str>::new(), "an unclosed action is the renderer's to report");
    }
}
