//! Compose's `extends`: a service starts from another's settings — of the same file or
//! of another compose file — and overrides them. Resolved on the YAML nodes before
//! services are parsed, so every value keeps the file and line it was written on.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::diagnostic::Diagnostics;
use crate::yaml::{Node, Value};

/// Keys a service never takes from the one it extends (compose's rule: they tie it to
/// other services).
const NOT_INHERITED: &[&str] = &["depends_on", "links", "volumes_from"];

/// Mappings merged key by key (the extending service's keys win) rather than replaced.
const MERGED: &[&str] = &["environment", "labels"];

/// Reads another compose file named by `extends: {file: …}` into its service entries
/// (interpolated as the main file is, its problems reported); `Err` says why it cannot.
pub(crate) type ReadServices<'a> = dyn FnMut(&Path, &mut Diagnostics) -> Result<Vec<(Node, Node)>, String> + 'a;

/// The services of one compose file and the folder its paths are relative to.
struct ServicesFile {
    folder: PathBuf,
    by_name: HashMap<String, Node>,
}

impl ServicesFile {
    fn new(folder: PathBuf, entries: &[(Node, Node)]) -> Self {
        let by_name = entries.iter().filter_map(|(k, v)| Some((k.scalar_text()?, v.clone()))).collect();
        Self { folder, by_name }
    }
}

/// What resolving `extends` needs across files: how to read another file, and the files
/// read so far.
struct Resolver<'a> {
    read: &'a mut ReadServices<'a>,
    files: HashMap<PathBuf, Result<ServicesFile, String>>,
}

/// The services of a compose file in `project_dir` with `extends: base`,
/// `extends: {service: base}` and `extends: {file: other.yml, service: base}` resolved.
/// One that extends from a service that is not there is reported and left as written.
pub(crate) fn resolve_extends<'a>(
    entries: &[(Node, Node)],
    project_dir: &Path,
    read: &'a mut ReadServices<'a>,
    diags: &mut Diagnostics,
) -> Vec<(Node, Node)> {
    let main = ServicesFile::new(project_dir.to_path_buf(), entries);
    let mut resolver = Resolver { read, files: HashMap::new() };
    entries
        .iter()
        .map(|(key, value)| {
            let mut chain = vec![(PathBuf::new(), key.scalar_text().unwrap_or_default())];
            (key.clone(), resolver.resolved(value, &main, &mut chain, diags))
        })
        .collect()
}

impl Resolver<'_> {
    /// `service` (of `file`) with its `extends` resolved; `chain` holds the services
    /// (with the file they are in, empty for the main file) being resolved, to find a circle.
    fn resolved(
        &mut self,
        service: &Node,
        file: &ServicesFile,
        chain: &mut Vec<(PathBuf, String)>,
        diags: &mut Diagnostics,
    ) -> Node {
        let Some(map) = service.as_map() else { return service.clone() };
        let Some((extends_key, extends)) = map.iter().find(|(k, _)| k.scalar_text().as_deref() == Some("extends"))
        else {
            return service.clone();
        };
        let (base_name, other_file) = match &extends.value {
            Value::Str(name) => (Some(name.clone()), None),
            Value::Map(fields) => {
                let field = |name: &str| fields.iter().find(|(k, _)| k.scalar_text().as_deref() == Some(name));
                (field("service").and_then(|(_, v)| v.scalar_text()), field("file").map(|(_, v)| v))
            }
            _ => (None, None),
        };
        let Some(base_name) = base_name else {
            diags.error(&extends.span, "`extends` names no service").hint(
                "write `extends: base`, `extends: {service: base}` or `extends: {file: other.yml, service: base}`",
            );
            return without_extends(map, service);
        };
        let base_path = match other_file {
            None => chain.last().map(|(path, _)| path.clone()).unwrap_or_default(),
            Some(node) => {
                let Some(name) = node.scalar_text().filter(|n| !n.is_empty()) else {
                    diags.error(&node.span, "`extends.file` must name a compose file");
                    return without_extends(map, service);
                };
                // Without `..`, so a file reached again by another way is the same file.
                let path = PathBuf::from(clean(&file.folder.join(name)));
                if let Err(why) = self.load(&path, diags) {
                    diags
                        .error(
                            &node.span,
                            format!(
                                "cannot read `{}` named by `extends`: {why}",
                                node.scalar_text().unwrap_or_default()
                            ),
                        )
                        .hint(format!(
                            "the path is relative to the folder of the file that names it, `{}`",
                            file.folder.display()
                        ));
                    return without_extends(map, service);
                }
                path
            }
        };
        let in_main = base_path.as_os_str().is_empty();
        let base_file_owned;
        let base_file = if other_file.is_none() {
            file
        } else {
            base_file_owned = match self.files.get(&base_path) {
                Some(Ok(f)) => ServicesFile { folder: f.folder.clone(), by_name: f.by_name.clone() },
                _ => return without_extends(map, service),
            };
            &base_file_owned
        };
        let Some(base) = base_file.by_name.get(&base_name).cloned() else {
            let place = if in_main { String::new() } else { format!(" in `{}`", base_path.display()) };
            diags.error(&extends.span, format!("`extends` names unknown service `{base_name}`{place}"));
            return without_extends(map, service);
        };
        if chain.iter().any(|(path, name)| *path == base_path && *name == base_name) {
            let names: Vec<String> = chain.iter().map(|(_, name)| name.clone()).collect();
            diags
                .error(&extends.span, format!("`extends` goes round in a circle: {} → {base_name}", names.join(" → ")));
            return without_extends(map, service);
        }
        chain.push((base_path, base_name));
        let base = self.resolved(&base, base_file, chain, diags);
        chain.pop();
        // Relative paths of a service from another folder point from that folder, as
        // compose reads them.
        let base = if base_file.folder == file.folder { base } else { rebased(&base, &base_file.folder) };
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
                Some((_, existing)) if name.as_deref().is_some_and(|n| MERGED.contains(&n)) => {
                    merge_maps(existing, value)
                }
                _ => value.clone(),
            };
            set(&mut merged, key, value);
        }
        Node { value: Value::Map(merged), span: service.span.clone() }
    }

    /// Read `path` once; later calls see the same result.
    fn load(&mut self, path: &Path, diags: &mut Diagnostics) -> Result<(), String> {
        if !self.files.contains_key(path) {
            let loaded = (self.read)(path, diags)
                .map(|entries| ServicesFile::new(path.parent().map(Path::to_path_buf).unwrap_or_default(), &entries));
            self.files.insert(path.to_path_buf(), loaded);
        }
        self.files[path].as_ref().map(|_| ()).map_err(Clone::clone)
    }
}

/// `service` with the relative host paths of its `build`, `env_file` and bind-mounted
/// `volumes` made absolute from `folder`, the folder of the file it was written in.
fn rebased(service: &Node, folder: &Path) -> Node {
    let Some(map) = service.as_map() else { return service.clone() };
    let absolute = |node: &Node| -> Node {
        match node.scalar_text() {
            Some(path) if !Path::new(&path).is_absolute() => text(&clean(&folder.join(&path)), node),
            _ => node.clone(),
        }
    };
    let entries = map
        .iter()
        .map(|(key, value)| {
            let value = match key.scalar_text().as_deref() {
                Some("build") => match value.as_map() {
                    None => absolute(value),
                    Some(fields) => {
                        let mut fields = fields.to_vec();
                        match fields.iter_mut().find(|(k, _)| k.scalar_text().as_deref() == Some("context")) {
                            Some((_, context)) => *context = absolute(context),
                            None => fields.push((text("context", key), text(&folder.display().to_string(), value))),
                        }
                        Node { value: Value::Map(fields), span: value.span.clone() }
                    }
                },
                Some("env_file") => map_items(value, |item| match item.as_map() {
                    None => absolute(item),
                    Some(_) => map_field(item, "path", absolute),
                }),
                Some("volumes") => map_items(value, |item| match item.as_map() {
                    None => match item.scalar_text() {
                        Some(short) if short.starts_with('.') => {
                            let (source, rest) = short.split_once(':').unwrap_or((short.as_str(), ""));
                            let source = clean(&folder.join(source));
                            text(&if rest.is_empty() { source } else { format!("{source}:{rest}") }, item)
                        }
                        _ => item.clone(),
                    },
                    Some(_) if item.get("type").and_then(Node::scalar_text).as_deref() == Some("bind") => {
                        map_field(item, "source", absolute)
                    }
                    Some(_) => item.clone(),
                }),
                _ => value.clone(),
            };
            (key.clone(), value)
        })
        .collect();
    Node { value: Value::Map(entries), span: service.span.clone() }
}

/// `node` as a list (a single value is a list of one) with `f` applied to each item.
fn map_items(node: &Node, f: impl Fn(&Node) -> Node) -> Node {
    match node.as_seq() {
        Some(items) => Node { value: Value::Seq(items.iter().map(f).collect()), span: node.span.clone() },
        None => f(node),
    }
}

/// The mapping `node` with `f` applied to its `field`.
fn map_field(node: &Node, field: &str, f: impl Fn(&Node) -> Node) -> Node {
    let entries = node
        .as_map()
        .unwrap_or_default()
        .iter()
        .map(|(k, v)| (k.clone(), if k.scalar_text().as_deref() == Some(field) { f(v) } else { v.clone() }))
        .collect();
    Node { value: Value::Map(entries), span: node.span.clone() }
}

/// A string node written where `at` was.
fn text(value: &str, at: &Node) -> Node {
    Node { value: Value::Str(value.to_string()), span: at.span.clone() }
}

/// `path` without `.` and with each `..` taking the folder before it.
fn clean(path: &Path) -> String {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out.display().to_string()
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
