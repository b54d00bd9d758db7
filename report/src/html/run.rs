//! The run page: one trace's verdict, its violations in plain words, the waterfall of its stages and
//! sessions with the critical path marked, stage timings, memory and authenticity against their limits, and
//! the what-if plan.

use ironforge_analysis::TraceAnalysis;
use maud::{Markup, html};

use super::{Limits, format, headline, resources, svg, violations, waterfall};
use crate::check::TraceReport;
use crate::verdict::TraceVerdict;

/// The id of a run's section.
pub(super) fn anchor(trace_id: &str) -> String {
    format!("run-{trace_id}")
}

/// The verdict, its reason and the key figures first, then the waterfall, so both are in view on
/// opening; the long tables follow.
pub(super) fn section(trace: &TraceReport, limits: &Limits) -> Markup {
    let verdict = &trace.verdict;
    let id = verdict.trace_id.to_string();
    let analysis = trace.analysis.as_ref();
    html! {
        section.run id=(anchor(&id)) {
            (headline::card(trace, limits))
            @match analysis {
                Some(analysis) => (waterfall::waterfall(analysis)),
                None => div.card { p.muted { "No analysis of this run: it has no spans to analyse, or it is no longer among the runs the analysis keeps." } },
            }
            (violations::section(trace))
            @match analysis {
                Some(analysis) => (stage_timings(verdict, analysis, limits)),
                None => (stage_durations(verdict)),
            }
            (resources::memory(verdict, analysis, limits))
            (resources::authenticity(verdict, limits))
            @if let Some(analysis) = analysis { (plan(analysis)) }
            (notes(verdict, analysis))
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
                "Run " (format::duration(analysis.run_seconds))
                @if let Some(limit) = budgets.run_seconds { " of a " (format::duration(limit)) " limit" }
                " " (svg::meter(analysis.run_seconds, budgets.run_seconds, past(analysis.run_seconds, budgets.run_seconds), "run duration against its limit"))
            }
            table {
                tr {
                    th { "stage" } th.num { "wall time" } th.num { "limit" } th { "against the limit" }
                    th.num { "critical time" } th.num { "share" } th.num { "sessions" } th.num { "parallelism" }
                    th { "sessions over " @if let Some(limit) = budgets.session_seconds { (format::duration(limit)) } @else { "the session limit" } }
                }
                @for stage in &analysis.stages {
                    @let limit = budgets.stage_seconds(stage.sessions);
                    @let slow_sessions = budgets.session_seconds.map(|limit| analysis.sessions.iter()
                        .filter(|s| s.stage == Some(stage.stage) && s.seconds > limit).count());
                    tr {
                        td { (stage.stage.as_str()) }
                        td.num { (format::duration(stage.seconds)) }
                        td.num { @if let Some(limit) = limit { (format::duration(limit)) } @else { "—" } }
                        td { (svg::meter(stage.seconds, limit, past(stage.seconds, limit), &format!("{} against its limit", stage.stage.as_str()))) }
                        td.num { (format::duration(stage.critical_seconds)) }
                        td.num { (format::share(stage.critical_share)) }
                        td.num { (stage.sessions) }
                        td.num { (format::number(stage.parallelism)) }
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
                    tr { td { (stage.stage) } td.num { (format::duration(stage.seconds)) } }
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
            p { (plan.summary) }
            @if !analysis.recommendations.is_empty() {
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
                            td.num { (format::duration(r.gain_seconds)) br; (format::share(r.gain_percent / 100.0)) }
                            td.small { (r.assumption) }
                        }
                    }
                }
            }
            @if !plan.phases.is_empty() {
                h3 { "Phases" }
                table {
                    tr {
                        th { "phase" } th { "effort" } th { "takes" } th.num { "gain" } th.num { "gain so far" }
                        th.num { "run after" }
                    }
                    @for phase in &plan.phases {
                        tr {
                            td { (phase.phase) }
                            td { (phase.effort.as_str()) }
                            td { @for id in &phase.recommendations { (title(id)) br; } }
                            td.num { (format::duration(phase.gain_seconds)) }
                            td.num { (format::duration(phase.cumulative_gain_seconds)) }
                            td.num { (format::duration(phase.run_seconds_after)) }
                        }
                    }
                }
                p {
                    "Together: " (format::duration(plan.run_seconds_before)) " → " strong { (format::duration(plan.run_seconds_after)) }
                    " (" (format::share(plan.total_gain_percent / 100.0)) " faster, re-timed together), overall risk "
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
