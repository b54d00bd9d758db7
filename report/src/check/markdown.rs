//! Markdown for a pull-request comment: a row per run (input file, pipeline, start, verdict, counts),
//! then only what fails the check, grouped by contract with counts, and the baseline's word.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::{BaselineReport, CheckReport, Outcome, number, place, quantity};
use crate::verdict::Violation;

pub(crate) fn render(report: &CheckReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "## IRONFORGE contract check: {}\n",
        cell(report.result())
    );
    out.push_str("| input | pipeline | start (UTC) | verdict | blocking | warnings |\n");
    out.push_str("|---|---|---|---|---|---|\n");
    for trace in &report.traces {
        let _ = writeln!(
            out,
            "| `{}` | {} | {} | {} {} | {} | {} |",
            cell(trace.input_file.as_deref().unwrap_or("?")).replace('`', "'"),
            cell(trace.pipeline()),
            trace.started(),
            mark(trace.outcome),
            trace.outcome.as_str(),
            trace.blocking_count(),
            trace.warning_count()
        );
    }
    failures(&mut out, report);
    if let Some(baseline) = &report.baseline {
        baseline_section(&mut out, baseline);
    }
    if !report.input_errors.is_empty() {
        out.push_str("\n**Input errors**\n\n");
        for error in &report.input_errors {
            let _ = writeln!(out, "- `{}`", cell(&error.to_string()).replace('`', "'"));
        }
    }
    let totals = &report.totals;
    if let Some(unlisted) = totals.unlisted() {
        let _ = writeln!(out, "\n{}.", cell(&unlisted));
    }
    let _ = writeln!(
        out,
        "\n{}; {} violation(s), {} blocking; contracts: {} ({} profile).",
        totals.outcomes(),
        totals.violations,
        totals.blocking_violations,
        cell(&report.contracts_source),
        report.profile
    );
    out
}

/// One contract's failing violations over the runs listed.
#[derive(Default)]
struct Group<'a> {
    runs: usize,
    violations: usize,
    first: Option<&'a Violation>,
    input: Option<&'a str>,
}

/// The violations that fail the check (blocking ones; warnings too when they fail it), grouped by
/// contract, with one example each.
fn failures(out: &mut String, report: &CheckReport) {
    let warnings_fail = report.warnings_fail();
    let mut groups: BTreeMap<&str, Group<'_>> = BTreeMap::new();
    let mut warnings = 0u64;
    for trace in &report.traces {
        let mut seen: Vec<&str> = Vec::new();
        for violation in &trace.verdict.violations {
            if !violation.blocks_production && !warnings_fail {
                warnings += 1;
                continue;
            }
            let group = groups.entry(violation.contract_id.as_str()).or_default();
            group.violations += 1;
            if !seen.contains(&violation.contract_id.as_str()) {
                seen.push(&violation.contract_id);
                group.runs += 1;
            }
            if group.first.is_none() {
                group.first = Some(violation);
                group.input = trace.input_file.as_deref();
            }
        }
    }
    if !groups.is_empty() {
        out.push_str("\n### Failures by contract\n\n| contract | runs | violations | example |\n|---|---|---|---|\n");
        for (contract, group) in &groups {
            let Some(first) = group.first else { continue };
            let _ = writeln!(
                out,
                "| `{}` | {} | {} | {}: observed {}, threshold {}; {}; in `{}` |",
                cell(contract),
                group.runs,
                group.violations,
                first.severity.as_str(),
                cell(&quantity(first.observed, &first.unit)),
                cell(&quantity(first.threshold, &first.unit)),
                cell(&place(first)),
                cell(group.input.unwrap_or("?")).replace('`', "'")
            );
        }
    }
    if warnings > 0 {
        let _ = writeln!(
            out,
            "\n{warnings} warning(s) not listed: they do not fail the check (the JSON report has them all)."
        );
    }
}

fn baseline_section(out: &mut String, baseline: &BaselineReport) {
    let _ = writeln!(
        out,
        "\n### Baseline\n\n{} stage(s) compared with {}: a regression is over {}% and {} s slower, past noise (p < {}).",
        baseline.stages_compared,
        cell(&baseline.files.join(", ")),
        number(baseline.max_regression_percent),
        number(baseline.min_regression_seconds),
        number(baseline.significance)
    );
    if !baseline.regressions.is_empty() {
        out.push_str("\n| pipeline | stage | baseline median | new median | slower by | rule |\n|---|---|---|---|---|---|\n");
        for regression in &baseline.regressions {
            let _ = writeln!(
                out,
                "| {} | {} | {} s ({} runs) | {} s ({} runs) | {} s ({}%) | {} |",
                cell(regression.service_name.as_deref().unwrap_or("(unknown)")),
                cell(&regression.stage),
                number(regression.baseline_median_seconds),
                regression.baseline_runs,
                number(regression.new_median_seconds),
                regression.new_runs,
                number(regression.difference_seconds),
                number((regression.difference_percent * 10.0).round() / 10.0),
                cell(&regression.rule)
            );
        }
    }
    for stage in &baseline.not_judged {
        let _ = writeln!(out, "\n- not judged: {}", cell(&stage.reason));
    }
}

fn mark(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Pass => "✅",
        Outcome::Warn => "⚠️",
        Outcome::Fail => "❌",
    }
}

/// Text safe inside a table cell: pipes escaped, line breaks flattened, HTML's `<` made inert.
fn cell(text: &str) -> String {
    text.replace('|', "\\|")
        .replace(['\n', '\r'], " ")
        .replace('<', "&lt;")
}

#[cfg(test)]
mod tests {
    use super::cell;

    #[test]
    fn cells_cannot_break_the_table() {
        assert_eq!(cell("a|b\nc<d"), "a\\|b c&lt;d");
    }
}
