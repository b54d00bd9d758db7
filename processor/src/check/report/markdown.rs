//! Markdown for a pull-request comment: a table of traces, then one of violations and regressions.

use std::fmt::Write as _;

use super::{CheckReport, Outcome, number, place, quantity, short_id};

pub(super) fn render(report: &CheckReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "## IRONFORGE contract check: {}\n",
        cell(report.result())
    );
    out.push_str("| trace | service | verdict | production-ready | violations | regressions |\n");
    out.push_str("|---|---|---|---|---|---|\n");
    for trace in &report.traces {
        let verdict = &trace.verdict;
        let _ = writeln!(
            out,
            "| `{}` | {} | {} {} | {} | {} | {} |",
            short_id(verdict),
            cell(verdict.service_name.as_deref().unwrap_or("(unknown)")),
            mark(trace.outcome),
            verdict.status.as_str(),
            if verdict.production_ready {
                "yes"
            } else {
                "no"
            },
            trace.violation_count(),
            trace.regressions.len()
        );
    }
    let findings: usize = report
        .traces
        .iter()
        .map(|t| t.verdict.violations.len() + t.regressions.len())
        .sum();
    if findings > 0 {
        out.push_str("\n| trace | contract | severity | where | observed | threshold |\n");
        out.push_str("|---|---|---|---|---|---|\n");
        for trace in &report.traces {
            let id = short_id(&trace.verdict);
            for violation in &trace.verdict.violations {
                let _ = writeln!(
                    out,
                    "| `{id}` | `{}` | {}{} | {} | {} | {} |",
                    cell(&violation.contract_id),
                    violation.severity.as_str(),
                    if violation.blocks_production {
                        ", blocking"
                    } else {
                        ""
                    },
                    cell(&place(violation)),
                    cell(&quantity(violation.observed, &violation.unit)),
                    cell(&quantity(violation.threshold, &violation.unit)),
                );
            }
            for regression in &trace.regressions {
                let _ = writeln!(
                    out,
                    "| `{id}` | `baseline_regression` | critical, blocking | stage {} | {} s | {} s (baseline {} s + {}%) |",
                    cell(&regression.stage),
                    number(regression.observed_seconds),
                    number(regression.threshold_seconds),
                    number(regression.baseline_seconds),
                    number(regression.max_regression_percent)
                );
            }
        }
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
