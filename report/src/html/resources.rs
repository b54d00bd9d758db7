//! A run's memory and authenticity against their limits, each figure named by the attribute it comes from.

use ironforge_analysis::TraceAnalysis;
use ironforge_analysis::memory::MemoryTrend;
use ironforge_proto::semconv::attr;
use maud::{Markup, html};

use super::readings::{Authenticity, MemoryPeak};
use super::svg::{self, LABEL_WIDTH, Scale, WIDTH, coord};
use super::{Limits, MEMORY_CONTRACT, format};
use crate::verdict::TraceVerdict;

pub(super) fn memory(
    verdict: &TraceVerdict,
    analysis: Option<&TraceAnalysis>,
    limits: &Limits,
) -> Markup {
    let limit = limits.memory_bytes;
    let peak = MemoryPeak::of(verdict, analysis);
    let trend = analysis.and_then(|a| a.memory.as_ref());
    html! {
        div.card.memory data-peak-bytes=[peak.bytes()] data-peak-source=(peak.source()) {
            h2 { "Memory against " @if let Some(limit) = limit { (format::bytes(limit)) } @else { "its limit" } }
            p { (peak_sentence(peak, limit)) }
            @if let Some(trend) = trend {
                p { (trend_sentence(trend, limit)) }
            }
            @if let Some(analysis) = analysis.filter(|a| !a.memory_timeline.is_empty()) {
                (memory_chart(analysis, limit))
                p.small.muted { "The line is " code { (attr::PROCESS_MEMORY_USAGE) } " at each span's end." }
            }
        }
    }
}

/// The peak, where it was read, and how it stands against the limit.
pub(super) fn peak_sentence(peak: MemoryPeak, limit: Option<f64>) -> Markup {
    let of_limit = |bytes: f64| {
        limit.map(|limit| {
            format!(
                " ({} of the {} limit)",
                format::share(bytes / limit),
                format::bytes(limit)
            )
        })
    };
    html! {
        @match peak {
            MemoryPeak::Contract(bytes) => {
                "Peak " strong class=(if limit.is_some_and(|limit| bytes >= limit) { "critical-text" } else { "" }) {
                    (format::bytes(bytes))
                }
                @if let Some(text) = of_limit(bytes) { (text) }
                ", read from " code { (attr::MEMORY_PEAK) } " as " code { (MEMORY_CONTRACT) } " reads it."
            }
            MemoryPeak::ProcessUsage(bytes) => {
                "No reading of " code { (attr::MEMORY_PEAK) } " as " code { (MEMORY_CONTRACT) } " reads it. "
                "Fallback: the highest " code { (attr::PROCESS_MEMORY_USAGE) } " was " strong { (format::bytes(bytes)) }
                @if let Some(text) = of_limit(bytes) { (text) }
                "."
            }
            MemoryPeak::Unknown => {
                "No span of this run reported its memory, and " code { (MEMORY_CONTRACT) } " broke no limit."
            }
        }
    }
}

/// The trend of the resident readings, in words the page writes from the figures.
fn trend_sentence(trend: &MemoryTrend, limit: Option<f64>) -> String {
    let growth = trend.growth_bytes_per_second;
    let mut text = format!(
        "Over {} readings: mean {}, ",
        trend.samples,
        format::bytes(trend.mean_bytes)
    );
    if growth > 0.0 {
        text.push_str(&format!("growing {}", format::rate(growth)));
    } else {
        text.push_str("not growing");
    }
    text.push_str(if trend.leak {
        " — a leak: the growth is significant and still going on at the end"
    } else {
        " — not a leak"
    });
    match (trend.seconds_to_limit, limit) {
        (Some(seconds), Some(limit)) if seconds <= 0.0 => {
            text.push_str(&format!("; already at the {} limit", format::bytes(limit)));
        }
        (Some(seconds), Some(limit)) => text.push_str(&format!(
            "; at that rate it reaches the {} limit in {}",
            format::bytes(limit),
            format::duration(seconds)
        )),
        _ => {}
    }
    text.push('.');
    text
}

fn memory_chart(analysis: &TraceAnalysis, limit: Option<f64>) -> Markup {
    const HEIGHT: f64 = 160.0;
    const BOTTOM: f64 = HEIGHT - 20.0;
    let points = &analysis.memory_timeline;
    let peak = points.iter().map(|p| p.bytes).fold(0.0, f64::max);
    let max = limit.unwrap_or(0.0).max(peak) * 1.1;
    let max = if max > 0.0 { max } else { 1.0 };
    let x = Scale::new(
        analysis.run_seconds,
        LABEL_WIDTH,
        WIDTH - LABEL_WIDTH - 10.0,
    );
    let y = |bytes: f64| BOTTOM - bytes.clamp(0.0, max) / max * (BOTTOM - 10.0);
    let line: Vec<String> = points
        .iter()
        .map(|p| format!("{},{}", coord(x.x(p.seconds)), coord(y(p.bytes))))
        .collect();
    html! {
        svg.memory-chart viewBox={ "0 0 " (coord(WIDTH)) " " (coord(HEIGHT)) } role="img" aria-label="memory over the run" {
            (svg::axis(&x, 6.0, BOTTOM, format::duration))
            text x="4" y=(coord(y(max / 1.1) + 4.0)) { (format::bytes(max / 1.1)) }
            text x="4" y=(coord(BOTTOM)) { "0 MiB" }
            @if let Some(limit) = limit {
                line.limit x1=(coord(x.left)) y1=(coord(y(limit))) x2=(coord(x.left + x.width)) y2=(coord(y(limit))) {}
                text x=(coord(x.left + x.width - 4.0)) y=(coord(y(limit) - 4.0)) text-anchor="end" { "limit " (format::bytes(limit)) }
            }
            polyline.line points=(line.join(" ")) {}
        }
    }
}

pub(super) fn authenticity(verdict: &TraceVerdict, limits: &Limits) -> Markup {
    let readings = Authenticity::of(verdict);
    html! {
        div.card.authenticity {
            h2 { "Authenticity against " @if let Some(floor) = limits.authenticity { (format::number(floor)) } @else { "its floor" } }
            @match readings.mean {
                Some(mean) => p {
                    "The run's mean authenticity was " strong.critical-text { (format::number(mean.observed)) }
                    ", at or below the " (format::number(mean.threshold)) " it must exceed."
                    (svg::meter(mean.observed, Some(mean.threshold), true, "mean authenticity against its floor"))
                },
                None => p {
                    "The run's mean authenticity broke no contract. The verdict records violations only, so the mean "
                    "itself is not in it and is not shown."
                },
            }
            @if let Some(lowest) = readings.lowest() {
                p {
                    (readings.below.len()) " scored session(s) or pattern(s) at or below the floor; the lowest scored "
                    strong { (format::number(lowest.observed)) }
                    @if let Some(session) = &lowest.session_id { " (session " code { (session) } ")" }
                    "."
                }
            }
        }
    }
}
