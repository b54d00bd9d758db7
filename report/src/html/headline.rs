//! The top of a run's page: the verdict, the one-line reason for it, and the key figures against their
//! limits (run time, memory, authenticity, violations), so two runs that fail differently look different
//! before anything is scrolled.

use ironforge_analysis::TraceAnalysis;
use maud::{Markup, html};

use super::readings::{Authenticity, MemoryPeak};
use super::violations::{self, Group};
use super::{Limits, format, layout};
use crate::check::TraceReport;
use crate::verdict::VerdictStatus;

/// Contracts a reason names before it counts the rest.
const REASON_CONTRACTS: usize = 3;

pub(super) fn card(trace: &TraceReport, limits: &Limits) -> Markup {
    let verdict = &trace.verdict;
    let analysis = trace.analysis.as_ref();
    html! {
        div.card.headline {
            h1 { "Run " code { (verdict.trace_id.to_string()) } }
            p.verdict-line {
                (layout::outcome(trace.outcome)) " "
                @if verdict.production_ready { strong { "production-ready" } } @else { strong.critical-text { "not production-ready" } }
                " — " span.reason { (reason(trace)) }
            }
            div.figures {
                (run_time(analysis, limits))
                (memory(trace, limits))
                (authenticity(trace, limits))
            }
            p.small.muted {
                "verdict " (verdict.status.as_str()) " · service " (verdict.service_name.as_deref().unwrap_or("(unknown)"))
                " · " (verdict.span_count) " spans"
                @if let Some(file) = &trace.input_file { " · from " code { (file) } }
                @if let Some(analysis) = analysis { " · critical path " (format::duration(analysis.critical_path_seconds)) }
            }
            @if let Some(dominant) = analysis.and_then(|a| a.dominant.as_ref()) {
                p.small { strong { "What dominates: " } (dominant) }
            }
        }
    }
}

/// The verdict in one line: what stops production, else what warns, else that all held.
pub(super) fn reason(trace: &TraceReport) -> String {
    let verdict = &trace.verdict;
    let groups = violations::groups(&verdict.violations);
    let blocking: Vec<&Group<'_>> = groups.iter().filter(|g| g.rank == 0).collect();
    let others: Vec<&Group<'_>> = groups.iter().filter(|g| g.rank > 0).collect();
    let count = |groups: &[&Group<'_>]| groups.iter().map(|g| g.violations.len()).sum::<usize>();
    let mut parts = Vec::new();
    if let Some(reason) = &verdict.incomplete_reason {
        parts.push(format!("incomplete: {reason}"));
    }
    if !blocking.is_empty() {
        parts.push(format!(
            "{} blocking violation(s) of {}",
            count(&blocking),
            named(&blocking)
        ));
    }
    if !trace.regressions.is_empty() {
        parts.push(format!(
            "{} stage(s) slower than the baseline",
            trace.regressions.len()
        ));
    }
    if !others.is_empty() {
        parts.push(format!("{} other(s) of {}", count(&others), named(&others)));
    }
    if verdict.violations_over_limit > 0 {
        parts.push(format!(
            "{} more past the per-trace limit",
            verdict.violations_over_limit
        ));
    }
    match (parts.is_empty(), verdict.status) {
        (true, VerdictStatus::Incomplete) => "incomplete".to_owned(),
        (true, _) => "every contract held".to_owned(),
        (false, _) => parts.join("; "),
    }
}

/// Contracts with their counts: `pattern_authenticity ×35, run_mean_authenticity and 1 more contract`.
fn named(groups: &[&Group<'_>]) -> String {
    let mut names: Vec<String> = groups
        .iter()
        .take(REASON_CONTRACTS)
        .map(|g| match g.violations.len() {
            1 => g.contract_id.to_owned(),
            n => format!("{} ×{n}", g.contract_id),
        })
        .collect();
    if groups.len() > REASON_CONTRACTS {
        names.push(format!(
            "{} more contract(s)",
            groups.len() - REASON_CONTRACTS
        ));
    }
    match names.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
        _ => names.concat(),
    }
}

/// One key figure: a title, the value (red when it breaks its limit) and what it is set against.
fn figure(title: &str, value: &str, bad: bool, against: Markup) -> Markup {
    let name = title.split(" (").next().unwrap_or(title).replace(' ', "-");
    html! {
        div class=(if bad { "figure over" } else { "figure" }) data-figure=(name) {
            div.small.muted { (title) }
            div.value { (value) }
            div.small { (against) }
        }
    }
}

fn run_time(analysis: Option<&TraceAnalysis>, limits: &Limits) -> Markup {
    let Some(analysis) = analysis else {
        return figure("run time", "—", false, html! { "no analysis of this run" });
    };
    let budget = limits.budgets.run_seconds;
    let run = analysis.run_seconds;
    let against = html! {
        @match budget {
            Some(budget) => { "of a " (format::duration(budget)) " budget (" (format::share(run / budget)) ")" }
            None => "no run budget",
        }
        br;
        // Most of the critical path in no span is time the trace cannot explain: worth the eye.
        span class=(if analysis.untraced_share > 0.5 { "warning-text" } else { "" }) {
            (format::duration(analysis.untraced_seconds)) " (" (format::share(analysis.untraced_share))
            ") of the critical path untraced: no child span covers it"
        }
    };
    figure(
        "run time",
        &format::duration(run),
        budget.is_some_and(|b| run > b),
        against,
    )
}

fn memory(trace: &TraceReport, limits: &Limits) -> Markup {
    let peak = MemoryPeak::of(&trace.verdict, trace.analysis.as_ref());
    let limit = limits.memory_bytes;
    let title = match peak {
        MemoryPeak::Contract(_) => "memory peak",
        MemoryPeak::ProcessUsage(_) | MemoryPeak::Unknown => "memory peak (fallback)",
    };
    let value = peak.bytes().map_or_else(|| "—".to_owned(), format::bytes);
    let bad = matches!((peak, limit), (MemoryPeak::Contract(bytes), Some(limit)) if bytes >= limit);
    let against = html! {
        @if let (Some(bytes), Some(limit)) = (peak.bytes(), limit) {
            "of a " (format::bytes(limit)) " limit (" (format::share(bytes / limit)) ")" br;
        }
        "from " code { (peak.source()) }
    };
    figure(title, &value, bad, against)
}

fn authenticity(trace: &TraceReport, limits: &Limits) -> Markup {
    let readings = Authenticity::of(&trace.verdict);
    let floor = limits.authenticity;
    let floor_text = floor.map_or_else(
        || "its floor".to_owned(),
        |f| format!("> {}", format::number(f)),
    );
    let lowest = readings.lowest();
    let (value, bad) = match (readings.mean, lowest) {
        (Some(mean), Some(lowest)) => (
            format!(
                "mean {} · lowest {}",
                format::number(mean.observed),
                format::number(lowest.observed)
            ),
            true,
        ),
        (Some(mean), None) => (format!("mean {}", format::number(mean.observed)), true),
        (None, Some(lowest)) => (format!("lowest {}", format::number(lowest.observed)), true),
        (None, None) => ("held".to_owned(), false),
    };
    let against = html! {
        "needs " (floor_text)
        @if let Some(session) = lowest.and_then(|l| l.session_id.as_ref()) { "; lowest in " (session) }
        @if !readings.below.is_empty() { br; (readings.below.len()) " scored at or below the floor" }
    };
    figure("authenticity", &value, bad, against)
}
