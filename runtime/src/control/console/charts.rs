//! Charts drawn on the server as SVG: no script and no library in the browser. Each chart is an
//! image with a text alternative (its title and the newest values), so a screen reader reads
//! what the eye sees.

use maud::{Markup, html};

/// Width and height of the drawing (it scales to its box).
const W: f64 = 600.0;
const H: f64 = 160.0;
/// Room for the axis labels.
const LEFT: f64 = 48.0;
const BOTTOM: f64 = 20.0;

/// One line of a chart.
pub struct Series<'a> {
    /// Its name in the legend.
    pub label: &'a str,
    /// Its values, oldest first, one per sample.
    pub values: Vec<f64>,
    /// Its CSS class (`s0` to `s3`: colours with enough contrast).
    pub class: &'a str,
}

/// A line chart of `series` against the samples' times; `limit` draws a dashed line (a
/// limit the values are compared with), `unit` follows the numbers.
pub fn line_chart(title: &str, unit: &str, series: &[Series<'_>], limit: Option<f64>) -> Markup {
    let points = series.iter().map(|s| s.values.len()).max().unwrap_or(0);
    let top = series
        .iter()
        .flat_map(|s| s.values.iter().copied())
        .chain(limit)
        .fold(0.0_f64, f64::max);
    let top = nice_ceiling(top);
    let x = |i: usize| {
        if points <= 1 {
            W - 1.0
        } else {
            LEFT + (W - LEFT - 1.0) * i as f64 / (points - 1) as f64
        }
    };
    let y = |v: f64| (H - BOTTOM) - (H - BOTTOM - 4.0) * (v / top);
    let summary = series
        .iter()
        .map(|s| {
            format!(
                "{} {}{}",
                s.label,
                number(s.values.last().copied().unwrap_or(0.0)),
                unit
            )
        })
        .collect::<Vec<_>>()
        .join(", ");
    html! {
        figure.chart {
            figcaption { (title) }
            svg viewBox=(format!("0 0 {W} {H}")) role="img" aria-label=(format!("{title}: now {summary}")) preserveAspectRatio="none" {
                title { (title) ": now " (summary) }
                line.axis x1=(LEFT) y1=(H - BOTTOM) x2=(W) y2=(H - BOTTOM) {}
                text.tick x="2" y="12" { (number(top)) (unit) }
                text.tick x="2" y=(H - BOTTOM) { "0" }
                text.tick x=(LEFT) y=(H - 4.0) { "1 h ago" }
                text.tick x=(W - 30.0) y=(H - 4.0) { "now" }
                @if let Some(l) = limit {
                    line.limit x1=(LEFT) y1=(y(l)) x2=(W) y2=(y(l)) {}
                }
                @for s in series {
                    @if s.values.len() == 1 {
                        circle class=(s.class) cx=(x(0)) cy=(y(s.values[0])) r="3" {}
                    } @else {
                        polyline class=(s.class) points=(
                            s.values.iter().enumerate()
                                .map(|(i, v)| format!("{:.1},{:.1}", x(i), y(*v)))
                                .collect::<Vec<_>>().join(" ")
                        ) {}
                    }
                }
            }
            ul.legend {
                @for s in series {
                    li { span class=(format!("key {}", s.class)) {} (s.label) " " strong { (number(s.values.last().copied().unwrap_or(0.0))) (unit) } }
                }
                @if let Some(l) = limit { li { span.key.limit-key {} "limit " (number(l)) (unit) } }
            }
        }
    }
}

/// The smallest of 1, 2, 5 × 10ⁿ at or above `v` (at least 1), so the scale reads well.
fn nice_ceiling(v: f64) -> f64 {
    if v <= 1.0 {
        return 1.0;
    }
    let magnitude = 10f64.powf(v.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|c| *c >= v)
        .unwrap_or(10.0 * magnitude)
}

/// A figure as people read it: no decimals from 100 on, one below.
pub fn number(v: f64) -> String {
    if v >= 100.0 || v == v.trunc() {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scale_rounds_up_to_a_readable_number() {
        assert_eq!(nice_ceiling(0.2), 1.0);
        assert_eq!(nice_ceiling(3.0), 5.0);
        assert_eq!(nice_ceiling(30.0), 50.0);
        assert_eq!(nice_ceiling(1000.0), 1000.0);
    }

    #[test]
    fn a_chart_draws_each_series_and_says_its_newest_value() {
        let svg = line_chart(
            "Updates",
            "/s",
            &[Series {
                label: "handled",
                values: vec![1.0, 4.0, 2.5],
                class: "s0",
            }],
            Some(30.0),
        )
        .into_string();
        assert!(svg.contains("<polyline class=\"s0\""), "{svg}");
        assert!(svg.contains("Updates: now handled 2.5/s"), "{svg}");
        assert!(svg.contains("class=\"limit\""), "{svg}");
    }
}
