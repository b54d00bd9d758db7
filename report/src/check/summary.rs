//! The readable summary: each trace with its violations in plain words, then the totals.

use std::fmt::Write as _;

use super::{BaselineReport, CheckReport, Outcome, TraceReport, quantity};
use crate::verdict::Severity;

const RED: &str = "\x1b[31m";
const YELLOW: &str = "\x1b[33m";
const GREEN: &str = "\x1b[32m";
const BOLD: &str = "\x1b[1m";
const RESET: &str = "\x1b[0m";

/// Paints text when colour is on.
struct Paint(bool);

impl Paint {
    fn paint(&self, style: &str, text: &str) -> String {
        if self.0 {
            format!("{style}{text}{RESET}")
        } else {
            text.to_owned()
        }
    }

    fn outcome(&self, outcome: Outcome) -> String {
        let style = match outcome {
            Outcome::Pass => GREEN,
            Outcome::Warn => YELLOW,
            Outcome::Fail => RED,
        };
        self.paint(style, &outcome.as_str().to_uppercase())
    }
}

pub(crate) fn render(report: &CheckReport, colour: bool) -> String {
    let paint = Paint(colour);
    let mut out = String::new();
    for trace in &report.traces {
        trace_lines(&mut out, trace, &paint);
    }
    if let Some(baseline) = &report.baseline {
        baseline_lines(&mut out, baseline, &paint);
    }
    let totals = &report.totals;
    if let Some(unlisted) = totals.unlisted() {
        let _ = writeln!(out, "{unlisted}");
    }
    let _ = writeln!(
        out,
        "{} ({} incomplete); {} production-ready",
        totals.outcomes(),
        totals.incomplete,
        totals.production_ready
    );
    let _ = writeln!(
        out,
        "{} violation(s), {} blocking; {} baseline regression(s); {} input error(s); {} unmonitored trace(s)",
        totals.violations,
        totals.blocking_violations,
        totals.regressions,
        totals.input_errors,
        report.unmonitored_traces
    );
    let _ = writeln!(
        out,
        "contracts: {} ({} profile, {} contracts)",
        report.contracts_source,
        report.profile,
        report.contracts.len()
    );
    let style = match report.exit_code {
        0 => GREEN,
        2 => YELLOW,
        _ => RED,
    };
    let result = paint.paint(&format!("{BOLD}{style}"), report.result());
    let _ = writeln!(out, "result: {result} (exit {})", report.exit_code);
    out
}

fn trace_lines(out: &mut String, trace: &TraceReport, paint: &Paint) {
    let verdict = &trace.verdict;
    let _ = writeln!(
        out,
        "{} trace {} service {}: {}, {}, {} spans",
        paint.outcome(trace.outcome),
        verdict.trace_id,
        verdict.service_name.as_deref().unwrap_or("(unknown)"),
        verdict.status.as_str(),
        if verdict.production_ready {
            "production-ready"
        } else {
            "not production-ready"
        },
        verdict.span_count
    );
    if let Some(file) = &trace.input_file {
        let _ = writeln!(out, "    input {file}, started {}", trace.started());
    }
    if let Some(reason) = &verdict.incomplete_reason {
        let _ = writeln!(out, "    incomplete: {reason}");
    }
    for violation in &verdict.violations {
        let severity = match violation.severity {
            Severity::Critical => paint.paint(RED, "critical"),
            Severity::Warning => paint.paint(YELLOW, "warning"),
        };
        let blocks = if violation.blocks_production {
            ", blocks production"
        } else {
            ""
        };
        let _ = writeln!(
            out,
            "  - {} [{severity}{blocks}] {} (observed {}, threshold {}; {})",
            violation.contract_id,
            violation.message,
            quantity(violation.observed, &violation.unit),
            quantity(violation.threshold, &violation.unit),
            violation
                .span_id
                .map_or_else(|| "whole trace".to_owned(), |span| format!("span {span}")),
        );
    }
    if verdict.violations_over_limit > 0 {
        let _ = writeln!(
            out,
            "  … and {} more violation(s) over the per-trace limit",
            verdict.violations_over_limit
        );
    }
    for regression in &trace.regressions {
        let _ = writeln!(
            out,
            "  - baseline_regression [{}] stage {}: {}",
            paint.paint(RED, "critical"),
            regression.stage,
            regression.message
        );
    }
    if let Some(analysis) = &trace.analysis {
        analysis_lines(out, analysis);
    }
}

/// Each regressed stage, and each stage the baseline could not judge.
fn baseline_lines(out: &mut String, baseline: &BaselineReport, paint: &Paint) {
    let _ = writeln!(
        out,
        "baseline {}: {} stage(s) compared, {} regressed",
        baseline.files.join(", "),
        baseline.stages_compared,
        baseline.regressions.len()
    );
    for regression in &baseline.regressions {
        let _ = writeln!(
            out,
            "  - {} {}",
            paint.paint(RED, "regression:"),
            regression.message
        );
    }
    for stage in &baseline.not_judged {
        let _ = writeln!(out, "  - not judged: {}", stage.reason);
    }
}

/// What dominates the run, and the plan's best steps with their estimated gains.
fn analysis_lines(out: &mut String, analysis: &ironforge_analysis::TraceAnalysis) {
    if let Some(dominant) = &analysis.dominant {
        let _ = writeln!(
            out,
            "    critical path {:.3} s of a {:.3} s run: {dominant}",
            analysis.critical_path_seconds, analysis.run_seconds
        );
    }
    for recommendation in analysis.recommendations.iter().take(3) {
        let _ = writeln!(
            out,
            "    suggest ({} priority): {} — saves about {:.3} s ({:.1} %)",
            recommendation.priority.as_str(),
            recommendation.title,
            recommendation.gain_seconds,
            recommendation.gain_percent
        );
    }
    let plan = &analysis.plan;
    if !plan.phases.is_empty() {
        let _ = writeln!(
            out,
            "    plan: {} phase(s), {:.3} s → {:.3} s ({:.1} % faster, re-timed together), overall risk {}",
            plan.phases.len(),
            plan.run_seconds_before,
            plan.run_seconds_after,
            plan.total_gain_percent,
            plan.overall_risk.as_str()
        );
    }
}
