//! Turns output chunks into whole lines, per stream, keeping partial lines until their
//! end arrives.

use crate::runtime::Stream;

#[derive(Default)]
pub struct LineSplitter {
    stdout: Vec<u8>,
    stderr: Vec<u8>,
}

/// Longest line kept whole; longer ones are cut so one runaway line cannot eat memory.
const MAX_LINE: usize = 64 * 1024;

impl LineSplitter {
    /// Feed a chunk; returns the lines it completed.
    pub fn push(&mut self, stream: Stream, bytes: &[u8]) -> Vec<String> {
        let buffer = match stream {
            Stream::Stdout => &mut self.stdout,
            Stream::Stderr => &mut self.stderr,
        };
        buffer.extend_from_slice(bytes);
        let mut lines = Vec::new();
        while let Some(i) = buffer.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = buffer.drain(..=i).collect();
            lines.push(decode(&line[..line.len() - 1]));
        }
        if buffer.len() > MAX_LINE {
            let line: Vec<u8> = std::mem::take(buffer);
            lines.push(decode(&line));
        }
        lines
    }

    /// Whatever is left without a final newline.
    pub fn finish(&mut self) -> Vec<(Stream, String)> {
        let mut out = Vec::new();
        for (stream, buffer) in [(Stream::Stdout, &mut self.stdout), (Stream::Stderr, &mut self.stderr)] {
            if !buffer.is_empty() {
                out.push((stream, decode(buffer)));
                buffer.clear();
            }
        }
        out
    }
}

fn decode(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    text.strip_suffix('\r').unwrap_or(&text).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joins_lines_split_across_chunks() {
        let mut s = LineSplitter::default();
        assert!(s.push(Stream::Stdout, b"hel").is_empty());
        assert_eq!(s.push(Stream::Stdout, b"lo\nwor"), ["hello"]);
        assert_eq!(s.push(Stream::Stderr, b"err\r\n"), ["err"]);
        assert_eq!(s.push(Stream::Stdout, b"ld\n\n"), ["world", ""]);
        assert!(s.finish().is_empty());
        s.push(Stream::Stdout, b"tail");
        assert_eq!(s.finish(), [(Stream::Stdout, "tail".to_string())]);
    }
}
