//! docker compose variable interpolation (`${VAR}`, `${VAR:-default}`, `$$`), applied to
//! compose files only: Jet never interpolated, and its files may hold a literal `$`.

use std::collections::HashMap;

use crate::diagnostic::Diagnostics;
use crate::yaml::{Node, Value};

/// Replace variables in every string value of the tree (keys are left alone).
pub fn interpolate(node: &mut Node, vars: &HashMap<String, String>, diags: &mut Diagnostics) {
    match &mut node.value {
        Value::Str(text) if text.contains('$') => match substitute(text, vars) {
            Ok((value, unset)) => {
                for name in unset {
                    diags.warning(&node.span, format!("variable `{name}` is not set; using an empty string"));
                }
                *text = value;
            }
            Err(problem) => {
                diags.error(&node.span, problem);
            }
        },
        Value::Seq(items) => items.iter_mut().for_each(|i| interpolate(i, vars, diags)),
        Value::Map(entries) => entries.iter_mut().for_each(|(_, v)| interpolate(v, vars, diags)),
        _ => {}
    }
}

/// Returns the text and the names of unset variables that had no default.
pub fn substitute(text: &str, vars: &HashMap<String, String>) -> Result<(String, Vec<String>), String> {
    let mut out = String::with_capacity(text.len());
    let mut unset = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        rest = &rest[i + 1..];
        if let Some(after) = rest.strip_prefix('$') {
            out.push('$');
            rest = after;
        } else if let Some(after) = rest.strip_prefix('{') {
            let end = after.find('}').ok_or_else(|| format!("`${{` without a closing `}}` in `{text}`"))?;
            let expr = &after[..end];
            rest = &after[end + 1..];
            out.push_str(&expand(expr, vars, &mut unset, text)?);
        } else {
            let len = rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(rest.len());
            if len == 0 {
                out.push('$');
            } else {
                let name = &rest[..len];
                match vars.get(name) {
                    Some(v) => out.push_str(v),
                    None => unset.push(name.to_string()),
                }
                rest = &rest[len..];
            }
        }
    }
    out.push_str(rest);
    Ok((out, unset))
}

fn expand(expr: &str, vars: &HashMap<String, String>, unset: &mut Vec<String>, text: &str) -> Result<String, String> {
    let name_len = expr.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(expr.len());
    let (name, op) = expr.split_at(name_len);
    if name.is_empty() {
        return Err(format!("`${{{expr}}}` in `{text}` has no variable name"));
    }
    let value = vars.get(name);
    let empty_or_unset = value.is_none_or(|v| v.is_empty());
    Ok(match op {
        "" => match value {
            Some(v) => v.clone(),
            None => {
                unset.push(name.to_string());
                String::new()
            }
        },
        _ if op.starts_with(":-") => {
            if empty_or_unset {
                op[2..].to_string()
            } else {
                value.cloned().unwrap_or_default()
            }
        }
        _ if op.starts_with('-') => value.cloned().unwrap_or_else(|| op[1..].to_string()),
        _ if op.starts_with(":?") => {
            if empty_or_unset {
                return Err(format!("variable `{name}` is required: {}", &op[2..]));
            }
            value.cloned().unwrap_or_default()
        }
        _ if op.starts_with('?') => {
            value.cloned().ok_or_else(|| format!("variable `{name}` is required: {}", &op[1..]))?
        }
        _ if op.starts_with(":+") => {
            if empty_or_unset {
                String::new()
            } else {
                op[2..].to_string()
            }
        }
        _ if op.starts_with('+') => {
            if value.is_some() {
                op[1..].to_string()
            } else {
                String::new()
            }
        }
        _ => return Err(format!("`${{{expr}}}` in `{text}` is not a variable expression")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compose_forms() {
        let vars: HashMap<String, String> =
            [("A".to_string(), "1".to_string()), ("E".to_string(), String::new())].into();
        let s = |t: &str| substitute(t, &vars).unwrap().0;
        assert_eq!(s("x${A}y"), "x1y");
        assert_eq!(s("$A-$$A"), "1-$A");
        assert_eq!(s("${B:-def}"), "def");
        assert_eq!(s("${E:-def}"), "def");
        assert_eq!(s("${E-def}"), "");
        assert_eq!(s("${A:+set}"), "set");
        assert_eq!(substitute("${B}", &vars).unwrap().1, vec!["B".to_string()]);
        assert!(substitute("${B:?need B}", &vars).is_err());
        assert!(substitute("${A", &vars).is_err());
    }
}
