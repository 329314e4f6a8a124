//! Small inline SVG charts: no scripts and no libraries, they scale with the text.

use chrono::NaiveDate;
use maud::{html, Markup};

use super::format::{css_token, duration_ms};

/// Builds per day as bars, oldest on the left; every bar's tooltip has the exact count.
pub fn builds_per_day(days: &[(NaiveDate, u32)]) -> Markup {
    const BAR: f64 = 8.0;
    const GAP: f64 = 2.0;
    const HEIGHT: f64 = 32.0;
    let width = (days.len() as f64 * (BAR + GAP) - GAP).max(BAR);
    let max = days.iter().map(|(_, n)| *n).max().unwrap_or(0).max(1);
    let total: u32 = days.iter().map(|(_, n)| *n).sum();
    let label = format!("{total} builds in the last {} days", days.len());
    html! {
        // Stretched to the tile's width: bars may widen, which keeps them readable on a TV.
        svg.chart.per-day viewBox=(format!("0 0 {width} {HEIGHT}")) preserveAspectRatio="none" role="img" aria-label=(label) {
            @for (i, (day, count)) in days.iter().enumerate() {
                // An empty day keeps a sliver, so the chart still shows 14 days.
                @let height = if *count == 0 { 1.0 } else { (f64::from(*count) / f64::from(max) * HEIGHT).max(2.0) };
                rect class=(if *count == 0 { "day empty" } else { "day" })
                    x=(i as f64 * (BAR + GAP)) y=(format!("{:.1}", HEIGHT - height))
                    width=(BAR) height=(format!("{height:.1}")) {
                    title { (day.format("%a %d %b")) ": " (count) (if *count == 1 { " build" } else { " builds" }) }
                }
            }
        }
    }
}

/// One run of a test on the durations chart.
pub struct DurationPoint {
    pub ms: u64,
    pub status: String,
    pub title: String,
}

/// Durations over time, oldest on the left, each point coloured by its status.
pub fn durations(points: &[DurationPoint]) -> Markup {
    const WIDTH: f64 = 800.0;
    const HEIGHT: f64 = 160.0;
    // Room on the left for the axis labels.
    const LEFT: f64 = 56.0;
    const PAD: f64 = 10.0;
    let max = points.iter().map(|p| p.ms).max().unwrap_or(0).max(1);
    let (top, bottom) = (PAD, HEIGHT - PAD);
    let x_of = |i: usize| match points.len() {
        0 | 1 => (LEFT + WIDTH - PAD) / 2.0,
        n => LEFT + i as f64 * (WIDTH - PAD - LEFT) / (n - 1) as f64,
    };
    let coords: Vec<(f64, f64)> =
        points.iter().enumerate().map(|(i, p)| (x_of(i), bottom - p.ms as f64 / max as f64 * (bottom - top))).collect();
    let line: Vec<String> = coords.iter().map(|(x, y)| format!("{x:.1},{y:.1}")).collect();
    html! {
        svg.chart.durations viewBox=(format!("0 0 {WIDTH} {HEIGHT}")) role="img"
            aria-label=(format!("Durations of the last {} runs, longest {}", points.len(), duration_ms(max))) {
            line.grid x1=(LEFT) y1=(top) x2=(WIDTH - PAD) y2=(top) {}
            line.axis x1=(LEFT) y1=(bottom) x2=(WIDTH - PAD) y2=(bottom) {}
            text.axis-label x=(LEFT - 8.0) y=(top + 4.0) text-anchor="end" { (duration_ms(max)) }
            text.axis-label x=(LEFT - 8.0) y=(bottom + 4.0) text-anchor="end" { "0" }
            @if line.len() > 1 {
                polyline.trend points=(line.join(" ")) {}
            }
            @for (point, (x, y)) in points.iter().zip(&coords) {
                circle class=(format!("point status-{}", css_token(&point.status))) cx=(format!("{x:.1}")) cy=(format!("{y:.1}")) r="5" {
                    title { (point.title) }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_scale_to_the_busiest_day() {
        let day = |d| NaiveDate::from_ymd_opt(2024, 5, d).expect("valid date");
        let svg = builds_per_day(&[(day(1), 0), (day(2), 4), (day(3), 2)]).into_string();
        assert_eq!(svg.matches("<rect").count(), 3);
        assert!(svg.contains("y=\"0.0\" width=\"8\" height=\"32.0\""));
        assert!(svg.contains("height=\"16.0\""));
        assert!(svg.contains("6 builds in the last 3 days"));
        assert!(svg.contains("Thu 02 May: 4 builds"));
    }

    #[test]
    fn durations_escape_titles() {
        let points = [
            DurationPoint { ms: 1000, status: "passed".into(), title: "<b>".into() },
            DurationPoint { ms: 2000, status: "failed".into(), title: "x".into() },
        ];
        let svg = durations(&points).into_string();
        assert!(svg.contains("<polyline"));
        assert!(svg.contains("&lt;b&gt;"));
        assert!(svg.contains("status-failed"));
        assert!(durations(&[]).into_string().contains("<svg"));
    }
}
