//! The HTML run report: one renderer for `check --format html` and the admin port's pages.
//!
//! Every page is one self-contained document: inline CSS, inline SVG charts, no script, and a
//! Content-Security-Policy that forbids fetching anything, so a report opens the same from a CI artifact, a
//! mail attachment or the live port. Templates are `maud` macros, which escape every interpolated string:
//! service names, session ids, span names and messages come from traces and are never trusted.
//!
//! The views take plain data ([`TraceReport`], [`HealthReport`], violations, [`FlameGraph`]), never the
//! monitor, so the offline report and the live pages are the same code.

mod flame;
mod format;
mod headline;
mod layout;
mod overview;
mod readings;
mod resources;
mod run;
mod svg;
mod violations;
mod waterfall;

use maud::{Markup, html};

pub use flame::{FlameGraph, FlameNode, flame_graph};
pub use layout::CONTENT_SECURITY_POLICY;

use crate::check::{
    AUTHENTICITY_CONTRACT, BaselineReport, CheckReport, Limits, MEAN_AUTHENTICITY_CONTRACT,
    MEMORY_CONTRACT, TraceReport,
};
use crate::health::HealthReport;
use crate::verdict::Violation;

/// Where a page's links to runs and to the flame graph lead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Links {
    /// Sections of the same document: the offline report.
    Sections,
    /// Pages of the admin port: `/runs/{trace_id}`, `/flame`.
    Pages,
}

impl Links {
    fn run(self, trace_id: &str) -> String {
        match self {
            Links::Sections => format!("#{}", run::anchor(trace_id)),
            Links::Pages => format!("/runs/{trace_id}"),
        }
    }

    fn flame(self) -> &'static str {
        match self {
            Links::Sections => "#flame",
            Links::Pages => "/flame",
        }
    }
}

/// What the overview shows.
#[derive(Debug, Clone, Copy)]
pub struct Overview<'a> {
    /// Health per pipeline and compliance per contract.
    pub health: &'a HealthReport,
    /// Recent runs, oldest first.
    pub runs: &'a [TraceReport],
    /// Violations to act on, newest first: every one in the scope, so the counts per contract agree with
    /// the compliance table's on the same runs.
    pub violations: &'a [Violation],
    /// Violations decided but not in `violations`: past a per-trace limit, their contract unknown.
    pub violations_left_out: u64,
    /// Which violations are active, in words: `decided in the last hour`.
    pub active_scope: &'a str,
    /// Which runs the compliance table counts, in words: `since the monitor started`.
    pub compliance_scope: &'a str,
    pub links: Links,
}

/// The live overview page.
pub fn overview_page(overview: &Overview<'_>) -> String {
    layout::page(
        "IRONFORGE monitor",
        html! {
            (layout::nav(overview.links))
            (overview::section(overview))
        },
    )
}

/// The live page of one run.
pub fn run_page(trace: &TraceReport, limits: &Limits) -> String {
    let title = format!("IRONFORGE run {}", trace.verdict.trace_id);
    layout::page(
        &title,
        html! {
            (layout::nav(Links::Pages))
            (run::section(trace, limits))
        },
    )
}

/// The live flame graph page.
pub fn flame_page(graph: &FlameGraph) -> String {
    layout::page(
        "IRONFORGE critical-path flame graph",
        html! {
            (layout::nav(Links::Pages))
            (flame::section(graph))
        },
    )
}

/// A page saying what was not found, for a 404.
pub fn not_found_page(message: &str) -> String {
    layout::page(
        "IRONFORGE: not found",
        html! {
            (layout::nav(Links::Pages))
            section.card {
                h1 { "Not found" }
                p { (message) }
            }
        },
    )
}

/// `check --format html`: the overview of every trace of the input, each trace's run page, and the flame
/// graph over them, in one document.
pub(crate) fn check_report(report: &CheckReport) -> String {
    let graph = flame_graph(report.traces.iter().filter_map(|t| t.analysis.as_ref()));
    let violations: Vec<Violation> = report
        .traces
        .iter()
        .flat_map(|trace| trace.verdict.violations.iter().cloned())
        .collect();
    let left_out = report
        .traces
        .iter()
        .map(|t| t.verdict.violations_over_limit)
        .sum();
    let overview = Overview {
        health: &report.health,
        runs: &report.traces,
        violations: &violations,
        violations_left_out: left_out,
        active_scope: "in the checked traces",
        compliance_scope: "in the checked traces",
        links: Links::Sections,
    };
    layout::page(
        &format!("IRONFORGE contract check: {}", report.result()),
        html! {
            header.card {
                h1 { "IRONFORGE contract check: " span class=(layout::result_class(report.exit_code)) { (report.result()) } }
                p {
                    (report.totals.outcomes()) "; "
                    (report.totals.violations) " violation(s), " (report.totals.blocking_violations) " blocking; "
                    "contracts: " (report.contracts_source) " (" (report.profile) " profile); exit " (report.exit_code) "."
                }
                p.small { "input: " @for (i, file) in report.inputs.iter().enumerate() { @if i > 0 { ", " } code { (file) } } }
                @if let Some(baseline) = &report.baseline {
                    (baseline_section(baseline))
                }
                @if !report.input_errors.is_empty() {
                    h2 { "Input errors" }
                    ul { @for error in &report.input_errors { li { (error.to_string()) } } }
                }
                (layout::toc(&report.traces))
            }
            (overview::section(&overview))
            @for trace in &report.traces {
                (run::section(trace, &report.limits))
            }
            (flame::section(&graph))
        },
    )
}

/// The comparison with `--baseline`: each regression with its size and the rule that found it, then the
/// stages too little sampled to judge.
fn baseline_section(baseline: &BaselineReport) -> Markup {
    html! {
        h2 { "Baseline (" (baseline.regressions.len()) " regression(s))" }
        p.small.muted {
            "Against " @for (i, file) in baseline.files.iter().enumerate() { @if i > 0 { ", " } code { (file) } }
            ": a stage regresses when its median is more than " (format::number(baseline.max_regression_percent))
            " % and " (format::duration(baseline.min_regression_seconds)) " slower, past the noise of the runs ("
            (baseline.stages_compared) " compared)."
        }
        @if !baseline.regressions.is_empty() {
            ul { @for regression in &baseline.regressions { li.critical-text { (regression.message) } } }
        }
        @if !baseline.not_judged.is_empty() {
            details {
                summary { (baseline.not_judged.len()) " not judged" }
                ul { @for stage in &baseline.not_judged { li { (stage.stage) ": " (stage.reason) } } }
            }
        }
    }
}

#[cfg(test)]
mod page_tests;

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::model::TraceId;
    use crate::verdict::{Category, Severity, StageDuration, TraceVerdict, VerdictStatus};
    use ironforge_engine::ContractSet;

    const HOSTILE: &str = "<script>alert(\"x\")</script>";

    fn verdict() -> TraceVerdict {
        TraceVerdict {
            trace_id: TraceId([7; 16]),
            status: VerdictStatus::Fail,
            production_ready: false,
            violations: vec![Violation {
                trace_id: TraceId([7; 16]),
                span_id: None,
                contract_id: "session_duration".to_owned(),
                pipeline: None,
                category: Category::Timing,
                severity: Severity::Critical,
                blocks_production: true,
                observed: 4.0,
                threshold: 3.0,
                unit: "s".to_owned(),
                stage: Some("discovery".to_owned()),
                session_id: Some(HOSTILE.to_owned()),
                message: format!("session {HOSTILE} took 4 s"),
                time_unix_nano: 1,
            }],
            violations_over_limit: 0,
            stage_durations: vec![StageDuration {
                stage: HOSTILE.to_owned(),
                seconds: 4.0,
            }],
            span_count: 3,
            incomplete_reason: None,
            decided_unix_nano: 1,
            service_name: Some(HOSTILE.to_owned()),
            evicted: false,
            attributes_truncated: 0,
        }
    }

    /// A critical timing violation of contract `c`, on no span, decided at `time_unix_nano`, for tests.
    pub(crate) fn violation(time_unix_nano: u64) -> Violation {
        let mut violation = verdict().violations.remove(0);
        violation.trace_id = TraceId([1; 16]);
        violation.contract_id = "c".to_owned();
        (violation.observed, violation.threshold) = (1.0, 0.0);
        violation.unit.clear();
        (violation.stage, violation.session_id) = (None, None);
        violation.message.clear();
        violation.time_unix_nano = time_unix_nano;
        violation
    }

    #[test]
    fn strings_from_traces_are_escaped_on_every_page() {
        let trace = TraceReport::new(verdict(), Vec::new());
        let health = crate::health::Scorer::new(&ContractSet::new(
            ironforge_engine::config::ContractFile::embedded_default().unwrap(),
            None,
        ))
        .report();
        let runs = [trace.clone()];
        let pages = [
            run_page(&trace, &Limits::default()),
            overview_page(&Overview {
                health: &health,
                runs: &runs,
                violations: &trace.verdict.violations,
                violations_left_out: 0,
                active_scope: "",
                compliance_scope: "",
                links: Links::Pages,
            }),
            not_found_page(HOSTILE),
        ];
        for page in pages {
            assert!(!page.contains("<script"), "{page}");
            assert!(
                page.contains("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;"),
                "{page}"
            );
        }
    }
}
