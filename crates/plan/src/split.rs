//! Dividing test files among shards: by recorded timings (longest processing time
//! first, each file to the least loaded shard), by count, or by name. Files without
//! history are assumed to take the median of those with history; with no history at all
//! the split is by count.

use std::collections::HashMap;
use std::time::Duration;

pub use slipway_config::SplitBy;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Shard {
    pub files: Vec<String>,
    /// The sum of its files' expected durations.
    pub estimate: Duration,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SplitPlan {
    pub shards: Vec<Shard>,
    /// What the split really used (`timings` falls back to `count` without history).
    pub by: SplitBy,
    /// Files that had no recorded duration.
    pub unknown: usize,
}

/// The expected duration of each file: recorded, else the median of the recorded ones
/// (1 s when nothing is recorded).
pub fn estimates(files: &[String], timings: &HashMap<String, Duration>) -> Vec<(String, Duration)> {
    let mut known: Vec<Duration> = files.iter().filter_map(|f| timings.get(f).copied()).collect();
    known.sort();
    let median = if known.is_empty() { Duration::from_secs(1) } else { known[known.len() / 2] };
    files.iter().map(|f| (f.clone(), timings.get(f).copied().unwrap_or(median))).collect()
}

pub fn split_files(files: &[String], timings: &HashMap<String, Duration>, by: SplitBy, shards: usize) -> SplitPlan {
    let shards = shards.max(1);
    let mut sorted = files.to_vec();
    sorted.sort();
    sorted.dedup();
    let unknown = sorted.iter().filter(|f| !timings.contains_key(*f)).count();
    let by = if by == SplitBy::Timings && unknown == sorted.len() { SplitBy::Count } else { by };
    let estimates = estimates(&sorted, timings);
    let mut out: Vec<Shard> = vec![Shard { files: Vec::new(), estimate: Duration::ZERO }; shards];
    match by {
        SplitBy::Timings => {
            let mut by_duration = estimates;
            // Longest first; ties by name so the plan is the same every time.
            by_duration.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            for (file, duration) in by_duration {
                let least = (0..shards).min_by_key(|i| (out[*i].estimate, *i)).expect("at least one shard");
                out[least].files.push(file);
                out[least].estimate += duration;
            }
            for shard in &mut out {
                shard.files.sort();
            }
        }
        SplitBy::Count => {
            for (i, (file, duration)) in estimates.into_iter().enumerate() {
                out[i % shards].files.push(file);
                out[i % shards].estimate += duration;
            }
        }
        SplitBy::Name => {
            // Contiguous runs of names, as even in count as possible.
            let n = estimates.len();
            let mut start = 0;
            for (i, shard) in out.iter_mut().enumerate() {
                let size = n / shards + usize::from(i < n % shards);
                for (file, duration) in &estimates[start..start + size] {
                    shard.files.push(file.clone());
                    shard.estimate += *duration;
                }
                start += size;
            }
        }
    }
    SplitPlan { shards: out, by, unknown }
}

/// The command words with `{files}` replaced: a word that is exactly `{files}` becomes
/// one word per file; inside a longer word the files are joined with spaces.
pub fn expand_files(command: &[String], files: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for word in command {
        if word == "{files}" {
            out.extend(files.iter().cloned());
        } else if word.contains("{files}") {
            out.push(word.replace("{files}", &files.join(" ")));
        } else {
            out.push(word.clone());
        }
    }
    out
}

/// `{shard}` and `{shards}` in the command words: this shard's index (from 1) and the
/// number of shards — no shell runs the command to expand `$SLIPWAY_SHARD_INDEX`.
pub fn expand_shard(command: &[String], index: u32, count: u32) -> Vec<String> {
    command.iter().map(|w| w.replace("{shards}", &count.to_string()).replace("{shard}", &index.to_string())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    fn secs(pairs: &[(&str, u64)]) -> HashMap<String, Duration> {
        pairs.iter().map(|(f, s)| (f.to_string(), Duration::from_secs(*s))).collect()
    }

    #[test]
    fn timings_pack_longest_first_into_the_least_loaded_shard() {
        let all = files(&["a", "b", "c", "d", "e"]);
        let plan = split_files(&all, &secs(&[("a", 8), ("b", 7), ("c", 6), ("d", 5), ("e", 4)]), SplitBy::Timings, 2);
        assert_eq!(plan.by, SplitBy::Timings);
        // LPT: a→0, b→1, c→1 (7<8), d→0 (8<13), e→0 (13=13 → lower index)
        assert_eq!(plan.shards[0].files, files(&["a", "d", "e"]));
        assert_eq!(plan.shards[1].files, files(&["b", "c"]));
        assert_eq!(plan.shards[0].estimate, Duration::from_secs(17));
        assert_eq!(plan.shards[1].estimate, Duration::from_secs(13));
    }

    #[test]
    fn files_without_history_take_the_median() {
        let all = files(&["a", "b", "c", "new"]);
        let plan = split_files(&all, &secs(&[("a", 1), ("b", 3), ("c", 9)]), SplitBy::Timings, 2);
        assert_eq!(plan.unknown, 1);
        let total: Duration = plan.shards.iter().map(|s| s.estimate).sum();
        assert_eq!(total, Duration::from_secs(1 + 3 + 9 + 3));
    }

    #[test]
    fn no_history_splits_by_count() {
        let all = files(&["a", "b", "c", "d", "e"]);
        let plan = split_files(&all, &HashMap::new(), SplitBy::Timings, 2);
        assert_eq!(plan.by, SplitBy::Count);
        assert_eq!(plan.shards[0].files, files(&["a", "c", "e"]));
        assert_eq!(plan.shards[1].files, files(&["b", "d"]));
    }

    #[test]
    fn by_name_keeps_contiguous_runs() {
        let all = files(&["e", "d", "c", "b", "a"]);
        let plan = split_files(&all, &HashMap::new(), SplitBy::Name, 2);
        assert_eq!(plan.shards[0].files, files(&["a", "b", "c"]));
        assert_eq!(plan.shards[1].files, files(&["d", "e"]));
    }

    #[test]
    fn more_shards_than_files_leaves_some_empty() {
        let plan = split_files(&files(&["a"]), &HashMap::new(), SplitBy::Count, 3);
        assert_eq!(plan.shards.iter().filter(|s| s.files.is_empty()).count(), 2);
    }

    #[test]
    fn expands_the_shard_placeholders() {
        let cmd = files(&["pytest", "--junitxml=reports/junit-{shard}-of-{shards}.xml"]);
        assert_eq!(expand_shard(&cmd, 2, 8), files(&["pytest", "--junitxml=reports/junit-2-of-8.xml"]));
    }

    #[test]
    fn expands_the_files_placeholder() {
        let cmd = files(&["pytest", "{files}", "--x={files}"]);
        assert_eq!(expand_files(&cmd, &files(&["a.py", "b.py"])), files(&["pytest", "a.py", "b.py", "--x=a.py b.py"]));
    }
}
