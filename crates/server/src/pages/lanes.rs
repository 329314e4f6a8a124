//! Lanes for the timeline: steps that overlap in time go on separate rows, steps that
//! follow each other share one.

use super::views::StepBar;

/// Sets every bar's `lane`: interval partitioning. Bars are taken by start time (ties
/// by step id and attempt, so the result never depends on the input order); each goes to
/// the lowest lane whose last bar ended at or before its start. A running bar occupies its
/// lane until it ends. The slice keeps its order.
pub fn assign_lanes(steps: &mut [StepBar]) {
    let lanes = lanes_of(steps);
    for (bar, lane) in steps.iter_mut().zip(lanes) {
        bar.lane = lane;
    }
}

/// The lanes [`assign_lanes`] would give, one per bar, without changing the bars.
pub fn lanes_of(steps: &[StepBar]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..steps.len()).collect();
    order.sort_by_key(|&i| (steps[i].start_ms, steps[i].step, steps[i].attempt, i));
    // When each lane's last bar ends; u64::MAX while it is still running.
    let mut lane_ends: Vec<u64> = Vec::new();
    let mut lanes = vec![0; steps.len()];
    for i in order {
        let bar = &steps[i];
        let end = bar.end_ms.unwrap_or(u64::MAX).max(bar.start_ms);
        let lane = match lane_ends.iter().position(|&free_at| free_at <= bar.start_ms) {
            Some(lane) => {
                lane_ends[lane] = end;
                lane
            }
            None => {
                lane_ends.push(end);
                lane_ends.len() - 1
            }
        };
        lanes[i] = lane;
    }
    lanes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bar(step: usize, start_ms: u64, end_ms: Option<u64>) -> StepBar {
        StepBar {
            step,
            label: format!("step {step}"),
            service: "app".into(),
            services: vec!["app".into()],
            status: if end_ms.is_some() { "passed" } else { "running" }.into(),
            attempt: 1,
            start_ms,
            end_ms,
            lane: 99,
        }
    }

    fn lanes(steps: &mut [StepBar]) -> Vec<usize> {
        assign_lanes(steps);
        steps.iter().map(|s| s.lane).collect()
    }

    #[test]
    fn two_overlapping_then_one_after() {
        let mut steps = [bar(0, 0, Some(10_000)), bar(1, 2_000, Some(8_000)), bar(2, 10_000, Some(15_000))];
        assert_eq!(lanes(&mut steps), [0, 1, 0]);
    }

    #[test]
    fn lowest_free_lane_wins() {
        // Lane 0 is busy until 20s, lane 1 frees at 5s: the third bar takes lane 1.
        let mut steps = [bar(0, 0, Some(20_000)), bar(1, 0, Some(5_000)), bar(2, 6_000, Some(7_000))];
        assert_eq!(lanes(&mut steps), [0, 1, 1]);
    }

    #[test]
    fn running_bars_keep_their_lane() {
        let mut steps = [bar(0, 0, None), bar(1, 1_000, Some(2_000)), bar(2, 50_000, None)];
        assert_eq!(lanes(&mut steps), [0, 1, 1]);
    }

    #[test]
    fn independent_of_input_order() {
        let mut forward = [bar(0, 0, Some(10)), bar(1, 0, Some(10)), bar(2, 0, Some(10)), bar(3, 10, Some(20))];
        let mut backward = [bar(3, 10, Some(20)), bar(2, 0, Some(10)), bar(1, 0, Some(10)), bar(0, 0, Some(10))];
        assert_eq!(lanes(&mut forward), [0, 1, 2, 0]);
        assert_eq!(lanes(&mut backward), [0, 2, 1, 0]);
        assert!(lanes(&mut []).is_empty());
    }

    #[test]
    fn retries_follow_their_first_attempt() {
        let mut first = bar(4, 0, Some(3_000));
        first.status = "failed".into();
        let mut second = bar(4, 3_000, Some(6_000));
        second.attempt = 2;
        let mut steps = [second, first, bar(5, 1_000, Some(9_000))];
        assert_eq!(lanes(&mut steps), [0, 0, 1]);
    }
}
