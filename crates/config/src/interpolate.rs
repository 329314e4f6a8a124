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
                    diags
                        .warning(&node.span, format!("variable `{name}` is not set; using an empty string"))
                        .hint(format!("set it in slipway's environment or in the `.env` file beside the compose file, or give a default: `${{{name}:-value}}`"));
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
            let end = closing_brace(after).ok_or_else(|| format!("`${{` without a closing `}}` in `{text}`"))?;
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

/// Where the `}` closing a `${` is (`text` starts after the `{`): defaults may hold
/// further `${…}`, as in `${A:-${B:-x}}`.
fn closing_brace(text: &str) -> Option<usize> {
    let mut depth = 0usize;
    let bytes = text.as_bytes();
    for (i, b) in bytes.iter().enumerate() {
        match b {
            b'{' if i > 0 && bytes[i - 1] == b'$' => depth += 1,
            b'}' if depth == 0 => return Some(i),
            b'}' => depth -= 1,
            _ => {}
        }
    }
    None
}

/// `${NAME:?message}` with NAME unset: the file's message, when it gives one.
fn required(name: &str, message: &str) -> String {
    if message.is_empty() {
        format!("variable `{name}` is required")
    } else {
        format!("variable `{name}` is required: {message}")
    }
}

fn expand(expr: &str, vars: &HashMap<String, String>, unset: &mut Vec<String>, text: &str) -> Result<String, String> {
    // A default or alternative may itself hold variables, as compose allows.
    let nested = |word: &str, unset: &mut Vec<String>| -> Result<String, String> {
        let (value, more) = substitute(word, vars)?;
        unset.extend(more);
        Ok(value)
    };
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
                nested(&op[2..], unset)?
            } else {
                value.cloned().unwrap_or_default()
            }
        }
        _ if op.starts_with('-') => match value {
            Some(v) => v.clone(),
            None => nested(&op[1..], unset)?,
        },
        _ if op.starts_with(":?") => {
            if empty_or_unset {
                return Err(required(name, &op[2..]));
            }
            value.cloned().unwrap_or_default()
        }
        _ if op.starts_with('?') => value.cloned().ok_or_else(|| required(name, &op[1..]))?,
        _ if op.starts_with(":+") => {
            if empty_or_unset {
                String::new()
            } else {
                nested(&op[2..], unset)?
            }
        }
        _ if op.starts_with('+') => {
            if value.is_some() {
                nested(&op[1..], unset)?
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

    #[test]
    fn defaults_may_hold_variables() {
        let vars: HashMap<String, String> = [("A".to_string(), "1".to_string())].into();
        let s = |t: &str| substitute(t, &vars).unwrap();
        assert_eq!(s("${B:-${A}}/x").0, "1/x");
        assert_eq!(s("${B:-${C:-deep}}").0, "deep");
        assert_eq!(s("${A:+a=${A}}").0, "a=1");
        assert_eq!(s("${A:-${C}}"), ("1".to_string(), vec![]), "an unused default is not looked at");
        assert_eq!(s("${B-${C}}").1, vec!["C".to_string()]);
    }
}
