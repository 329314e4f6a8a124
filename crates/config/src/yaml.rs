//! A YAML (or JSON) document as a tree of nodes that remember where they came from.
//!
//! We parse into this tree first and convert it to the typed model by hand, rather than
//! deriving `Deserialize` for the model: that way one pass reports every problem in the
//! file, each with its position, instead of stopping at serde's first error.

use std::fmt;
use std::sync::Arc;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::{Location, Spanned as YamlSpanned};

use crate::diagnostic::Diagnostic;
use crate::source::{SourceFile, Span};

#[derive(Clone, Debug)]
pub struct Node {
    pub value: Value,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

impl Node {
    /// What this node is, for messages like "expected a string, found a list".
    pub fn kind(&self) -> &'static str {
        match self.value {
            Value::Null => "nothing (null)",
            Value::Bool(_) => "a boolean",
            Value::Int(_) | Value::Float(_) => "a number",
            Value::Str(_) => "a string",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self.value, Value::Null)
    }

    /// The text of a scalar, as the user wrote it: `1.50` stays `1.50`, not `1.5`.
    pub fn scalar_text(&self) -> Option<String> {
        match &self.value {
            Value::Str(s) => Some(s.clone()),
            Value::Bool(b) => Some(self.raw_or(b.to_string())),
            Value::Int(i) => Some(self.raw_or(i.to_string())),
            Value::Float(x) => Some(self.raw_or(x.to_string())),
            Value::Null | Value::Seq(_) | Value::Map(_) => None,
        }
    }

    fn raw_or(&self, fallback: String) -> String {
        let raw = self.span.text().trim();
        let plain = !raw.is_empty() && !raw.contains(['\n', ':', '#', '[', ']', '{', '}', ',', '"', '\'']);
        if plain {
            raw.to_string()
        } else {
            fallback
        }
    }

    pub fn as_map(&self) -> Option<&[(Node, Node)]> {
        match &self.value {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    pub fn as_seq(&self) -> Option<&[Node]> {
        match &self.value {
            Value::Seq(s) => Some(s),
            _ => None,
        }
    }

    /// Value of `key` in a mapping node.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.as_map()?.iter().find(|(k, _)| k.scalar_text().as_deref() == Some(key)).map(|(_, v)| v)
    }
}

/// Parse a whole file. An empty file is a null node.
pub fn parse(file: &Arc<SourceFile>) -> Result<Node, Diagnostic> {
    if file.text.trim().is_empty() {
        return Ok(Node { value: Value::Null, span: Span::whole_file(file) });
    }
    let options = serde_saphyr::options! {
        // YAML 1.2 booleans: `yes`, `on`, `y` stay strings, as Jet's Go parser kept them
        // when the field was a string.
        strict_booleans: true,
        leading_zero_numbers_as_strings: true,
    };
    // A comment line is an error in JSON even where YAML would read it as a key.
    if let Some(comment) = json_comment(file, false) {
        return Err(json_comment_error(comment));
    }
    match serde_saphyr::from_str_with_options::<YamlSpanned<RawValue>>(&file.text, options) {
        Ok(raw) => Ok(convert(file, raw)),
        Err(err) => {
            let span = err.location().map(|loc| span_of(file, &loc)).unwrap_or_else(|| Span::whole_file(file));
            let message = first_line(&err.without_snippet().to_string());
            if let Some((problem, help)) = limit_breached(&message) {
                return Err(Diagnostic::error(Some(span), format!("invalid YAML: {problem}")).with_help(help));
            }
            if let Some(comment) = json_comment(file, true) {
                return Err(json_comment_error(comment));
            }
            if let Some(key) = duplicate_key(&message) {
                return Err(Diagnostic::error(
                    Some(span),
                    format!("invalid YAML: the key `{key}` appears twice in one mapping"),
                )
                .with_help("keep one of them (to override a value from an anchor, use a merge key `<<: *anchor`)"));
            }
            // The parser does not say which alias; the text at its position does.
            let alias: String = file
                .text
                .get(span.offset..)
                .unwrap_or_default()
                .chars()
                .take_while(|c| !c.is_whitespace() && !",[]{}".contains(*c))
                .collect();
            let name = alias.strip_prefix('*').unwrap_or_default();
            if message.contains("unknown anchor") && !name.is_empty() {
                return Err(Diagnostic::error(
                    Some(span),
                    format!("invalid YAML: the alias `*{name}` names no anchor `&{name}` before it"),
                )
                .with_help(format!(
                    "define `&{name}` on an earlier value of this file (an anchor must come before its aliases), or fix the alias's spelling"
                )));
            }
            if message.contains("non-finite float") {
                let value = alias.trim_matches(|c: char| c == '\'' || c == '"');
                return Err(Diagnostic::error(
                    Some(span),
                    format!("invalid YAML: `{value}` is a number too large to hold (or infinity)"),
                )
                .with_help(format!("quote it to keep it as text: \"{value}\"")));
            }
            Err(Diagnostic::error(Some(span), format!("invalid YAML: {message}"))
                .with_help("fix the syntax at this position (indentation, quotes, a missing ':' or '-')"))
        }
    }
}

/// In a `.json` file that does not parse, the first `//` or `/* */` comment on a line of
/// its own: JSON has none, and the parser's complaint would point past it.
fn json_comment(file: &Arc<SourceFile>, trailing: bool) -> Option<Span> {
    if !file.display_name.ends_with(".json") {
        return None;
    }
    // After a value: `"image": "busybox" // …` (not `"http://…"`, where `:` precedes).
    let after_value = trailing.then(|| regex::Regex::new(r#"["\d\]},el]\s*(//|/\*)"#).expect("valid regex"));
    let mut offset = 0;
    for line in file.text.split_inclusive('\n') {
        let trimmed = line.trim_start();
        if trimmed.starts_with("//") || trimmed.starts_with("/*") {
            let start = offset + (line.len() - trimmed.len());
            return Some(Span::new(file, start, trimmed.trim_end().len()));
        }
        if let Some(after_value) = &after_value {
            if let Some(found) = after_value.captures(line).and_then(|c| c.get(1)) {
                let comment = &line[found.start()..];
                return Some(Span::new(file, offset + found.start(), comment.trim_end().len()));
            }
        }
        offset += line.len();
    }
    None
}

fn json_comment_error(comment: Span) -> Diagnostic {
    Diagnostic::error(Some(comment), "invalid JSON: JSON has no comments")
        .with_help("remove the comment (this file is read as YAML, so a `#` comment on its own line works)")
}

/// serde-saphyr's words for the parser's limits and structure rules, said for a user:
/// (problem, what to do).
fn limit_breached(message: &str) -> Option<(String, &'static str)> {
    let runaway = "pipeline files nest at most 64 levels and hold at most 250 000 values; look for an anchor used many times over, or a generated file";
    if let Some(detail) = message.strip_prefix("budget breached: ") {
        // The parser names the limit in Rust's debug form (`Depth { depth: 65 }`).
        let problem = if detail.starts_with("Depth") {
            "the file nests more than 64 levels deep"
        } else if detail.starts_with("Nodes") {
            "the file holds more than 250 000 values"
        } else {
            "the file is too big for a pipeline file"
        };
        return Some((problem.to_string(), runaway));
    }
    if message.starts_with("recursion limit exceeded") {
        return Some(("the file nests too deeply for a pipeline file".to_string(), runaway));
    }
    if message.starts_with("recursive references") {
        return Some((
            "an anchor refers to itself".to_string(),
            "a merge key `<<: *name` or alias must not appear inside the node `&name` marks",
        ));
    }
    if message.starts_with("multiple YAML documents") {
        return Some((
            "the file holds more than one YAML document (a `---` line between them)".to_string(),
            "keep one document per file",
        ));
    }
    None
}

/// The key of serde-saphyr's "duplicate mapping key: KEY, set DuplicateKeyPolicy…" error.
fn duplicate_key(message: &str) -> Option<&str> {
    let rest = message.strip_prefix("duplicate mapping key: ")?;
    Some(rest.split_once(", set DuplicateKeyPolicy").map_or(rest, |(key, _)| key).trim())
}

fn first_line(message: &str) -> String {
    let mut line = message.lines().next().unwrap_or(message);
    // serde-saphyr adds its own position; ours is in the span already.
    if let Some((prefix, rest)) = line.split_once(": ") {
        if prefix.starts_with("line ") || prefix.starts_with("error") {
            line = rest;
        }
    }
    match line.rfind(" at line ") {
        Some(i) => line[..i].to_string(),
        None => line.to_string(),
    }
}

fn span_of(file: &Arc<SourceFile>, loc: &Location) -> Span {
    let span = loc.span();
    match (span.byte_offset(), span.byte_len()) {
        (Some(offset), Some(len)) => Span::new(file, offset as usize, len as usize),
        _ => {
            // No byte offsets: find the offset of line/column ourselves.
            let line = loc.line().max(1) as usize;
            let column = loc.column().max(1) as usize;
            let line_start: usize =
                file.text.split_inclusive('\n').take(line - 1).map(str::len).sum::<usize>().min(file.text.len());
            let offset =
                file.text[line_start..].char_indices().nth(column - 1).map_or(file.text.len(), |(i, _)| line_start + i);
            Span { file: file.clone(), offset, len: 0, line, column }
        }
    }
}

fn convert(file: &Arc<SourceFile>, raw: YamlSpanned<RawValue>) -> Node {
    // `defined` points at the text that holds the value, also for aliases and merged keys.
    let span = span_of(file, &raw.defined);
    let value = match raw.value {
        RawValue::Null => Value::Null,
        RawValue::Bool(b) => Value::Bool(b),
        RawValue::Int(i) => Value::Int(i),
        RawValue::Float(x) => Value::Float(x),
        RawValue::Str(s) => Value::Str(s),
        RawValue::Seq(items) => Value::Seq(items.into_iter().map(|i| convert(file, i)).collect()),
        RawValue::Map(entries) => {
            Value::Map(entries.into_iter().map(|(k, v)| (convert(file, k), convert(file, v))).collect())
        }
    };
    Node { value, span }
}

/// What serde-saphyr gives us: any YAML value, every node with its location.
enum RawValue {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<YamlSpanned<RawValue>>),
    Map(Vec<(YamlSpanned<RawValue>, YamlSpanned<RawValue>)>),
}

impl<'de> Deserialize<'de> for RawValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(RawVisitor)
    }
}

struct RawVisitor;

impl<'de> Visitor<'de> for RawVisitor {
    type Value = RawValue;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_unit<E>(self) -> Result<RawValue, E> {
        Ok(RawValue::Null)
    }
    fn visit_none<E>(self) -> Result<RawValue, E> {
        Ok(RawValue::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<RawValue, D::Error> {
        RawValue::deserialize(d)
    }
    fn visit_bool<E>(self, v: bool) -> Result<RawValue, E> {
        Ok(RawValue::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<RawValue, E> {
        Ok(RawValue::Int(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<RawValue, E> {
        Ok(i64::try_from(v).map_or(RawValue::Str(v.to_string()), RawValue::Int))
    }
    fn visit_i128<E>(self, v: i128) -> Result<RawValue, E> {
        Ok(RawValue::Str(v.to_string()))
    }
    fn visit_u128<E>(self, v: u128) -> Result<RawValue, E> {
        Ok(RawValue::Str(v.to_string()))
    }
    fn visit_f64<E>(self, v: f64) -> Result<RawValue, E> {
        Ok(RawValue::Float(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<RawValue, E> {
        Ok(RawValue::Str(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<RawValue, E> {
        Ok(RawValue::Str(v))
    }
    fn visit_bytes<E>(self, v: &[u8]) -> Result<RawValue, E> {
        Ok(RawValue::Str(String::from_utf8_lossy(v).into_owned()))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RawValue, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(RawValue::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawValue, A::Error> {
        let mut entries = Vec::new();
        while let Some(entry) = map.next_entry()? {
            entries.push(entry);
        }
        Ok(RawValue::Map(entries))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(text: &str) -> Node {
        parse(&SourceFile::new("t.yml", "t.yml", text)).expect("parses")
    }

    #[test]
    fn merge_keys_and_anchors_expand() {
        let node = parse_str(
            "base: &base\n  image: busybox\n  environment:\n    A: '1'\napp:\n  <<: *base\n  command: echo hi\n",
        );
        let app = node.get("app").unwrap();
        assert_eq!(app.get("image").unwrap().scalar_text().unwrap(), "busybox");
        assert_eq!(app.get("command").unwrap().scalar_text().unwrap(), "echo hi");
        // The merged value points at its definition.
        assert_eq!(app.get("image").unwrap().span.line, 2);
    }

    #[test]
    fn explicit_key_overrides_merged_key() {
        let node = parse_str("base: &b\n  image: busybox\napp:\n  <<: *b\n  image: redis:7\n");
        let app = node.get("app").unwrap();
        let images: Vec<_> =
            app.as_map().unwrap().iter().filter(|(k, _)| k.scalar_text().unwrap() == "image").collect();
        assert_eq!(images.len(), 1, "{app:?}");
        assert_eq!(images[0].1.scalar_text().unwrap(), "redis:7");
    }

    #[test]
    fn scalars_keep_their_spelling() {
        let node = parse_str("a: 1.50\nb: yes\nc: 0755\nd: true\n");
        assert_eq!(node.get("a").unwrap().scalar_text().unwrap(), "1.50");
        assert_eq!(node.get("b").unwrap().scalar_text().unwrap(), "yes");
        assert_eq!(node.get("c").unwrap().scalar_text().unwrap(), "0755");
        assert!(matches!(node.get("d").unwrap().value, Value::Bool(true)));
    }

    #[test]
    fn json_parses_with_positions() {
        let node = parse_str("[{\"service\": \"a\",\n \"command\": \"true\"}]");
        let step = &node.as_seq().unwrap()[0];
        assert_eq!(step.get("command").unwrap().span.line, 2);
    }

    #[test]
    fn an_unknown_alias_is_named() {
        let err = parse(&SourceFile::new("t.yml", "t.yml", "a: &base {x: 1}\nb: *bsae\n")).unwrap_err();
        assert_eq!(err.message, "invalid YAML: the alias `*bsae` names no anchor `&bsae` before it");
        assert_eq!(err.span.unwrap().line, 2);
    }

    #[test]
    fn syntax_error_has_position() {
        let err = parse(&SourceFile::new("t.yml", "t.yml", "a: [1, 2\nb: 3\n")).unwrap_err();
        let span = err.span.unwrap();
        assert_eq!(span.line, 2, "{}", err.message);
    }
}
