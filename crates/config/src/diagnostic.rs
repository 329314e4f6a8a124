//! Problems found in the user's files, each pointing at file:line:column with a snippet.
//! Loading and validation collect all of them instead of stopping at the first.

use std::fmt;
use std::sync::Arc;

use miette::{GraphicalReportHandler, GraphicalTheme, LabeledSpan, NamedSource, SourceCode};

use crate::source::{SourceFile, Span};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warning,
}

#[derive(Clone, Debug)]
pub struct Diagnostic {
    pub severity: Severity,
    pub message: String,
    pub span: Option<Span>,
    /// Short text shown under the snippet; defaults to the message.
    pub label: Option<String>,
    /// What the user can do about it.
    pub help: Option<String>,
    source: Option<NamedSource<FileText>>,
}

/// Lets miette read snippets straight from our shared source text.
#[derive(Clone)]
struct FileText(Arc<SourceFile>);

impl SourceCode for FileText {
    fn read_span<'a>(
        &'a self,
        span: &miette::SourceSpan,
        before: usize,
        after: usize,
    ) -> Result<Box<dyn miette::SpanContents<'a> + 'a>, miette::MietteError> {
        self.0.text.read_span(span, before, after)
    }
}

impl Diagnostic {
    pub fn new(severity: Severity, span: Option<Span>, message: impl Into<String>) -> Self {
        let source = span.as_ref().map(|s| NamedSource::new(&s.file.display_name, FileText(s.file.clone())));
        Self { severity, message: message.into(), span, label: None, help: None, source }
    }

    pub fn error(span: Option<Span>, message: impl Into<String>) -> Self {
        Self::new(Severity::Error, span, message)
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    pub fn with_label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// `file:line:col: error: message` — one line, for logs and tests.
    pub fn short(&self) -> String {
        let kind = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        match &self.span {
            Some(span) => format!("{span}: {kind}: {}", self.message),
            None => format!("{kind}: {}", self.message),
        }
    }

    /// Full report with the source snippet, coloured when `color` is set.
    pub fn render(&self, color: bool) -> String {
        // A snippet of a very long line would flood the terminal (and miette cannot draw
        // columns past 65535): then the plain form, with the message cut short too.
        if self.message.len() > MAX_SHOWN || self.span.as_ref().is_some_and(|s| widest_line_near(s) > MAX_SHOWN) {
            let mut out = cut(&self.short(), MAX_SHOWN);
            if let Some(help) = &self.help {
                out.push_str(&format!("\n  help: {}", cut(help, MAX_SHOWN)));
            }
            return out;
        }
        let theme = if color { GraphicalTheme::unicode() } else { GraphicalTheme::unicode_nocolor() };
        let handler = GraphicalReportHandler::new_themed(theme).with_context_lines(1).with_wrap_lines(false);
        let mut out = String::new();
        if let Some(span) = &self.span {
            // miette prints the position in the snippet frame; a plain first line keeps the
            // `file:line:col` greppable and clickable in editors.
            out.push_str(&format!("{span}\n"));
        }
        if handler.render_report(&mut out, self).is_err() {
            out.push_str(&self.short());
        }
        out
    }
}

/// Characters of a message, help or source line a report shows.
const MAX_SHOWN: usize = 400;

/// The longest of the span's line and the lines beside it, in bytes.
fn widest_line_near(span: &Span) -> usize {
    let text = span.file.text.as_bytes();
    let start = span.offset.min(text.len());
    // Two line starts back and two line ends forward cover the context lines.
    let from = text[..start].iter().enumerate().rev().filter(|(_, b)| **b == b'\n').nth(1).map_or(0, |(i, _)| i + 1);
    let to =
        text[start..].iter().enumerate().filter(|(_, b)| **b == b'\n').nth(1).map_or(text.len(), |(i, _)| start + i);
    text[from..to].split(|b| *b == b'\n').map(<[u8]>::len).max().unwrap_or(0)
}

/// `text`, cut to `max` characters with a note of what was left out.
fn cut(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((end, _)) => format!("{}… ({} more characters)", &text[..end], text[end..].chars().count()),
        None => text.to_string(),
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Diagnostic {}

impl miette::Diagnostic for Diagnostic {
    fn severity(&self) -> Option<miette::Severity> {
        Some(match self.severity {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
        })
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help.as_ref().map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn SourceCode> {
        self.source.as_ref().map(|s| s as &dyn SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let span = self.span.as_ref()?;
        let label = self.label.clone().unwrap_or_else(|| self.message.clone());
        Some(Box::new(std::iter::once(LabeledSpan::new(Some(label), span.offset, span.len.max(1)))))
    }
}

/// All problems found so far, in the order found.
#[derive(Clone, Debug, Default)]
pub struct Diagnostics {
    items: Vec<Diagnostic>,
}

impl Diagnostics {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn push(&mut self, diagnostic: Diagnostic) {
        self.items.push(diagnostic);
    }

    pub fn error(&mut self, span: &Span, message: impl Into<String>) -> &mut Diagnostic {
        self.push_and_get(Diagnostic::new(Severity::Error, Some(span.clone()), message))
    }

    pub fn warning(&mut self, span: &Span, message: impl Into<String>) -> &mut Diagnostic {
        self.push_and_get(Diagnostic::new(Severity::Warning, Some(span.clone()), message))
    }

    fn push_and_get(&mut self, diagnostic: Diagnostic) -> &mut Diagnostic {
        self.items.push(diagnostic);
        self.items.last_mut().expect("just pushed")
    }

    pub fn extend(&mut self, other: Diagnostics) {
        self.items.extend(other.items);
    }

    pub fn has_errors(&self) -> bool {
        self.items.iter().any(Diagnostic::is_error)
    }

    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.items.iter().filter(|d| d.is_error())
    }

    pub fn warnings(&self) -> impl Iterator<Item = &Diagnostic> {
        self.items.iter().filter(|d| !d.is_error())
    }

    pub fn iter(&self) -> impl Iterator<Item = &Diagnostic> {
        self.items.iter()
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Sorted by file, then position, so a report reads top to bottom.
    pub fn sorted(mut self) -> Self {
        self.items.sort_by(|a, b| {
            let key = |d: &Diagnostic| d.span.as_ref().map(|s| (s.file.display_name.clone(), s.offset));
            key(a).cmp(&key(b))
        });
        self
    }
}

impl Diagnostic {
    pub fn hint(&mut self, help: impl Into<String>) -> &mut Self {
        self.help = Some(help.into());
        self
    }

    pub fn label_text(&mut self, label: impl Into<String>) -> &mut Self {
        self.label = Some(label.into());
        self
    }
}

impl IntoIterator for Diagnostics {
    type Item = Diagnostic;
    type IntoIter = std::vec::IntoIter<Diagnostic>;
    fn into_iter(self) -> Self::IntoIter {
        self.items.into_iter()
    }
}
