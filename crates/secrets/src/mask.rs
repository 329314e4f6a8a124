//! Masking secret values in output: each occurrence becomes [`MASK`].
//!
//! Matching is leftmost-longest: where secrets overlap (`abcd` and `abcdef`), the longest
//! one starting first is masked whole, so no tail of a secret shows. A limit of that rule:
//! when two *different* secrets overlap partly in the text (`abcd` and `cdef` in `abcdef`),
//! only the first is masked (`***ef`).

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::fmt;

use aho_corasick::{AhoCorasick, MatchKind};

/// What a secret is replaced with.
pub const MASK: &str = "***";

/// Secrets (and lines of multi-line secrets) shorter than this many characters are not
/// masked: values like `1`, `yes` or `dev` occur everywhere, and masking them would wreck
/// the output while hiding nothing.
pub const MIN_SECRET_CHARS: usize = 4;

/// Masks a fixed set of secret values in text.
///
/// A value is masked if it has at least [`MIN_SECRET_CHARS`] characters. A multi-line value
/// is masked whole, and each of its lines of that length is masked too, since output is
/// usually read line by line.
#[derive(Clone)]
pub struct Masker {
    /// `None` when there is nothing to mask.
    automaton: Option<AhoCorasick>,
    /// Byte length of the longest pattern.
    longest: usize,
}

impl Masker {
    /// A masker for `secrets`; duplicates and short values are dropped.
    ///
    /// # Panics
    /// If the automaton cannot be built, which takes millions of secrets.
    pub fn new<I, S>(secrets: I) -> Masker
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut patterns = BTreeSet::new();
        for secret in secrets {
            let secret = secret.as_ref();
            if secret.contains('\n') {
                patterns.extend(secret.lines().map(str::to_owned));
            }
            patterns.insert(secret.to_owned());
        }
        patterns.retain(|pattern| pattern.chars().count() >= MIN_SECRET_CHARS);

        let longest = patterns.iter().map(|pattern| pattern.len()).max().unwrap_or(0);
        let automaton = (!patterns.is_empty()).then(|| {
            AhoCorasick::builder()
                .match_kind(MatchKind::LeftmostLongest)
                .build(&patterns)
                .expect("an automaton for a few thousand secrets at most")
        });
        Masker { automaton, longest }
    }

    /// True if no value is long enough to be masked: masking changes nothing.
    pub fn is_empty(&self) -> bool {
        self.automaton.is_none()
    }

    /// `line` with every secret replaced by [`MASK`]; borrowed when nothing matched.
    /// Works on any text, not only single lines.
    pub fn mask_line<'a>(&self, line: &'a str) -> Cow<'a, str> {
        match &self.automaton {
            Some(automaton) if automaton.is_match(line) => {
                let mut masked = Vec::with_capacity(line.len());
                let end = line.len();
                let emitted = mask_settled(automaton, line.as_bytes(), end, &mut masked);
                masked.extend_from_slice(&line.as_bytes()[emitted..]);
                // Whole UTF-8 secrets were replaced by ASCII, so it is still UTF-8.
                Cow::Owned(String::from_utf8(masked).expect("masking keeps UTF-8 valid"))
            }
            _ => Cow::Borrowed(line),
        }
    }

    /// A masker for a stream of raw byte chunks (a container's output), which masks a
    /// secret even when it is split across chunks.
    pub fn stream(&self) -> StreamMasker {
        StreamMasker { masker: self.clone(), pending: Vec::new() }
    }
}

impl fmt::Debug for Masker {
    // Not derived: the automaton's Debug would print the secrets.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = self.automaton.as_ref().map_or(0, |automaton| automaton.patterns_len());
        f.debug_struct("Masker").field("patterns", &count).finish_non_exhaustive()
    }
}

/// Masks secrets in a stream of byte chunks; made by [`Masker::stream`].
///
/// It holds back at most (longest secret − 1) bytes between chunks: the end of a chunk
/// that could be the start of a secret. Everything pushed comes out exactly once, masked
/// exactly as [`Masker::mask_line`] would mask the whole stream at once.
#[derive(Debug, Clone)]
pub struct StreamMasker {
    masker: Masker,
    /// Bytes received but not yet emitted.
    pending: Vec<u8>,
}

impl StreamMasker {
    /// Takes the next chunk and returns what is safe to emit now (possibly nothing).
    pub fn push(&mut self, chunk: &[u8]) -> Vec<u8> {
        let Some(automaton) = &self.masker.automaton else {
            return chunk.to_vec();
        };
        self.pending.extend_from_slice(chunk);
        // A match starting before `settled` ends inside `pending`, and more bytes cannot
        // change it: any longer match would have to be longer than the longest secret.
        let settled = self.pending.len().saturating_sub(self.masker.longest - 1);

        let mut out = Vec::with_capacity(self.pending.len());
        let emitted = mask_settled(automaton, &self.pending, settled, &mut out);
        let keep_from = emitted.max(settled);
        out.extend_from_slice(&self.pending[emitted..keep_from]);
        self.pending.drain(..keep_from);
        out
    }

    /// Emits what is still held back, masked; the stream masker is then empty and reusable.
    pub fn finish(&mut self) -> Vec<u8> {
        let Some(automaton) = &self.masker.automaton else {
            return std::mem::take(&mut self.pending);
        };
        let mut out = Vec::with_capacity(self.pending.len());
        let emitted = mask_settled(automaton, &self.pending, self.pending.len(), &mut out);
        out.extend_from_slice(&self.pending[emitted..]);
        self.pending.clear();
        out
    }
}

/// Appends `text` to `out` with each match that starts before `settled` replaced by
/// [`MASK`], up to the end of the last such match; returns how far into `text` that is.
fn mask_settled(automaton: &AhoCorasick, text: &[u8], settled: usize, out: &mut Vec<u8>) -> usize {
    let mut emitted = 0;
    for found in automaton.find_iter(text) {
        if found.start() >= settled {
            break;
        }
        out.extend_from_slice(&text[emitted..found.start()]);
        out.extend_from_slice(MASK.as_bytes());
        emitted = found.end();
    }
    emitted
}

#[cfg(test)]
mod tests {
    use super::*;

    fn masked(masker: &Masker, text: &str) -> String {
        masker.mask_line(text).into_owned()
    }

    /// Feeds `chunks` through a stream masker and returns everything it emitted.
    fn stream(masker: &Masker, chunks: &[&[u8]]) -> Vec<u8> {
        let mut stream = masker.stream();
        let mut out = Vec::new();
        for chunk in chunks {
            out.extend(stream.push(chunk));
            // The bound the module promises: never more than a secret's length held back.
            assert!(stream.pending.len() < masker.longest.max(1), "{}", stream.pending.len());
        }
        out.extend(stream.finish());
        out
    }

    #[test]
    fn empty_set_masks_nothing() {
        let masker = Masker::new(Vec::<String>::new());
        assert!(masker.is_empty());
        assert!(matches!(masker.mask_line("password"), Cow::Borrowed("password")));
        assert_eq!(stream(&masker, &[b"pass", b"word"]), b"password");
    }

    #[test]
    fn masks_every_occurrence() {
        let masker = Masker::new(["hunter2"]);
        assert_eq!(masked(&masker, "pw=hunter2 again hunter2."), "pw=*** again ***.");
        assert_eq!(masked(&masker, "hunter2hunter2"), "******");
    }

    #[test]
    fn secret_at_line_start_and_end_and_whole_line() {
        let masker = Masker::new(["s3cr3t"]);
        assert_eq!(masked(&masker, "s3cr3t is here"), "*** is here");
        assert_eq!(masked(&masker, "here is s3cr3t"), "here is ***");
        assert_eq!(masked(&masker, "s3cr3t"), "***");
        assert_eq!(masked(&masker, "s3cr3t\n"), "***\n");
    }

    #[test]
    fn unmatched_line_is_borrowed() {
        let masker = Masker::new(["s3cr3t"]);
        assert!(matches!(masker.mask_line("nothing here"), Cow::Borrowed(_)));
    }

    #[test]
    fn values_shorter_than_four_characters_are_not_masked() {
        let masker = Masker::new(["", "a", "yes", "dev", "abcd"]);
        assert_eq!(masked(&masker, "yes, dev a abcd"), "yes, dev a ***");
        // Characters, not bytes: three two-byte characters are still too short.
        let masker = Masker::new(["äöü"]);
        assert!(masker.is_empty());
        assert_eq!(masked(&masker, "äöü"), "äöü");
        let masker = Masker::new(["äöüß"]);
        assert_eq!(masked(&masker, "x äöüß y"), "x *** y");
    }

    #[test]
    fn overlapping_secrets_mask_the_longest() {
        let masker = Masker::new(["abcd", "abcdef"]);
        assert_eq!(masked(&masker, "abcdef"), "***");
        assert_eq!(masked(&masker, "abcdeX"), "***eX");
        assert_eq!(masked(&masker, "xabcdefx abcd"), "x***x ***");
        // Same result whichever order the secrets are given in.
        let masker = Masker::new(["abcdef", "abcd"]);
        assert_eq!(masked(&masker, "abcdef"), "***");
        // A secret inside another.
        let masker = Masker::new(["bcde", "abcdef"]);
        assert_eq!(masked(&masker, "abcdef bcde"), "*** ***");
    }

    #[test]
    fn partly_overlapping_different_secrets_mask_the_first() {
        // The documented limit of leftmost-longest matching.
        let masker = Masker::new(["abcd", "cdef"]);
        assert_eq!(masked(&masker, "abcdef"), "***ef");
    }

    #[test]
    fn multi_line_secret_masks_whole_and_each_line() {
        let key = "-----BEGIN KEY-----\nMIIEpAIBAAKC\nab\n-----END KEY-----\n";
        let masker = Masker::new([key]);
        assert_eq!(masked(&masker, key), "***");
        assert_eq!(masked(&masker, "line: MIIEpAIBAAKC"), "line: ***");
        assert_eq!(masked(&masker, "-----END KEY-----"), "***");
        // The short line `ab` is not masked on its own.
        assert_eq!(masked(&masker, "ab"), "ab");
        // Windows line endings: lines are masked without their `\r`.
        let masker = Masker::new(["first-line\r\nsecond-line"]);
        assert_eq!(masked(&masker, "first-line\r"), "***\r");
    }

    #[test]
    fn debug_does_not_show_secrets() {
        let shown = format!("{:?}", Masker::new(["hunter2"]));
        assert!(!shown.contains("hunter2"), "{shown}");
        let shown = format!("{:?}", Masker::new(["hunter2"]).stream());
        assert!(!shown.contains("hunter2"), "{shown}");
    }

    #[test]
    fn stream_masks_a_secret_split_at_every_position() {
        let masker = Masker::new(["abcd", "abcdef", "hunter2", "päss-wörd"]);
        let texts = [
            "abcdef",
            "xxabcdefxx",
            "abcdeX abcd",
            "pw=hunter2\nhunter2hunter2",
            "ä päss-wörd ö",
            "no secret here at all",
            "",
        ];
        for text in texts {
            let bytes = text.as_bytes();
            let expected = masked(&masker, text).into_bytes();
            for split in 0..=bytes.len() {
                let (head, tail) = bytes.split_at(split);
                assert_eq!(stream(&masker, &[head, tail]), expected, "{text:?} split at {split}");
            }
        }
    }

    #[test]
    fn stream_masks_a_secret_split_over_three_chunks_at_every_pair_of_positions() {
        let masker = Masker::new(["abcd", "abcdef", "hunter2"]);
        let text = "1 abcdef 2 hunter2 3 abcd";
        let bytes = text.as_bytes();
        let expected = masked(&masker, text).into_bytes();
        assert_eq!(expected, b"1 *** 2 *** 3 ***");
        for first in 0..=bytes.len() {
            for second in first..=bytes.len() {
                let chunks = [&bytes[..first], &bytes[first..second], &bytes[second..]];
                assert_eq!(stream(&masker, &chunks), expected, "split at {first}, {second}");
            }
        }
    }

    #[test]
    fn stream_byte_by_byte_loses_and_duplicates_nothing() {
        // Every byte value, and a secret between; "zyxw" never occurs (bytes only ascend).
        let masker = Masker::new(["hunter2", "zyxw"]);
        let text: Vec<u8> = (0u8..=255).chain(*b"hunter2").chain(0u8..=255).collect();
        let chunks: Vec<&[u8]> = text.chunks(1).collect();
        let mut expected: Vec<u8> = (0u8..=255).collect();
        expected.extend_from_slice(b"***");
        expected.extend(0u8..=255);
        assert_eq!(stream(&masker, &chunks), expected);
    }

    #[test]
    fn stream_emits_what_cannot_be_a_secret_at_once() {
        let masker = Masker::new(["hunter2"]);
        let mut stream = masker.stream();
        assert_eq!(stream.push(b"hello world\n"), b"hello ");
        assert_eq!(stream.push(b"hun"), b"wor");
        assert_eq!(stream.push(b"ter2!"), b"ld\n***");
        assert_eq!(stream.finish(), b"!");
        // Reusable after finish.
        // A whole secret as long as the longest is settled at once.
        assert_eq!(stream.push(b"hunter2"), b"***");
        assert_eq!(stream.push(b"hunte"), b"");
        assert_eq!(stream.finish(), b"hunte");
    }
}
