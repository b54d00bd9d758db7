//! The run page: one trace's verdict, its violations in plain words, the waterfall of its stages and
//! sessions with the critical path marked, stage timings, memory and authenticity against their limits, and
//! the what-if plan.

use ironforge_analysis::TraceAnalysis;
use ironforge_analysis::breakdown::{SessionBreakdown, StageBreakdown};
use maud::{Markup, html};

use super::svg::{self, LABEL_WIDTH, Scale, WIDTH, coord};
use super::{AUTHENTICITY_CONTRACT, Limits, MEAN_AUTHENTICITY_CONTRACT, layout};
use crate::check::report::{TraceReport, place, quantity};
use crate::verdict::{Severity, TraceVerdict, Violation};

/// Violations listed per run; the rest are counted.
const MAX_VIOLATIONS_LISTED: usize = 300;
/// Session bars drawn per run; a larger run's waterfall says how many it left out.
const MAX_SESSIONS_DRAWN: usize = 2_000;
/// Lanes per stage for sessions that overlap; more overlap shares the last lane.
const MAX_LANES: usize = 12;
const LANE_HEIGHT: f64 = 10.0;
const STAGE_BAR_HEIGHT: f64 = 6.0;
const PATH_BAR_HEIGHT: f64 = 6.0;
const ROW_GAP: f64 = 8.0;

/// The id of a run's section.
pub(super) fn anchor(trace_id: &str) -> String {
    format!("run-{trace_id}")
}

pub(super) fn section(trace: &TraceReport, limits: &Limits) -> Markup {
    let verdict = &trace.verdict;
    let id = verdict.trace_id.to_string();
    let analysis = trace.analysis.as_ref();
    html! {
        section.run id=(anchor(&id)) {
            div.card {
                h1 { "Run " code { (id) } }
                p {
                    (layout::outcome(trace.outcome)) " "
                    "verdict " strong { (verdict.status.as_str()) } ", "
                    @if verdict.production_ready { strong { "production-ready" } } @else { strong.critical-text { "not production-ready" } }
                    " · service " strong { (verdict.service_name.as_deref().unwrap_or("(unknown)")) }
                    " · " (verdict.span_count) " spans"
                    @if let Some(analysis) = analysis {
                        " · run " (layout::seconds(analysis.run_seconds))
                        ", critical path " (layout::seconds(analysis.critical_path_seconds))
                    }
                }
                @if let Some(dominant) = analysis.and_then(|a| a.dominant.as_ref()) {
                    p { strong { "What dominates: " } (dominant) }
                }
            }
            (violations(trace))
            @match analysis {
                Some(analysis) => {
                    (waterfall(analysis))
                    (stage_timings(verdict, analysis, limits))
                    (memory(analysis, limits))
                }
                None => {
                    div.card { p.muted { "No analysis of this run: it has no spans to analyse, or it is no longer among the runs the analysis keeps." } }
                    (stage_durations(verdict))
                }
            }
            (authenticity(verdict, limits))
            @if let Some(analysis) = analysis { (plan(analysis)) }
            (notes(verdict, analysis))
        }
    }
}

fn violations(trace: &TraceReport) -> Markup {
    let verdict = &trace.verdict;
    let listed = &verdict.violations[..verdict.violations.len().min(MAX_VIOLATIONS_LISTED)];
    let left_out = (verdict.violations.len() - listed.len()) as u64 + verdict.violations_over_limit;
    html! {
        div.card.violations {
            h2 { "Violations (" (trace.violation_count()) ")" }
            @if listed.is_empty() && trace.regressions.is_empty() {
                p { "No contract was broken." }
            } @else {
                (violation_table(listed))
                @if left_out > 0 { p.muted { "… and " (left_out) " more violation(s) not listed." } }
                @for regression in &trace.regressions {
                    p { span.critical-text { "baseline regression, blocking" } " stage " (regression.stage) ": " (regression.message) }
                }
            }
        }
    }
}

fn violation_table(violations: &[Violation]) -> Markup {
    html! {
        table {
            tr {
                th { "severity" } th { "contract" } th { "what happened" } th.num { "observed" } th.num { "threshold" } th { "where" }
            }
            @for violation in violations {
                tr.violation {
                    td {
                        @match violation.severity {
                            Severity::Critical => span.critical-text { "critical" },
                            Severity::Warning => span.warning-text { "warning" },
                        }
                        @if violation.blocks_production { br; span.small { "blocks production" } }
                    }
                    td { code { (violation.contract_id) } }
                    td { (violation.message) }
                    td.num { (layout::measured(violation.observed, &violation.unit)) }
                    td.num { (layout::measured(violation.threshold, &violation.unit)) }
                    td.small { (place(violation)) }
                }
            }
        }
    }
}

/// Sessions of one stage packed into lanes, each session in the first lane free at its start.
fn lanes<'a>(sessions: &[&'a SessionBreakdown]) -> Vec<Vec<&'a SessionBreakdown>> {
    let mut sorted = sessions.to_vec();
    sorted.sort_by(|a, b| a.start_seconds.total_cmp(&b.start_seconds));
    let mut lanes: Vec<(f64, Vec<&SessionBreakdown>)> = Vec::new();
    for session in sorted {
        // A little slack so sessions that touch end to end share a lane.
        let free = lanes
            .iter()
            .position(|(end, _)| *end <= session.start_seconds + 1e-6);
        let index = match free {
            Some(index) => index,
            None if lanes.len() < MAX_LANES => {
                lanes.push((0.0, Vec::new()));
                lanes.len() - 1
            }
            None => lanes.len() - 1,
        };
        if let Some((end, lane)) = lanes.get_mut(index) {
            *end = end.max(session.start_seconds + session.seconds);
            lane.push(session);
        }
    }
    lanes.into_iter().map(|(_, lane)| lane).collect()
}

fn waterfall(analysis: &TraceAnalysis) -> Markup {
    let scale = Scale::new(
        analysis.run_seconds,
        LABEL_WIDTH,
        WIDTH - LABEL_WIDTH - 10.0,
    );
    let drawn: Vec<&SessionBreakdown> = analysis.sessions.iter().take(MAX_SESSIONS_DRAWN).collect();
    let left_out = analysis.sessions.len() - drawn.len();
    let outside: Vec<_> = analysis
        .critical_path
        .iter()
        .filter(|s| s.stage.is_none())
        .collect();
    let mut y = 4.0;
    let mut rows = Vec::new();
    // The run's own critical time, outside every stage.
    rows.push(html! {
        text x="4" y=(coord(y + PATH_BAR_HEIGHT)) { "run" }
        @for step in &outside {
            rect.critical-path x=(coord(scale.x(step.start_seconds))) y=(coord(y))
                width=(coord(scale.length(step.seconds, 0.5))) height=(coord(PATH_BAR_HEIGHT)) {
                title { "critical path: " (step.name) ", " (layout::seconds(step.seconds)) " from " (layout::seconds(step.start_seconds)) }
            }
        }
    });
    y += PATH_BAR_HEIGHT + ROW_GAP;
    for stage in &analysis.stages {
        let sessions: Vec<&SessionBreakdown> = drawn
            .iter()
            .copied()
            .filter(|s| s.stage == Some(stage.stage))
            .collect();
        let lanes = lanes(&sessions);
        let top = y;
        rows.push(stage_rows(analysis, stage, &lanes, &scale, top));
        y += STAGE_BAR_HEIGHT
            + 2.0
            + lanes.len() as f64 * LANE_HEIGHT
            + 2.0
            + PATH_BAR_HEIGHT
            + ROW_GAP;
    }
    let height = y + 20.0;
    html! {
        div.card {
            h2 { "Waterfall" }
            p.legend.small {
                span { i.swatch style="background:#dee2e6" {} "stage" }
                span { i.swatch style="background:#4c6ef5" {} "session (alternating shades)" }
                span { i.swatch style="background:#fff;outline:2px solid #d9480f" {} "session on the critical path" }
                span { i.swatch style="background:#d9480f" {} "critical-path segment" }
            }
            svg.waterfall viewBox={ "0 0 " (coord(WIDTH)) " " (coord(height)) } role="img"
                aria-label="waterfall of stages and sessions with the critical path" {
                (svg::axis(&scale, 0.0, y, " s"))
                @for row in rows { (row) }
            }
            @if left_out > 0 { p.muted { (left_out) " shorter session(s) not drawn." } }
        }
    }
}

fn stage_rows(
    analysis: &TraceAnalysis,
    stage: &StageBreakdown,
    lanes: &[Vec<&SessionBreakdown>],
    scale: &Scale,
    top: f64,
) -> Markup {
    let lanes_top = top + STAGE_BAR_HEIGHT + 2.0;
    let path_top = lanes_top + lanes.len() as f64 * LANE_HEIGHT + 2.0;
    html! {
        g.stage-row data-stage=(stage.stage.as_str()) {
            text x="4" y=(coord(lanes_top + 8.0)) { (stage.stage.as_str()) }
            rect.stage x=(coord(scale.x(stage.start_seconds))) y=(coord(top))
                width=(coord(scale.length(stage.end_seconds - stage.start_seconds, 0.5))) height=(coord(STAGE_BAR_HEIGHT)) {
                title { (stage.stage.as_str()) ": " (layout::seconds(stage.seconds)) ", " (stage.sessions) " sessions" }
            }
            @for (row, lane) in lanes.iter().enumerate() {
                @for (i, session) in lane.iter().enumerate() {
                    @let class = match (i % 2 == 1, session.critical_seconds > 0.0) {
                        (false, false) => "session",
                        (true, false) => "session alt",
                        (false, true) => "session on-path",
                        (true, true) => "session alt on-path",
                    };
                    rect class=(class) x=(coord(scale.x(session.start_seconds)))
                        y=(coord(lanes_top + row as f64 * LANE_HEIGHT)) width=(coord(scale.length(session.seconds, 0.5)))
                        height=(coord(LANE_HEIGHT - 1.0)) {
                        title {
                            "session " (session.session_id) " (" (stage.stage.as_str()) "): "
                            (layout::seconds(session.seconds)) " from " (layout::seconds(session.start_seconds))
                            @if session.critical_seconds > 0.0 { ", " (layout::seconds(session.critical_seconds)) " on the critical path" }
                        }
                    }
                }
            }
            @for step in analysis.critical_path.iter().filter(|s| s.stage == Some(stage.stage)) {
                rect.critical-path x=(coord(scale.x(step.start_seconds))) y=(coord(path_top))
                    width=(coord(scale.length(step.seconds, 0.5))) height=(coord(PATH_BAR_HEIGHT)) {
                    title {
                        "critical path: " (step.name)
                        @if let Some(session) = &step.session_id { " in session " (session) }
                        ", " (layout::seconds(step.seconds))
                    }
                }
            }
        }
    }
}

/// Whether `value` is past a ceiling `limit`.
fn past(value: f64, limit: Option<f64>) -> bool {
    limit.is_some_and(|limit| value > limit)
}

fn stage_timings(verdict: &TraceVerdict, analysis: &TraceAnalysis, limits: &Limits) -> Markup {
    let budgets = &limits.budgets;
    html! {
        div.card {
            h2 { "Stage timings against limits" }
            p {
                "Run " (layout::seconds(analysis.run_seconds))
                @if let Some(limit) = budgets.run_seconds { " of a " (layout::seconds(limit)) " limit" }
                " " (svg::meter(analysis.run_seconds, budgets.run_seconds, past(analysis.run_seconds, budgets.run_seconds), "run duration against its limit"))
            }
            table {
                tr {
                    th { "stage" } th.num { "wall time" } th.num { "limit" } th { "against the limit" }
                    th.num { "critical time" } th.num { "share" } th.num { "sessions" } th.num { "parallelism" }
                    th { "sessions over " @if let Some(limit) = budgets.session_seconds { (layout::seconds(limit)) } @else { "the session limit" } }
                }
                @for stage in &analysis.stages {
                    @let limit = budgets.stage_seconds(stage.sessions);
                    @let slow_sessions = budgets.session_seconds.map(|limit| analysis.sessions.iter()
                        .filter(|s| s.stage == Some(stage.stage) && s.seconds > limit).count());
                    tr {
                        td { (stage.stage.as_str()) }
                        td.num { (layout::seconds(stage.seconds)) }
                        td.num { @if let Some(limit) = limit { (layout::seconds(limit)) } @else { "—" } }
                        td { (svg::meter(stage.seconds, limit, past(stage.seconds, limit), &format!("{} against its limit", stage.stage.as_str()))) }
                        td.num { (layout::seconds(stage.critical_seconds)) }
                        td.num { (layout::percent(stage.critical_share)) }
                        td.num { (stage.sessions) }
                        td.num { (format!("{:.2}", stage.parallelism)) }
                        td.num { @if let Some(slow) = slow_sessions { (slow) } @else { "—" } }
                    }
                }
            }
            @if analysis.stages.is_empty() { (stage_durations(verdict)) }
            p.small.muted { "A stage's limit is its sessions one after another, each at the session limit." }
        }
    }
}

/// The verdict's own stage durations, for a run without an analysis.
fn stage_durations(verdict: &TraceVerdict) -> Markup {
    html! {
        div.card {
            h2 { "Stage durations" }
            @if verdict.stage_durations.is_empty() { p.muted { "The verdict records no stage." } }
            table {
                @for stage in &verdict.stage_durations {
                    tr { td { (stage.stage) } td.num { (layout::seconds(stage.seconds)) } }
                }
            }
        }
    }
}

fn memory(analysis: &TraceAnalysis, limits: &Limits) -> Markup {
    let limit = limits.memory_bytes;
    html! {
        div.card.memory {
            h2 { "Memory against " @if let Some(limit) = limit { (layout::megabytes(limit)) } @else { "its limit" } }
            @match &analysis.memory {
                None => p.muted { "No span of this run reported its memory." },
                Some(trend) => {
                    p {
                        "Peak " strong { (layout::megabytes(trend.peak_bytes)) }
                        @if let Some(limit) = limit {
                            " (" (layout::percent(trend.peak_bytes / limit)) " of the limit)"
                        }
                        ", mean " (layout::megabytes(trend.mean_bytes))
                        ", growth " (format!("{:.0}", trend.growth_bytes_per_second)) " bytes/s over " (trend.samples) " samples. "
                        (trend.verdict) "."
                    }
                    (memory_chart(analysis, limit))
                }
            }
        }
    }
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
            (svg::axis(&x, 6.0, BOTTOM, " s"))
            text x="4" y=(coord(y(max / 1.1) + 4.0)) { (layout::megabytes(max / 1.1)) }
            text x="4" y=(coord(BOTTOM)) { "0 MB" }
            @if let Some(limit) = limit {
                line.limit x1=(coord(x.left)) y1=(coord(y(limit))) x2=(coord(x.left + x.width)) y2=(coord(y(limit))) {}
                text x=(coord(x.left + x.width - 4.0)) y=(coord(y(limit) - 4.0)) text-anchor="end" { "limit " (layout::megabytes(limit)) }
            }
            polyline.line points=(line.join(" ")) {}
        }
    }
}

fn authenticity(verdict: &TraceVerdict, limits: &Limits) -> Markup {
    let of = |id: &'static str| {
        verdict
            .violations
            .iter()
            .filter(move |v| v.contract_id == id)
    };
    let mean = of(MEAN_AUTHENTICITY_CONTRACT).next();
    let scored: Vec<&Violation> = of(AUTHENTICITY_CONTRACT).collect();
    let lowest = scored
        .iter()
        .map(|v| v.observed)
        .fold(f64::INFINITY, f64::min);
    html! {
        div.card.authenticity {
            h2 { "Authenticity against " @if let Some(floor) = limits.authenticity { (quantity(floor, "1")) } @else { "its floor" } }
            @match mean {
                Some(mean) => p {
                    "The run's mean authenticity was " strong.critical-text { (quantity(mean.observed, "1")) }
                    ", at or below the " (quantity(mean.threshold, "1")) " it must exceed."
                    (svg::meter(mean.observed, Some(mean.threshold), true, "mean authenticity against its floor"))
                },
                None => p {
                    "The run's mean authenticity broke no contract. The verdict records violations only, so the mean "
                    "itself is not in it and is not shown."
                },
            }
            @if !scored.is_empty() {
                p {
                    (scored.len()) " scored session(s) or pattern(s) at or below the floor; the lowest scored "
                    strong { (quantity(lowest, "1")) } "."
                }
            }
        }
    }
}

fn plan(analysis: &TraceAnalysis) -> Markup {
    let plan = &analysis.plan;
    let title = |id: &str| {
        analysis
            .recommendations
            .iter()
            .find(|r| r.id == id)
            .map_or_else(|| id.to_owned(), |r| r.title.clone())
    };
    html! {
        div.card.plan {
            h2 { "What-if plan" }
            @if analysis.recommendations.is_empty() {
                p { "Nothing to recommend: no change the analysis weighs would gain 0.5 % of the run." }
            } @else {
                table {
                    tr {
                        th { "recommendation" } th { "category" } th { "priority" } th { "effort" } th { "risk" }
                        th.num { "gain" } th { "assumption" }
                    }
                    @for r in &analysis.recommendations {
                        tr {
                            td { (r.title) br; span.small.muted { (r.evidence) } }
                            td { (r.category.as_str()) }
                            td { (r.priority.as_str()) }
                            td { (r.effort.as_str()) }
                            td { (r.risk.as_str()) }
                            td.num { (layout::seconds(r.gain_seconds)) br; (format!("{:.1} %", r.gain_percent)) }
                            td.small { (r.assumption) }
                        }
                    }
                }
                h3 { "Phases" }
                table {
                    tr { th { "phase" } th { "takes" } th.num { "run after" } th.num { "gain so far" } }
                    @for phase in &plan.phases {
                        tr {
                            td { (phase.phase) }
                            td { @for id in &phase.recommendations { (title(id)) br; } }
                            td.num { (layout::seconds(phase.run_seconds_after)) }
                            td.num { (layout::seconds(phase.gain_seconds)) }
                        }
                    }
                }
                p {
                    "Together: " (layout::seconds(plan.run_seconds_before)) " → " strong { (layout::seconds(plan.run_seconds_after)) }
                    " (" (format!("{:.1} %", plan.total_gain_percent)) " faster, re-timed together), overall risk "
                    (plan.overall_risk.as_str()) ". " span.small.muted { (plan.assumption) }
                }
            }
        }
    }
}

fn notes(verdict: &TraceVerdict, analysis: Option<&TraceAnalysis>) -> Markup {
    let mut notes: Vec<String> = Vec::new();
    if let Some(reason) = &verdict.incomplete_reason {
        notes.push(format!("incomplete: {reason}"));
    }
    if verdict.evicted {
        notes.push("decided early to make room in the monitor: a verdict on its capacity, not on the pipeline".to_owned());
    }
    if verdict.attributes_truncated > 0 {
        notes.push(format!(
            "{} attribute value(s) cut or dropped by the attribute limits",
            verdict.attributes_truncated
        ));
    }
    notes.extend(analysis.into_iter().flat_map(|a| a.notes.iter().cloned()));
    html! {
        @if !notes.is_empty() {
            div.card {
                h2 { "Notes" }
                ul { @for note in &notes { li { (note) } } }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(id: &str, start: f64, seconds: f64) -> SessionBreakdown {
        SessionBreakdown {
            session_id: id.to_owned(),
            stage: None,
            start_seconds: start,
            seconds,
            critical_seconds: 0.0,
            self_seconds: 0.0,
        }
    }

    #[test]
    fn sessions_one_after_another_share_a_lane_and_overlapping_ones_do_not() {
        let (a, b, c) = (
            session("a", 0.0, 1.0),
            session("b", 1.0, 1.0),
            session("c", 0.5, 2.0),
        );
        let lanes = lanes(&[&a, &b, &c]);
        let ids: Vec<Vec<&str>> = lanes
            .iter()
            .map(|lane| lane.iter().map(|s| s.session_id.as_str()).collect())
            .collect();
        assert_eq!(ids, [vec!["a", "b"], vec!["c"]]);
    }
}
