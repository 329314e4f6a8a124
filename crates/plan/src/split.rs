//! Dividing test files among shards: by recorded timings (longest processing time
//! first, each file to the least loaded shard, then moves and swaps that lower the
//! busiest shard), by count, or by name. Files without history are assumed to take the
//! median of those with history; when fewer than half of the files have history (none,
//! or a run whose reports were lost) that median says little, and the split is by count.
//!
//! Shards do not start at the same moment (the engine starts containers largely one
//! after another), so a timings split can be given each shard's expected head start
//! lag: a shard that starts later gets less work, and all finish together.

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

impl SplitPlan {
    /// Why a split asked to go by timings went by count.
    pub fn why_by_count(&self) -> String {
        let total: usize = self.shards.iter().map(|s| s.files.len()).sum();
        if self.unknown >= total {
            "no timings recorded yet".to_string()
        } else {
            format!("timings recorded for only {} of {total} files", total - self.unknown)
        }
    }
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
    split_files_with_lags(files, timings, by, shards, &[])
}

/// [`split_files`], where shard `i` is expected to start `start_lags[i]` after the first
/// (missing entries: no lag). Only a timings split uses the lags.
pub fn split_files_with_lags(
    files: &[String],
    timings: &HashMap<String, Duration>,
    by: SplitBy,
    shards: usize,
    start_lags: &[Duration],
) -> SplitPlan {
    let shards = shards.max(1);
    let mut sorted = files.to_vec();
    sorted.sort();
    sorted.dedup();
    let unknown = sorted.iter().filter(|f| !timings.contains_key(*f)).count();
    // Half the files known or more: the median stands in well enough for the rest.
    let by = if by == SplitBy::Timings && unknown * 2 > sorted.len() { SplitBy::Count } else { by };
    let estimates = estimates(&sorted, timings);
    let mut out: Vec<Shard> = vec![Shard { files: Vec::new(), estimate: Duration::ZERO }; shards];
    match by {
        SplitBy::Timings => {
            let lags: Vec<Duration> = (0..shards).map(|i| start_lags.get(i).copied().unwrap_or_default()).collect();
            let mut bins = pack_longest_first(estimates, &lags);
            improve(&mut bins, &lags);
            for (shard, bin) in out.iter_mut().zip(bins) {
                shard.estimate = bin.iter().map(|(_, d)| *d).sum();
                shard.files = bin.into_iter().map(|(f, _)| f).collect();
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

type Bin = Vec<(String, Duration)>;

/// Longest processing time first: each file, longest first, to the shard that would end
/// soonest (its lag plus what it has).
fn pack_longest_first(mut files: Vec<(String, Duration)>, lags: &[Duration]) -> Vec<Bin> {
    // Longest first; ties by name so the plan is the same every time.
    files.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let mut bins: Vec<Bin> = vec![Vec::new(); lags.len()];
    let mut ends: Vec<Duration> = lags.to_vec();
    for (file, duration) in files {
        let soonest = (0..bins.len()).min_by_key(|i| (ends[*i], *i)).expect("at least one shard");
        bins[soonest].push((file, duration));
        ends[soonest] += duration;
    }
    bins
}

/// The most moves and swaps [`improve`] tries; each one lowers the latest end, so this
/// only bounds the work on very large suites.
const MAX_IMPROVEMENTS: usize = 1000;

/// LPT leaves the latest-ending shard up to a third above the optimum. Move one of its
/// files to another shard, or swap one of its files for a shorter one, while that brings
/// its end down without making the other shard end as late.
fn improve(bins: &mut [Bin], lags: &[Duration]) {
    let end = |bins: &[Bin], i: usize| lags[i] + bins[i].iter().map(|(_, d)| *d).sum::<Duration>();
    for _ in 0..MAX_IMPROVEMENTS {
        let ends: Vec<Duration> = (0..bins.len()).map(|i| end(bins, i)).collect();
        let latest = (0..bins.len()).max_by_key(|i| (ends[*i], std::cmp::Reverse(*i))).expect("at least one shard");
        // The best change: (the later of the two new ends, other shard, file in latest,
        // file in other or None for a move).
        let mut best: Option<(Duration, usize, usize, Option<usize>)> = None;
        for other in (0..bins.len()).filter(|o| *o != latest) {
            for (a, (_, da)) in bins[latest].iter().enumerate() {
                let mut consider = |gain: Duration, b: Option<usize>| {
                    let new_latest = ends[latest] - gain;
                    let new_other = ends[other] + gain;
                    let worse = new_latest.max(new_other);
                    if worse < ends[latest] && best.is_none_or(|(w, ..)| worse < w) {
                        best = Some((worse, other, a, b));
                    }
                };
                consider(*da, None);
                for (b, (_, db)) in bins[other].iter().enumerate() {
                    if db < da {
                        consider(*da - *db, Some(b));
                    }
                }
            }
        }
        let Some((_, other, a, b)) = best else { return };
        let moved = bins[latest].swap_remove(a);
        if let Some(b) = b {
            let back = bins[other].swap_remove(b);
            bins[latest].push(back);
        }
        bins[other].push(moved);
    }
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

/// A lag below this is noise, not worth a word in the log.
const NOTABLE_LAG: Duration = Duration::from_millis(100);

/// What a static shard was given and why, for its log: `5 files, ~15.1 s by recorded
/// timings (it gets going ~2.1 s after the quickest shard)`. `used` is what the split really did
/// (`timings` falls back to `count` without history), `asked` what the step asked for.
pub fn static_share_note(
    used: SplitBy,
    asked: SplitBy,
    shard: &Shard,
    lag: Option<Duration>,
    why_by_count: &str,
) -> String {
    let files = files_count(shard.files.len());
    match (used, asked) {
        (SplitBy::Timings, _) => {
            let late = match lag.filter(|lag| *lag >= NOTABLE_LAG) {
                // Measured against the shard that got going soonest in recent runs, which
                // need not be shard 1.
                Some(lag) => format!(" (it gets going ~{:.1} s after the quickest shard)", lag.as_secs_f64()),
                None => String::new(),
            };
            format!("{files}, ~{:.1} s by recorded timings{late}", shard.estimate.as_secs_f64())
        }
        (SplitBy::Count, SplitBy::Timings) => format!("{files} by count: {why_by_count}"),
        (SplitBy::Count, _) => format!("{files} by count"),
        (SplitBy::Name, _) => format!("{files} by name"),
    }
}

/// A queue worker's starting share, for its log.
pub fn queue_share_note(used: SplitBy, shard: &Shard, why_by_count: &str) -> String {
    match used {
        SplitBy::Timings => format!(
            "queue worker; its share by recorded timings is {}, ~{:.1} s, then batches go to whoever is free",
            files_count(shard.files.len()),
            shard.estimate.as_secs_f64()
        ),
        _ => format!("queue worker; {why_by_count}, so files come in batches"),
    }
}

/// Why a static shard was left without files: fewer files than shards, or (by timings)
/// the earlier shards finish them all before this one would get going. Said, so an idle
/// shard is not a surprise.
pub fn empty_shard_reason(used: SplitBy, lag: Option<Duration>, fewer_files_than_shards: bool) -> String {
    if fewer_files_than_shards {
        return "no test files left for this shard: there are fewer files than shards".to_string();
    }
    match lag.filter(|lag| used == SplitBy::Timings && *lag >= NOTABLE_LAG) {
        Some(lag) => format!(
            "no test files left for this shard: it gets going about {:.1} s after the quickest shard, and the others finish them all sooner",
            lag.as_secs_f64()
        ),
        None => "no test files left for this shard".to_string(),
    }
}

fn files_count(n: usize) -> String {
    if n == 1 {
        "1 file".to_string()
    } else {
        format!("{n} files")
    }
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
    fn timings_pack_longest_first_then_even_out() {
        let all = files(&["a", "b", "c", "d", "e"]);
        let plan = split_files(&all, &secs(&[("a", 8), ("b", 7), ("c", 6), ("d", 5), ("e", 4)]), SplitBy::Timings, 2);
        assert_eq!(plan.by, SplitBy::Timings);
        // LPT: a→0, b→1, c→1 (7<8), d→0 (8<13), e→0 (13=13 → lower index): 17 and 13.
        // Swapping a (8) for c (6) evens them out.
        assert_eq!(plan.shards[0].files, files(&["c", "d", "e"]));
        assert_eq!(plan.shards[1].files, files(&["a", "b"]));
        assert_eq!(plan.shards[0].estimate, Duration::from_secs(15));
        assert_eq!(plan.shards[1].estimate, Duration::from_secs(15));
    }

    #[test]
    fn moves_and_swaps_lower_the_busiest_shard_below_plain_lpt() {
        // LPT on 2 shards: 3→0, 3→1, 2→0, 2→1, 2→0 gives 7 and 5; the best is 6 and 6.
        let all = files(&["a", "b", "c", "d", "e"]);
        let plan = split_files(&all, &secs(&[("a", 3), ("b", 3), ("c", 2), ("d", 2), ("e", 2)]), SplitBy::Timings, 2);
        let mut estimates: Vec<u64> = plan.shards.iter().map(|s| s.estimate.as_secs()).collect();
        estimates.sort();
        assert_eq!(estimates, [6, 6], "{plan:?}");
    }

    #[test]
    fn a_shard_that_starts_later_gets_less_work() {
        let all: Vec<String> = (0..12).map(|i| format!("f{i:02}")).collect();
        let timings: HashMap<String, Duration> = all.iter().map(|f| (f.clone(), Duration::from_secs(1))).collect();
        let lags = [Duration::ZERO, Duration::from_secs(2), Duration::from_secs(4)];
        let plan = split_files_with_lags(&all, &timings, SplitBy::Timings, 3, &lags);
        let counts: Vec<usize> = plan.shards.iter().map(|s| s.files.len()).collect();
        // Ends: 0+6 = 2+4 = 4+2.
        assert_eq!(counts, [6, 4, 2]);
        let count_plan = split_files_with_lags(&all, &HashMap::new(), SplitBy::Count, 3, &lags);
        assert!(count_plan.shards.iter().all(|s| s.files.len() == 4), "a count split ignores the lags");
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
    fn history_for_fewer_than_half_of_the_files_splits_by_count() {
        // One file's record (a collection error that took no time) says nothing about the
        // other six: their median would be 0 s, and one shard would get them all.
        let all = files(&["a", "b", "c", "d", "e", "f", "g"]);
        let timings: HashMap<String, Duration> = [("c".to_string(), Duration::ZERO)].into();
        let lags = [Duration::ZERO, Duration::from_millis(500), Duration::from_secs(1)];
        let plan = split_files_with_lags(&all, &timings, SplitBy::Timings, 3, &lags);
        assert_eq!(plan.by, SplitBy::Count);
        assert!(plan.shards.iter().all(|s| s.files.len() >= 2), "{plan:?}");
        assert_eq!(plan.why_by_count(), "timings recorded for only 1 of 7 files");
        let half: HashMap<String, Duration> =
            ["a", "b", "c", "d"].iter().map(|f| (f.to_string(), Duration::from_secs(1))).collect();
        assert_eq!(split_files(&all, &half, SplitBy::Timings, 3).by, SplitBy::Timings);
        assert_eq!(split_files(&all, &HashMap::new(), SplitBy::Timings, 3).why_by_count(), "no timings recorded yet");
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
