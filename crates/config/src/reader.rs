//! Small converters from YAML nodes to typed values. Each reports a problem with its
//! position and returns `None`, so the caller can go on and find the next problem.

use crate::diagnostic::Diagnostics;
use crate::source::Spanned;
use crate::yaml::{Node, Value};

/// The keys of a mapping node, taken one by one; whatever is left is unknown.
pub(crate) struct Fields<'a> {
    entries: Vec<(String, &'a Node, &'a Node)>,
    taken: Vec<bool>,
}

impl<'a> Fields<'a> {
    /// `what` names the object for the message, e.g. "service `app`".
    pub fn of(node: &'a Node, what: &str, diags: &mut Diagnostics) -> Option<Self> {
        let Some(map) = node.as_map() else {
            diags.error(&node.span, format!("{what} must be a mapping, found {}", node.kind()));
            return None;
        };
        let mut entries = Vec::with_capacity(map.len());
        for (key, value) in map {
            match key.scalar_text() {
                Some(name) => entries.push((name, key, value)),
                None => {
                    diags.error(&key.span, format!("keys of {what} must be strings, found {}", key.kind()));
                }
            }
        }
        let taken = vec![false; entries.len()];
        Some(Self { entries, taken })
    }

    /// The value of `key`, marking it as known.
    pub fn take(&mut self, key: &str) -> Option<&'a Node> {
        let index = self.entries.iter().position(|(name, _, _)| name == key)?;
        self.taken[index] = true;
        Some(self.entries[index].2)
    }

    /// Whether `key` is present (without taking it).
    pub fn has(&self, key: &str) -> bool {
        self.entries.iter().any(|(name, _, _)| name == key)
    }

    /// Keys not taken: (name, key node).
    pub fn rest(&self) -> Vec<(String, &'a Node)> {
        self.entries
            .iter()
            .zip(&self.taken)
            .filter(|(_, taken)| !**taken)
            .map(|((name, key, _), _)| (name.clone(), *key))
            .collect()
    }

    /// Take the keys present that are in `listed`: (name, key node), in file order.
    pub fn take_listed(&mut self, listed: &[&str]) -> Vec<(String, &'a Node)> {
        let mut found = Vec::new();
        for ((name, key, _), taken) in self.entries.iter().zip(self.taken.iter_mut()) {
            if !*taken && listed.contains(&name.as_str()) {
                *taken = true;
                found.push((name.clone(), *key));
            }
        }
        found
    }

    /// Report every key not taken: `ignored` keys get a softer warning naming why.
    pub fn warn_rest(&self, what: &str, ignored: &[&str], ignored_why: &str, known: &[&str], diags: &mut Diagnostics) {
        for (name, key) in self.rest() {
            if ignored.contains(&name.as_str()) {
                diags.warning(&key.span, format!("`{name}` in {what} is ignored: {ignored_why}"));
            } else {
                let hint = match closest(&name, known) {
                    // The misspelt key stands in for one that is missing: its value is lost.
                    Some(near) if !self.has(near) => {
                        format!("did you mean `{near}`? As written, {what} has no `{near}` and this value is not used")
                    }
                    Some(near) => format!("did you mean `{near}`? Otherwise remove it"),
                    None => format!("known keys: {}", known.join(", ")),
                };
                diags.warning(&key.span, format!("unknown key `{name}` in {what}")).hint(hint);
            }
        }
    }
}

/// The known name closest to a misspelt one, if it is close enough to be a likely typo.
pub(crate) fn closest<'k>(name: &str, known: &[&'k str]) -> Option<&'k str> {
    let typo = known
        .iter()
        .map(|k| (edit_distance(name, k), *k))
        .filter(|(d, k)| *d <= 2.max(k.len() / 4))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k);
    // Or another form of the word (`retries` for `retry`): all of it but its end.
    typo.or_else(|| {
        let common = |k: &str| name.chars().zip(k.chars()).take_while(|(a, b)| a == b).count();
        known.iter().copied().filter(|k| common(k) >= 4.max(k.chars().count() - 1)).max_by_key(|k| common(k))
    })
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

/// A scalar as a string. Numbers and booleans are accepted and kept as written.
pub(crate) fn string(node: &Node, what: &str, diags: &mut Diagnostics) -> Option<Spanned<String>> {
    match node.scalar_text() {
        Some(text) => Some(Spanned::new(text, node.span.clone())),
        None => {
            diags.error(&node.span, format!("{what} must be a string, found {}", node.kind()));
            None
        }
    }
}

/// A non-empty string.
pub(crate) fn non_empty_string(node: &Node, what: &str, diags: &mut Diagnostics) -> Option<Spanned<String>> {
    let value = string(node, what, diags)?;
    if value.value.trim().is_empty() {
        diags.error(&node.span, format!("{what} must not be empty"));
        return None;
    }
    Some(value)
}

pub(crate) fn boolean(node: &Node, what: &str, diags: &mut Diagnostics) -> Option<bool> {
    match &node.value {
        Value::Bool(b) => Some(*b),
        // YAML 1.1 spellings, which Jet's parser read as booleans.
        Value::Str(s) => match s.to_ascii_lowercase().as_str() {
            "true" | "yes" | "on" | "y" => Some(true),
            "false" | "no" | "off" | "n" => Some(false),
            _ => {
                diags.error(&node.span, format!("{what} must be true or false, found `{s}`"));
                None
            }
        },
        _ => {
            diags.error(&node.span, format!("{what} must be true or false, found {}", node.kind()));
            None
        }
    }
}

/// The node as a whole number ≥ 0, if it is one.
pub(crate) fn whole_number(node: &Node) -> Option<u64> {
    match &node.value {
        Value::Int(i) => u64::try_from(*i).ok(),
        Value::Str(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A whole number within `range`, or one error saying which numbers are allowed (with
/// `hint`, when given).
pub(crate) fn whole_number_in(
    node: &Node,
    what: &str,
    range: std::ops::RangeInclusive<u64>,
    hint: Option<&str>,
    diags: &mut Diagnostics,
) -> Option<u64> {
    let value = whole_number(node).filter(|v| range.contains(v));
    if value.is_none() {
        let error = diags.error(
            &node.span,
            format!(
                "{what} must be a whole number from {} to {}, found {}",
                range.start(),
                range.end(),
                describe(node)
            ),
        );
        if let Some(hint) = hint {
            error.hint(hint);
        }
    }
    value
}

pub(crate) fn unsigned(node: &Node, what: &str, diags: &mut Diagnostics) -> Option<u64> {
    let parsed = whole_number(node);
    if parsed.is_none() {
        diags.error(&node.span, format!("{what} must be a whole number ≥ 0, found {}", describe(node)));
    }
    parsed
}

/// A list of strings.
pub(crate) fn string_list(node: &Node, what: &str, diags: &mut Diagnostics) -> Vec<Spanned<String>> {
    match &node.value {
        Value::Seq(items) => {
            items.iter().filter_map(|item| string(item, &format!("each entry of {what}"), diags)).collect()
        }
        Value::Null => Vec::new(),
        _ => {
            diags.error(&node.span, format!("{what} must be a list, found {}", node.kind()));
            Vec::new()
        }
    }
}

/// A string or a list of strings (`env_file: a.env` or `env_file: [a.env, b.env]`).
pub(crate) fn string_or_list(node: &Node, what: &str, diags: &mut Diagnostics) -> Vec<Spanned<String>> {
    match &node.value {
        Value::Seq(_) | Value::Null => string_list(node, what, diags),
        Value::Map(_) => {
            diags.error(&node.span, format!("{what} must be a string or a list, found a mapping"));
            Vec::new()
        }
        _ => string(node, what, diags).into_iter().collect(),
    }
}

/// A mapping `{KEY: value}` or a list `["KEY=value", "KEY"]`. A value of `None` means
/// "take it from the environment slipway runs in" (compose semantics for `- KEY`).
pub(crate) fn key_values(node: &Node, what: &str, diags: &mut Diagnostics) -> Vec<(Spanned<String>, Option<String>)> {
    let mut pairs = key_values_as_written(node, what, diags);
    // The engine refuses these at container start, naming no file or line.
    pairs.retain(|(key, value)| {
        let problem = if key.value.is_empty() {
            Some(format!("{what} has an entry with no name"))
        } else if key.value.contains('=') {
            Some(format!("{what}: the name `{}` holds `=`, which a name cannot", key.value))
        } else if key.value.contains('\0') || value.as_deref().is_some_and(|v| v.contains('\0')) {
            Some(format!("{what} `{}` holds a NUL character", key.value.replace('\0', "\\0")))
        } else {
            None
        };
        if let Some(problem) = &problem {
            diags.error(&key.span, problem.clone()).hint("write NAME: value, with a name of letters, digits and `_`");
        }
        problem.is_none()
    });
    pairs
}

fn key_values_as_written(node: &Node, what: &str, diags: &mut Diagnostics) -> Vec<(Spanned<String>, Option<String>)> {
    match &node.value {
        Value::Map(entries) => entries
            .iter()
            .filter_map(|(key, value)| {
                let key = string(key, &format!("a key of {what}"), diags)?;
                let value = if value.is_null() {
                    None
                } else {
                    Some(string(value, &format!("{what} `{}`", key.value), diags)?.value)
                };
                Some((key, value))
            })
            .collect(),
        Value::Seq(items) => items
            .iter()
            .filter_map(|item| {
                let text = string(item, &format!("each entry of {what}"), diags)?;
                Some(match text.value.split_once('=') {
                    // The engine refuses a variable without a name, with no line to show.
                    Some(("", _)) => {
                        diags
                            .error(&text.span, format!("{what}: `{}` has no variable name", text.value))
                            .hint("write KEY=VALUE");
                        return None;
                    }
                    Some((k, v)) => (Spanned::new(k.to_string(), text.span.clone()), Some(v.to_string())),
                    None => (text, None),
                })
            })
            .collect(),
        Value::Null => Vec::new(),
        _ => {
            diags.error(&node.span, format!("{what} must be a mapping or a list of KEY=VALUE, found {}", node.kind()));
            Vec::new()
        }
    }
}

pub(crate) fn describe(node: &Node) -> String {
    match node.scalar_text() {
        Some(text) => format!("`{text}`"),
        None => node.kind().to_string(),
    }
}
