//! Step logs: gzip files beside the database, one per step attempt.
//!
//! Logs stay out of SQLite because they are large, written once and read
//! rarely; compressed text files also open with `zless` when slipway is not at hand.
//! While a step runs its lines also go to a plain `.log` file (a [`LiveLog`]), so a run
//! killed mid-step (kill -9, out of memory) keeps what its steps printed; the gzip log
//! replaces it when the step ends.

use std::fmt::Write as _;
use std::fs::{self, File};
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::process;
use std::sync::atomic::{AtomicU64, Ordering};

use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use flate2::Compression;

use crate::error::StoreError;
use crate::store::Store;

/// The directory under the history directory that holds one directory per run.
pub const LOGS_DIR: &str = "logs";

/// Longest label part of a log file name, in bytes, well under any
/// filesystem's 255-byte limit once the hash and attempt are added.
const MAX_STEM_BYTES: usize = 80;

impl Store {
    /// Where the log of `attempt` of the step labelled `step_label` is kept:
    /// `dir/logs/<run_id>/<file name from the label>-<attempt>.log.gz`.
    pub fn log_path(&self, run_id: &str, step_label: &str, attempt: u32) -> Result<PathBuf, StoreError> {
        Ok(self.run_logs_dir(run_id)?.join(format!("{}-{attempt}.log.gz", log_file_stem(step_label))))
    }

    /// `dir/logs/<run_id>`: the folder of a run's step logs.
    pub(crate) fn run_logs_dir(&self, run_id: &str) -> Result<PathBuf, StoreError> {
        let logs = self.dir().join(LOGS_DIR);
        if !is_single_path_component(run_id) {
            return Err(StoreError::InvalidRunId { path: logs, run_id: run_id.to_owned() });
        }
        Ok(logs.join(run_id))
    }

    /// Where the step attempt's lines go while it runs: the gzip log's path without `.gz`.
    fn live_log_path(&self, run_id: &str, step_label: &str, attempt: u32) -> Result<PathBuf, StoreError> {
        Ok(self.log_path(run_id, step_label, attempt)?.with_extension(""))
    }

    /// A log the step attempt's lines are appended to as they come, until
    /// [`Store::write_log`] replaces it with the gzip log.
    pub fn live_log(&self, run_id: &str, step_label: &str, attempt: u32) -> Result<LiveLog, StoreError> {
        let path = self.live_log_path(run_id, step_label, attempt)?;
        let run_dir = path.parent().unwrap_or(self.dir());
        fs::create_dir_all(run_dir).map_err(|source| StoreError::WriteLog { path: run_dir.to_path_buf(), source })?;
        let file = File::create(&path).map_err(|source| StoreError::WriteLog { path: path.clone(), source })?;
        Ok(LiveLog { file: Some(file), path, lines: 0 })
    }

    /// Writes `lines` as the step attempt's gzip log, replacing an earlier one (and the
    /// attempt's live log), and returns its path. Lines should not contain `\n`: each is
    /// ended by one.
    pub fn write_log(
        &self,
        run_id: &str,
        step_label: &str,
        attempt: u32,
        lines: &[String],
    ) -> Result<PathBuf, StoreError> {
        let path = self.log_path(run_id, step_label, attempt)?;
        let run_dir = path.parent().unwrap_or(self.dir());
        fs::create_dir_all(run_dir).map_err(|source| StoreError::WriteLog { path: run_dir.to_path_buf(), source })?;

        // Written beside the final name and renamed over it, so a reader never
        // sees half a gzip stream and two writers never interleave.
        let temporary = run_dir.join(temporary_name(&path));
        let written = write_gzip(&temporary, lines).and_then(|()| fs::rename(&temporary, &path));
        if let Err(source) = written {
            let _ = fs::remove_file(&temporary);
            return Err(StoreError::WriteLog { path, source });
        }
        let _ = fs::remove_file(self.live_log_path(run_id, step_label, attempt)?);
        Ok(path)
    }

    /// The lines [`Store::write_log`] wrote for this step attempt; for an attempt still
    /// running, or one whose run died, those its live log has so far.
    pub fn read_log(&self, run_id: &str, step_label: &str, attempt: u32) -> Result<Vec<String>, StoreError> {
        let path = self.log_path(run_id, step_label, attempt)?;
        let mut text = String::new();
        let read = match File::open(&path) {
            Ok(file) => GzDecoder::new(file).read_to_string(&mut text),
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                let live = self.live_log_path(run_id, step_label, attempt)?;
                match fs::read(&live) {
                    // Lossy: the run may have died in the middle of a character.
                    Ok(bytes) => {
                        text = String::from_utf8_lossy(&bytes).into_owned();
                        Ok(bytes.len())
                    }
                    Err(error) if error.kind() == io::ErrorKind::NotFound => {
                        return Err(StoreError::LogNotFound { path });
                    }
                    Err(source) => return Err(StoreError::ReadLog { path: live, source }),
                }
            }
            Err(source) => return Err(StoreError::ReadLog { path, source }),
        };
        if let Err(source) = read {
            return Err(StoreError::ReadLog { path, source });
        }
        Ok(split_lines(&text))
    }
}

/// Lines a live log takes at most; beyond them it says where the rest will be.
const MAX_LIVE_LOG_LINES: usize = 200_000;

/// A step attempt's log while it runs: each line is written to the file as it comes
/// (no buffer to lose when the process is killed).
pub struct LiveLog {
    /// `None` once full or after a write failed: a log must never stop a run.
    file: Option<File>,
    path: PathBuf,
    lines: usize,
}

impl LiveLog {
    /// Add one line (a `\n` is added). Errors are returned once; later lines are dropped.
    pub fn append(&mut self, line: &str) -> Result<(), StoreError> {
        let Some(file) = self.file.as_mut() else { return Ok(()) };
        self.lines += 1;
        let full = self.lines > MAX_LIVE_LOG_LINES;
        let text = if full {
            "slipway: the log goes on; its end is kept when the step ends\n".to_string()
        } else {
            format!("{line}\n")
        };
        let written = file.write_all(text.as_bytes());
        if full || written.is_err() {
            self.file = None;
        }
        written.map_err(|source| StoreError::WriteLog { path: self.path.clone(), source })
    }
}

fn write_gzip(path: &Path, lines: &[String]) -> io::Result<()> {
    let mut encoder = GzEncoder::new(BufWriter::new(File::create(path)?), Compression::default());
    for line in lines {
        encoder.write_all(line.as_bytes())?;
        encoder.write_all(b"\n")?;
    }
    encoder.finish()?.flush()
}

/// The inverse of writing each line followed by `\n`.
fn split_lines(text: &str) -> Vec<String> {
    match text.strip_suffix('\n') {
        None if text.is_empty() => Vec::new(),
        Some(body) => body.split('\n').map(str::to_owned).collect(),
        // Not written by write_log; keep the unterminated last line.
        None => text.split('\n').map(str::to_owned).collect(),
    }
}

/// A hidden name unique to this process and call, beside `path`.
fn temporary_name(path: &Path) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let file_name = path.file_name().unwrap_or_default().to_string_lossy();
    format!(".{file_name}.{}-{}.tmp", process::id(), NEXT.fetch_add(1, Ordering::Relaxed))
}

/// Whether `run_id` can be used as one directory name under `logs/`.
fn is_single_path_component(run_id: &str) -> bool {
    !run_id.is_empty() && run_id != "." && run_id != ".." && !run_id.contains(['/', '\\', '\0'])
}

/// A file name part for a step label that is safe on every filesystem and in
/// a shell: ASCII letters, digits, `-`, `_` and `.`, not starting with a dot.
///
/// Labels that had to change get a hash of the original appended, because
/// `test/php` and `test php` would otherwise share one log file.
pub(crate) fn log_file_stem(label: &str) -> String {
    let mut safe = String::with_capacity(label.len());
    for character in label.chars() {
        let kept = character.is_ascii_alphanumeric() || matches!(character, '-' | '_' | '.');
        if kept {
            safe.push(character);
        } else if !safe.ends_with('_') {
            safe.push('_');
        }
    }
    let trimmed = safe.trim_matches(['.', '_', '-']);
    let mut stem: String = trimmed.chars().take(MAX_STEM_BYTES).collect();
    if stem.is_empty() || stem != label {
        if stem.is_empty() {
            stem.push_str("step");
        }
        let _ = write!(stem, "_{:08x}", fnv1a_32(label.as_bytes()));
    }
    stem
}

/// FNV-1a: tiny, and unlike std's hasher it is the same in every Rust
/// version, so a label maps to the same file name in every slipway.
fn fnv1a_32(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5_u32, |hash, &byte| (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_labels_are_kept() {
        assert_eq!(log_file_stem("unit-tests_2.x"), "unit-tests_2.x");
    }

    #[test]
    fn odd_labels_become_safe_and_distinct() {
        let labels = [
            "test/php-7.2",
            "test php-7.2",
            "app: bin/test --all",
            "../../etc/passwd",
            "",
            ".hidden",
            "ünïcødé ✓ 测试",
            "back\\slash",
            "nul\0byte",
            "-leading-dash",
        ];
        let stems: Vec<String> = labels.iter().map(|label| log_file_stem(label)).collect();
        for (label, stem) in labels.iter().zip(&stems) {
            assert!(!stem.is_empty(), "{label:?}");
            assert!(!stem.starts_with(['.', '-']), "{label:?} gave {stem:?}");
            assert!(
                stem.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')),
                "{label:?} gave {stem:?}"
            );
        }
        let mut distinct = stems.clone();
        distinct.sort();
        distinct.dedup();
        assert_eq!(distinct.len(), stems.len(), "{stems:?}");
    }

    #[test]
    fn long_labels_are_cut() {
        let stem = log_file_stem(&"x ".repeat(500));
        assert!(stem.len() <= MAX_STEM_BYTES + 9, "{} bytes", stem.len());
    }

    #[test]
    fn the_hash_is_fnv1a() {
        // Published FNV-1a 32-bit test vectors.
        assert_eq!(fnv1a_32(b""), 0x811c_9dc5);
        assert_eq!(fnv1a_32(b"a"), 0xe40c_292c);
        assert_eq!(fnv1a_32(b"foobar"), 0xbf9c_f968);
    }

    #[test]
    fn lines_split_back() {
        assert_eq!(split_lines(""), Vec::<String>::new());
        assert_eq!(split_lines("\n"), vec![String::new()]);
        assert_eq!(split_lines("a\nb\n"), vec!["a", "b"]);
        assert_eq!(split_lines("a\nb"), vec!["a", "b"]);
    }

    #[test]
    fn run_ids_must_be_one_path_component() {
        assert!(is_single_path_component("20240101-abc"));
        for bad in ["", ".", "..", "a/b", "a\\b", "a\0b"] {
            assert!(!is_single_path_component(bad), "{bad:?}");
        }
    }
}
