//! JUnit XML for CI servers: a `<testsuite>` per input file (named after it), a `<testcase>` per run and
//! contract named `pipeline / run start (UTC) / contract`, so a server groups the same check of the same
//! pipeline across builds. Blocking violations fail their case; warnings are the case's `<system-out>`
//! unless warnings fail the check. Baseline regressions fail cases of a `baseline` suite.

use std::fmt::Write as _;

use super::{BaselineReport, CheckReport, ContractInfo, TraceReport, number, place, quantity};
use crate::verdict::{VerdictStatus, Violation};

/// The testcase that fails when a trace could not be judged whole.
const COMPLETE_CASE: &str = "trace_complete";

/// The suite of the baseline comparison.
const BASELINE_SUITE: &str = "baseline";

/// The suite of traces no input file is known for.
const UNKNOWN_INPUT: &str = "(unknown input)";

/// One testcase as written: its name, and what failed or was noted.
struct Case {
    classname: String,
    name: String,
    failure: Option<(String, &'static str, String)>,
    output: Option<String>,
    skipped: Option<String>,
}

pub(crate) fn render(report: &CheckReport) -> String {
    let mut suites: Vec<(String, Vec<Case>)> = Vec::new();
    let mut names: Vec<&str> = report.inputs.iter().map(String::as_str).collect();
    for trace in &report.traces {
        let file = trace.input_file.as_deref().unwrap_or(UNKNOWN_INPUT);
        if !names.contains(&file) {
            names.push(file);
        }
    }
    for name in names {
        let cases: Vec<Case> = report
            .traces
            .iter()
            .filter(|t| t.input_file.as_deref().unwrap_or(UNKNOWN_INPUT) == name)
            .flat_map(|trace| trace_cases(report, trace))
            .collect();
        suites.push((name.to_owned(), cases));
    }
    if let Some(baseline) = &report.baseline {
        suites.push((BASELINE_SUITE.to_owned(), baseline_cases(baseline)));
    }
    let count = |test: fn(&Case) -> bool| -> usize {
        suites
            .iter()
            .map(|(_, cases)| cases.iter().filter(|c| test(c)).count())
            .sum()
    };
    let tests: usize = suites.iter().map(|(_, cases)| cases.len()).sum();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"ironforge check\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\">",
        tests + report.input_errors.len(),
        count(|c| c.failure.is_some()),
        report.input_errors.len(),
        count(|c| c.skipped.is_some())
    );
    for (name, cases) in &suites {
        suite(&mut out, name, cases);
    }
    if !report.input_errors.is_empty() {
        input_suite(&mut out, report);
    }
    out.push_str("</testsuites>\n");
    out
}

fn suite(out: &mut String, name: &str, cases: &[Case]) {
    let _ = writeln!(
        out,
        "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"0\" skipped=\"{}\">",
        escape(name),
        cases.len(),
        cases.iter().filter(|c| c.failure.is_some()).count(),
        cases.iter().filter(|c| c.skipped.is_some()).count()
    );
    for case in cases {
        let _ = write!(
            out,
            "    <testcase classname=\"{}\" name=\"{}\"",
            escape(&case.classname),
            escape(&case.name)
        );
        if case.failure.is_none() && case.output.is_none() && case.skipped.is_none() {
            out.push_str("/>\n");
            continue;
        }
        out.push_str(">\n");
        if let Some((message, kind, text)) = &case.failure {
            let _ = writeln!(
                out,
                "      <failure message=\"{}\" type=\"{kind}\">{}</failure>",
                escape(message),
                escape_text(text)
            );
        }
        if let Some(reason) = &case.skipped {
            let _ = writeln!(out, "      <skipped message=\"{}\"/>", escape(reason));
        }
        if let Some(text) = &case.output {
            let _ = writeln!(out, "      <system-out>{}</system-out>", escape_text(text));
        }
        out.push_str("    </testcase>\n");
    }
    out.push_str("  </testsuite>\n");
}

/// A run's cases: one per contract, and whether it was judged whole.
fn trace_cases(report: &CheckReport, trace: &TraceReport) -> Vec<Case> {
    let pipeline = trace.pipeline();
    let prefix = format!("{pipeline} / {}", trace.started());
    let case = |name: &str| Case {
        classname: pipeline.to_owned(),
        name: format!("{prefix} / {name}"),
        failure: None,
        output: None,
        skipped: None,
    };
    let mut cases: Vec<Case> = report
        .contracts
        .iter()
        .map(|contract| {
            let mut case = case(&contract.id);
            contract_outcome(&mut case, report, trace, contract);
            case
        })
        .collect();
    let mut complete = case(COMPLETE_CASE);
    if let (VerdictStatus::Incomplete, Some(reason)) =
        (trace.verdict.status, &trace.verdict.incomplete_reason)
    {
        complete.failure = Some((reason.clone(), "incomplete", String::new()));
    }
    cases.push(complete);
    cases
}

/// Fails the case on a blocking violation of the contract (or any, when warnings fail); otherwise lists
/// its warnings as output.
fn contract_outcome(
    case: &mut Case,
    report: &CheckReport,
    trace: &TraceReport,
    contract: &ContractInfo,
) {
    let violations: Vec<&Violation> = trace
        .verdict
        .violations
        .iter()
        .filter(|v| v.contract_id == contract.id)
        .collect();
    let Some(first) = violations.first() else {
        return;
    };
    let mut text = String::new();
    for violation in &violations {
        let _ = writeln!(
            text,
            "{}: observed {}, threshold {} ({}{}); {}; trace {}; input {}",
            violation.contract_id,
            quantity(violation.observed, &violation.unit),
            contract.requirement,
            violation.severity.as_str(),
            if violation.blocks_production {
                ", blocking"
            } else {
                ""
            },
            place(violation),
            violation.trace_id,
            trace.input_file.as_deref().unwrap_or(UNKNOWN_INPUT)
        );
    }
    let blocking = violations.iter().find(|v| v.blocks_production);
    match blocking {
        Some(worst) => {
            let message = summary_message(worst, violations.len());
            case.failure = Some((message, worst.severity.as_str(), text));
        }
        None if report.warnings_fail() => {
            let message = summary_message(first, violations.len());
            case.failure = Some((message, "warning", text));
        }
        None => case.output = Some(format!("warning: {text}")),
    }
}

/// A failed case per regressed stage, a skipped one per stage too small to judge.
fn baseline_cases(baseline: &BaselineReport) -> Vec<Case> {
    let case = |service: Option<&str>, stage: &str| Case {
        classname: BASELINE_SUITE.to_owned(),
        name: format!("{} / baseline / {stage}", service.unwrap_or("(unknown)")),
        failure: None,
        output: None,
        skipped: None,
    };
    let regressions = baseline.regressions.iter().map(|regression| Case {
        failure: Some((
            regression.message.clone(),
            "regression",
            format!(
                "baseline median {} s ({} runs), new median {} s ({} runs): {} s, {}% slower; {}",
                number(regression.baseline_median_seconds),
                regression.baseline_runs,
                number(regression.new_median_seconds),
                regression.new_runs,
                number(regression.difference_seconds),
                number(regression.difference_percent),
                regression.rule
            ),
        )),
        ..case(regression.service_name.as_deref(), &regression.stage)
    });
    let not_judged = baseline.not_judged.iter().map(|stage| Case {
        skipped: Some(stage.reason.clone()),
        ..case(stage.service_name.as_deref(), &stage.stage)
    });
    regressions.chain(not_judged).collect()
}

fn summary_message(first: &Violation, count: usize) -> String {
    if count == 1 {
        first.message.clone()
    } else {
        format!("{} (and {} more)", first.message, count - 1)
    }
}

/// Bad input as errored testcases, so a CI view shows it beside the verdicts.
fn input_suite(out: &mut String, report: &CheckReport) {
    let _ = writeln!(
        out,
        "  <testsuite name=\"input\" tests=\"{0}\" failures=\"0\" errors=\"{0}\">",
        report.input_errors.len()
    );
    for error in &report.input_errors {
        let name = match error.line {
            Some(line) => format!("{}:{line}", error.file),
            None => error.file.clone(),
        };
        let _ = writeln!(
            out,
            "    <testcase classname=\"input\" name=\"{}\">\n      <error message=\"{}\" type=\"bad_input\"/>\n    </testcase>",
            escape(&name),
            escape(&error.message)
        );
    }
    out.push_str("  </testsuite>\n");
}

/// Escapes text for an XML attribute, where line breaks must be character references to survive.
fn escape(text: &str) -> String {
    escape_with(text, true)
}

/// Escapes text for element content, where line breaks stay readable.
fn escape_text(text: &str) -> String {
    escape_with(text, false)
}

/// Escapes markup and replaces the characters XML 1.0 cannot hold at all.
fn escape_with(text: &str, attribute: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' if !attribute => out.push('\n'),
            '\n' | '\t' | '\r' => {
                let _ = write!(out, "&#{};", u32::from(c));
            }
            c if u32::from(c) < 0x20 || matches!(c, '\u{fffe}' | '\u{ffff}') => {
                out.push('\u{fffd}')
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{escape, escape_text};

    #[test]
    fn markup_and_control_characters_are_escaped() {
        assert_eq!(
            escape("a<b & \"c\" 'd'>\u{1}"),
            "a&lt;b &amp; &quot;c&quot; &apos;d&apos;&gt;\u{fffd}"
        );
        assert_eq!(escape("x\ny"), "x&#10;y");
        assert_eq!(escape_text("x\ny"), "x\ny");
    }
}
