//! The overview: health per pipeline, recent runs with their verdicts, violations to act on, compliance
//! per contract, and each stage's duration over the recent runs.

use maud::{Markup, html};

use super::violations::rank;
use super::{Links, Overview, format, layout, svg};
use crate::check::TraceReport;
use crate::health::HealthReport;
use crate::model::TraceId;
use crate::verdict::{Severity, Violation};

/// Runs linked from one contract's row of active violations.
const RUNS_LINKED: usize = 5;

/// The active violations of one contract.
struct Active<'a> {
    /// The first of the list: the newest where the list is newest first.
    latest: &'a Violation,
    /// Every violation of the contract in the list, so the figure is the compliance table's on the same data.
    count: u64,
    runs: Vec<TraceId>,
}

/// Violations grouped by contract, most serious first (blocking, critical, warning), then by contract id.
fn by_contract(violations: &[Violation]) -> Vec<Active<'_>> {
    let mut groups: Vec<Active<'_>> = Vec::new();
    for violation in violations {
        let group = match groups
            .iter()
            .position(|g| g.latest.contract_id == violation.contract_id)
        {
            Some(index) => &mut groups[index],
            None => {
                groups.push(Active {
                    latest: violation,
                    count: 0,
                    runs: Vec::new(),
                });
                let last = groups.len() - 1;
                &mut groups[last]
            }
        };
        group.count += 1;
        if !group.runs.contains(&violation.trace_id) {
            group.runs.push(violation.trace_id);
        }
    }
    groups.sort_by(|a, b| {
        rank(a.latest)
            .cmp(&rank(b.latest))
            .then(a.latest.contract_id.cmp(&b.latest.contract_id))
    });
    groups
}

fn active(overview: &Overview<'_>) -> Markup {
    let groups = by_contract(overview.violations);
    html! {
        div.card.active-violations {
            h2 { "Active violations (" (overview.violations.len()) ")" }
            p.small.muted { "Violations " (overview.active_scope) ", per contract; the compliance table below counts the same way." }
            @if groups.is_empty() {
                p { "None." }
            } @else {
                table {
                    tr {
                        th { "contract" } th { "severity" } th.num { "violations" } th { "runs" }
                        th { "latest, in words" } th.num { "observed" } th.num { "threshold" }
                    }
                    @for group in &groups {
                        @let latest = group.latest;
                        tr.active data-contract=(latest.contract_id) data-violations=(group.count) {
                            td { code { (latest.contract_id) } }
                            td {
                                @match latest.severity {
                                    Severity::Critical => span.critical-text { "critical" },
                                    Severity::Warning => span.warning-text { "warning" },
                                }
                                @if latest.blocks_production { br; span.small { "blocks production" } }
                            }
                            td.num { (group.count) }
                            td { (run_links(&group.runs, overview.links)) }
                            td { (latest.message) }
                            td.num { (format::measured(latest.observed, &latest.unit)) }
                            td.num { (format::measured(latest.threshold, &latest.unit)) }
                        }
                    }
                }
            }
            @if overview.violations_left_out > 0 {
                p.muted {
                    "… and " (overview.violations_left_out)
                    " more past a per-trace limit: counted on their runs, kept by no contract's figure here."
                }
            }
        }
    }
}

fn run_links(runs: &[TraceId], links: Links) -> Markup {
    html! {
        @for trace_id in runs.iter().take(RUNS_LINKED) {
            @let id = trace_id.to_string();
            a href=(links.run(&id)) { code { (layout::short(&id)) } } " "
        }
        @if runs.len() > RUNS_LINKED { span.muted { "+" (runs.len() - RUNS_LINKED) } }
    }
}

pub(super) fn section(overview: &Overview<'_>) -> Markup {
    html! {
        section id="overview" {
            (health(overview.health))
            (runs(overview))
            (active(overview))
            (compliance(overview.health, overview.compliance_scope))
            (trends(overview.runs))
        }
    }
}

fn health(report: &HealthReport) -> Markup {
    html! {
        div.card {
            h2 { "Health" }
            p {
                "Overall " (layout::health(report.health)) " score " strong { (format!("{:.1}", report.health_score)) }
                ", " (format::share(report.compliance_ratio)) " of " (report.counts.traces_total) " run(s) production-ready."
            }
            table {
                tr {
                    th { "pipeline" } th { "health" } th.num { "score" } th.num { "production-ready" } th.num { "runs" }
                    th.num { "passed" } th.num { "warned" } th.num { "failed" } th.num { "incomplete" }
                }
                @for p in &report.pipelines {
                    tr {
                        td { (p.pipeline) }
                        td { (layout::health(p.health)) }
                        td.num { (format!("{:.1}", p.health_score)) }
                        td.num { (format::share(p.compliance_ratio)) }
                        td.num { (p.counts.traces_total) }
                        td.num { (p.counts.traces_passed) }
                        td.num { (p.counts.traces_warned) }
                        td.num { (p.counts.traces_failed) }
                        td.num { (p.counts.traces_incomplete) }
                    }
                }
            }
            p.small.muted { "Score: 100 × the mean points of the last 20 verdicts (pass 1, warn 0.75, incomplete 0.5, fail 0)." }
        }
    }
}

fn runs(overview: &Overview<'_>) -> Markup {
    html! {
        div.card {
            h2 { "Recent runs (" (overview.runs.len()) ")" }
            p { a href=(overview.links.flame()) { "Critical-path flame graph over these runs" } }
            table {
                tr {
                    th { "run" } th { "service" } th { "outcome" } th { "verdict" } th { "production-ready" }
                    th.num { "violations" } th.num { "run time" } th.num { "critical path" }
                }
                @for trace in overview.runs.iter().rev() {
                    @let id = trace.verdict.trace_id.to_string();
                    tr {
                        td { a href=(overview.links.run(&id)) { code { (layout::short(&id)) } } }
                        td { (trace.verdict.service_name.as_deref().unwrap_or("(unknown)")) }
                        td { (layout::outcome(trace.outcome)) }
                        td { (trace.verdict.status.as_str()) }
                        td { (layout::yes_no(trace.verdict.production_ready)) }
                        td.num { (trace.violation_count()) }
                        @match &trace.analysis {
                            Some(a) => {
                                td.num { (format::duration(a.run_seconds)) }
                                td.num { (format::duration(a.critical_path_seconds)) }
                            }
                            None => { td.num { "—" } td.num { "—" } }
                        }
                    }
                }
            }
        }
    }
}

fn compliance(report: &HealthReport, scope: &str) -> Markup {
    html! {
        div.card {
            h2 { "Compliance per contract" }
            p.small.muted { "Every run decided " (scope) "." }
            table {
                tr {
                    th { "contract" } th { "category" } th.num { "runs judged" } th.num { "runs violating" }
                    th.num { "violations" } th.num { "compliant" } th { "" }
                }
                @for c in &report.contracts {
                    @let compliant = if c.evaluated > 0 {
                        1.0 - c.traces_violating as f64 / c.evaluated as f64
                    } else {
                        1.0
                    };
                    tr.compliance data-contract=(c.contract_id) data-violations=(c.violations) {
                        td { code { (c.contract_id) } }
                        td { (c.category.as_str()) }
                        td.num { (c.evaluated) }
                        td.num { (c.traces_violating) }
                        td.num { (c.violations) }
                        td.num { (format::share(compliant)) }
                        td { (svg::meter(compliant, Some(1.0), compliant < 1.0, &format!("{} compliance", c.contract_id))) }
                    }
                }
            }
        }
    }
}

/// Each stage's duration over the runs in the order they were decided; stages in the order first seen,
/// which is the pipeline's.
fn stage_series(runs: &[TraceReport]) -> Vec<(String, Vec<f64>)> {
    let mut ordered: Vec<&TraceReport> = runs.iter().collect();
    ordered.sort_by_key(|t| t.verdict.decided_unix_nano);
    let mut series: Vec<(String, Vec<f64>)> = Vec::new();
    for trace in ordered {
        for stage in &trace.verdict.stage_durations {
            match series.iter_mut().find(|(name, _)| *name == stage.stage) {
                Some((_, values)) => values.push(stage.seconds),
                None => series.push((stage.stage.clone(), vec![stage.seconds])),
            }
        }
    }
    series
}

fn trends(runs: &[TraceReport]) -> Markup {
    let series = stage_series(runs);
    html! {
        div.card {
            h2 { "Stage durations over recent runs" }
            @if series.is_empty() {
                p.muted { "No stage durations yet." }
            } @else {
                div.grid2 {
                    @for (stage, values) in &series {
                        @let min = values.iter().copied().fold(f64::INFINITY, f64::min);
                        @let max = values.iter().copied().fold(0.0, f64::max);
                        div.trend {
                            h3 { (stage) }
                            (svg::sparkline(values, None, &format!("{stage} duration over {} run(s)", values.len())))
                            p.small {
                                "latest " (format::duration(values.last().copied().unwrap_or_default()))
                                ", min " (format::duration(min)) ", max " (format::duration(max))
                                " over " (values.len()) " run(s)"
                            }
                        }
                    }
                }
            }
        }
    }
}
