//! Compose's `extends` within one file: a service starts from another's settings and
//! overrides them. Resolved on the YAML nodes before services are parsed, so every value
//! keeps the line it was written on.

use std::collections::HashMap;

use crate::diagnostic::Diagnostics;
use crate::yaml::{Node, Value};

/// Keys a service never takes from the one it extends (compose's rule: they tie it to
/// other services).
const NOT_INHERITED: &[&str] = &["depends_on", "links", "volumes_from"];

/// Mappings merged key by key (the extending service's keys win) rather than replaced.
const MERGED: &[&str] = &["environment", "labels"];

/// The services of a compose file with `extends: base` / `extends: {service: base}`
/// resolved. One that extends from another file, or from a service that is not there,
/// is reported and left as written.
pub(crate) fn resolve_extends(entries: &[(Node, Node)], diags: &mut Diagnostics) -> Vec<(Node, Node)> {
    let by_name: HashMap<String, &Node> = entries.iter().filter_map(|(k, v)| Some((k.scalar_text()?, v))).collect();
    entries
        .iter()
        .map(|(key, value)| {
            let mut chain = vec![key.scalar_text().unwrap_or_default()];
            (key.clone(), resolved(value, &by_name, &mut chain, diags))
        })
        .collect()
}

fn resolved(
    service: &Node,
    by_name: &HashMap<String, &Node>,
    chain: &mut Vec<String>,
    diags: &mut Diagnostics,
) -> Node {
    let Some(map) = service.as_map() else { return service.clone() };
    let Some((extends_key, extends)) = map.iter().find(|(k, _)| k.scalar_text().as_deref() == Some("extends")) else {
        return service.clone();
    };
    let base_name = match &extends.value {
        Value::Str(name) => Some(name.clone()),
        Value::Map(fields) => {
            let field = |name: &str| fields.iter().find(|(k, _)| k.scalar_text().as_deref() == Some(name));
            if let Some((file_key, _)) = field("file") {
                diags
                    .warning(
                        &file_key.span,
                        "`extends` from another file is not read: this service keeps only its own settings",
                    )
                    .hint("copy the settings it needs into this file, or extend a service of this file");
                return without_extends(map, service);
            }
            field("service").and_then(|(_, v)| v.scalar_text())
        }
        _ => None,
    };
    let Some(base_name) = base_name else {
        diags
            .error(&extends.span, "`extends` names no service")
            .hint("write `extends: base` or `extends: {service: base}`");
        return without_extends(map, service);
    };
    let Some(base) = by_name.get(&base_name) else {
        diags.error(&extends.span, format!("`extends` names unknown service `{base_name}`"));
        return without_extends(map, service);
    };
    if chain.contains(&base_name) {
        diags.error(&extends.span, format!("`extends` goes round in a circle: {} → {base_name}", chain.join(" → ")));
        return without_extends(map, service);
    }
    chain.push(base_name);
    let base = resolved(base, by_name, chain, diags);
    chain.pop();
    let mut merged: Vec<(Node, Node)> = base
        .as_map()
        .unwrap_or_default()
        .iter()
        .filter(|(k, _)| !k.scalar_text().is_some_and(|k| NOT_INHERITED.contains(&k.as_str())))
        .cloned()
        .collect();
    for (key, value) in map.iter().filter(|(k, _)| !std::ptr::eq(k, extends_key)) {
        let name = key.scalar_text();
        let value = match merged.iter().find(|(k, _)| k.scalar_text() == name) {
            Some((_, existing)) if name.as_deref().is_some_and(|n| MERGED.contains(&n)) => merge_maps(existing, value),
            _ => value.clone(),
        };
        set(&mut merged, key, value);
    }
    Node { value: Value::Map(merged), span: service.span.clone() }
}

/// The service as written, less its `extends` (already reported).
fn without_extends(map: &[(Node, Node)], service: &Node) -> Node {
    let kept = map.iter().filter(|(k, _)| k.scalar_text().as_deref() != Some("extends")).cloned().collect();
    Node { value: Value::Map(kept), span: service.span.clone() }
}

/// `base` with `over`'s entries on top, when both are mappings; else `over`.
fn merge_maps(base: &Node, over: &Node) -> Node {
    let (Some(base_map), Some(over_map)) = (base.as_map(), over.as_map()) else { return over.clone() };
    let mut merged = base_map.to_vec();
    for (key, value) in over_map {
        set(&mut merged, key, value.clone());
    }
    Node { value: Value::Map(merged), span: over.span.clone() }
}

/// Put `key: value` in `entries`: in place of an entry with the same key, else at the end.
fn set(entries: &mut Vec<(Node, Node)>, key: &Node, value: Node) {
    let name = key.scalar_text();
    match entries.iter_mut().find(|(k, _)| k.scalar_text() == name) {
        Some(entry) => *entry = (key.clone(), value),
        None => entries.push((key.clone(), value)),
    }
}
