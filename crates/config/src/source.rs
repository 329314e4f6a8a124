//! Source files and positions inside them, so every diagnostic can point at file:line:column.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

/// One file slipway read, kept whole so diagnostics can show a snippet of it.
#[derive(Debug)]
pub struct SourceFile {
    /// Path as given to the loader (used to read it).
    pub path: PathBuf,
    /// Path shown to the user: relative to the project dir when possible.
    pub display_name: String,
    pub text: String,
    /// Byte offset of each line's start, worked out on first use: every node of a
    /// parsed file asks for its position, and counting from the top each time made a
    /// large file quadratic.
    line_starts: OnceLock<Vec<usize>>,
}

impl SourceFile {
    pub fn new(path: impl Into<PathBuf>, display_name: impl Into<String>, text: impl Into<String>) -> Arc<Self> {
        Arc::new(Self {
            path: path.into(),
            display_name: display_name.into(),
            text: text.into(),
            line_starts: OnceLock::new(),
        })
    }

    /// Line and column (both 1-based, column counted in characters) of a byte offset.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = floor_char_boundary(&self.text, offset.min(self.text.len()));
        let starts = self
            .line_starts
            .get_or_init(|| std::iter::once(0).chain(self.text.match_indices('\n').map(|(i, _)| i + 1)).collect());
        // The last line start at or before the offset.
        let line = starts.partition_point(|&start| start <= offset);
        let line_start = starts[line - 1];
        (line, self.text[line_start..offset].chars().count() + 1)
    }

    pub fn dir(&self) -> &Path {
        self.path.parent().unwrap_or(Path::new("."))
    }
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// A region of a source file.
#[derive(Clone)]
pub struct Span {
    pub file: Arc<SourceFile>,
    /// Byte offset and length in `file.text`.
    pub offset: usize,
    pub len: usize,
    pub line: usize,
    pub column: usize,
}

impl Span {
    pub fn new(file: &Arc<SourceFile>, offset: usize, len: usize) -> Self {
        let (line, column) = file.line_col(offset);
        Self { file: file.clone(), offset, len, line, column }
    }

    /// A span for a whole file (used when the problem is the file itself).
    pub fn whole_file(file: &Arc<SourceFile>) -> Self {
        Self { file: file.clone(), offset: 0, len: 0, line: 1, column: 1 }
    }

    /// The source text this span covers.
    pub fn text(&self) -> &str {
        let end = (self.offset + self.len).min(self.file.text.len());
        self.file.text.get(self.offset..end).unwrap_or("")
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file.display_name, self.line, self.column)
    }
}

impl fmt::Debug for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl PartialEq for Span {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.file, &other.file) && self.offset == other.offset && self.len == other.len
    }
}
impl Eq for Span {}

/// A value with the span it was read from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Spanned<T> {
    pub value: T,
    pub span: Span,
}

impl<T> Spanned<T> {
    pub fn new(value: T, span: Span) -> Self {
        Self { value, span }
    }
}

impl<T> std::ops::Deref for Spanned<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

#[cfg(test)]
mod tests {
    use super::SourceFile;

    #[test]
    fn line_and_column_of_byte_offsets() {
        let file = SourceFile::new("f", "f", "ab\nçd\n\nx");
        assert_eq!(file.line_col(0), (1, 1));
        assert_eq!(file.line_col(2), (1, 3), "the newline itself is on its line");
        assert_eq!(file.line_col(3), (2, 1));
        assert_eq!(file.line_col(5), (2, 2), "columns count characters, not bytes");
        assert_eq!(file.line_col(4), (2, 1), "inside a character: its start");
        assert_eq!(file.line_col(7), (3, 1));
        assert_eq!(file.line_col(8), (4, 1));
        assert_eq!(file.line_col(99), (4, 2), "past the end: the end");
    }
}
