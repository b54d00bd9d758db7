//! JUnit XML: a `<testsuite>` per trace, a `<testcase>` per contract of the set (failed with the observed
//! values, thresholds and places of its violations), one for completeness and one per baseline regression.

use std::fmt::Write as _;

use super::{CheckReport, TraceReport, number, place, quantity};
use crate::verdict::{VerdictStatus, Violation};

/// The testcase that fails when a trace could not be judged whole.
const COMPLETE_CASE: &str = "trace_complete";

/// The prefix of a baseline regression's testcase; the stage follows.
const REGRESSION_CASE: &str = "baseline_regression.";

pub(super) fn render(report: &CheckReport) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let cases_per_trace = report.contracts.len() + 1;
    let tests: usize = report
        .traces
        .iter()
        .map(|trace| cases_per_trace + trace.regressions.len())
        .sum();
    let failures: usize = report.traces.iter().map(|t| failed_cases(report, t)).sum();
    let _ = writeln!(
        out,
        "<testsuites name=\"ironforge check\" tests=\"{tests}\" failures=\"{failures}\" errors=\"{}\">",
        report.input_errors.len()
    );
    for trace in &report.traces {
        suite(&mut out, report, trace);
    }
    if !report.input_errors.is_empty() {
        input_suite(&mut out, report);
    }
    out.push_str("</testsuites>\n");
    out
}

fn failed_cases(report: &CheckReport, trace: &TraceReport) -> usize {
    let contracts = report
        .contracts
        .iter()
        .filter(|c| violations_of(trace, &c.id).next().is_some())
        .count();
    let incomplete = usize::from(trace.verdict.status == VerdictStatus::Incomplete);
    contracts + incomplete + trace.regressions.len()
}

fn violations_of<'a>(trace: &'a TraceReport, id: &'a str) -> impl Iterator<Item = &'a Violation> {
    trace
        .verdict
        .violations
        .iter()
        .filter(move |v| v.contract_id == id)
}

fn suite(out: &mut String, report: &CheckReport, trace: &TraceReport) {
    let verdict = &trace.verdict;
    let service = verdict.service_name.as_deref().unwrap_or("(unknown)");
    let tests = report.contracts.len() + 1 + trace.regressions.len();
    let _ = writeln!(
        out,
        "  <testsuite name=\"{}\" tests=\"{tests}\" failures=\"{}\" errors=\"0\">",
        escape(&format!("trace {} ({service})", verdict.trace_id)),
        failed_cases(report, trace)
    );
    let _ = writeln!(
        out,
        "    <properties><property name=\"trace_id\" value=\"{}\"/><property name=\"service.name\" value=\"{}\"/><property name=\"status\" value=\"{}\"/><property name=\"production_ready\" value=\"{}\"/></properties>",
        verdict.trace_id,
        escape(service),
        verdict.status.as_str(),
        verdict.production_ready
    );
    let classname = escape(service);
    for contract in &report.contracts {
        let open = format!(
            "    <testcase classname=\"{classname}\" name=\"{}\"",
            escape(&contract.id)
        );
        let violations: Vec<&Violation> = violations_of(trace, &contract.id).collect();
        let Some(first) = violations.first() else {
            let _ = writeln!(out, "{open}/>");
            continue;
        };
        let mut text = String::new();
        for violation in &violations {
            let _ = writeln!(
                text,
                "{}: observed {}, threshold {} ({}); {}; trace {}",
                violation.contract_id,
                quantity(violation.observed, &violation.unit),
                contract.requirement,
                violation.severity.as_str(),
                place(violation),
                violation.trace_id
            );
        }
        let _ = writeln!(
            out,
            "{open}>\n      <failure message=\"{}\" type=\"{}\">{}</failure>\n    </testcase>",
            escape(&summary_message(first, violations.len())),
            first.severity.as_str(),
            escape_text(&text)
        );
    }
    let complete_open = format!("    <testcase classname=\"{classname}\" name=\"{COMPLETE_CASE}\"");
    match &verdict.incomplete_reason {
        Some(reason) if verdict.status == VerdictStatus::Incomplete => {
            let _ = writeln!(
                out,
                "{complete_open}>\n      <failure message=\"{}\" type=\"incomplete\"/>\n    </testcase>",
                escape(reason)
            );
        }
        _ => {
            let _ = writeln!(out, "{complete_open}/>");
        }
    }
    for regression in &trace.regressions {
        let _ = writeln!(
            out,
            "    <testcase classname=\"{classname}\" name=\"{}\">\n      <failure message=\"{}\" type=\"regression\">observed {} s, threshold {} s (baseline {} s + {}%)</failure>\n    </testcase>",
            escape(&format!("{REGRESSION_CASE}{}", regression.stage)),
            escape(&regression.message),
            number(regression.observed_seconds),
            number(regression.threshold_seconds),
            number(regression.baseline_seconds),
            number(regression.max_regression_percent)
        );
    }
    out.push_str("  </testsuite>\n");
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
