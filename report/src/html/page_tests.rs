//! The pages on made-up verdicts: the counts agree between the overview, its compliance table and the run
//! pages; a run page leads with what blocks; figures carry binary units.

use std::collections::BTreeMap;

use super::*;
use crate::health::Scorer;
use crate::model::TraceId;
use crate::verdict::{Severity, TraceVerdict, VerdictStatus};
use ironforge_analysis::Budgets;
use ironforge_engine::ContractSet;
use ironforge_engine::config::ContractFile;

fn contracts() -> ContractSet {
    ContractSet::new(ContractFile::embedded_default().unwrap(), None)
}

fn violation(trace: u8, contract: &str, blocks: bool, at: u64) -> Violation {
    Violation {
        trace_id: TraceId([trace; 16]),
        contract_id: contract.to_owned(),
        severity: if blocks {
            Severity::Critical
        } else {
            Severity::Warning
        },
        blocks_production: blocks,
        message: format!("{contract} broke"),
        time_unix_nano: at,
        ..tests::violation(at)
    }
}

/// A failed run whose violations arrive warnings first, the blocking one last, as a run's do when its
/// run-scoped contracts are judged at its end.
fn run(trace: u8, warnings: usize) -> TraceVerdict {
    let mut violations: Vec<Violation> = (0..warnings)
        .map(|i| violation(trace, "span_memory_peak", false, i as u64))
        .collect();
    violations.push(Violation {
        observed: 150.0 * 1_048_576.0,
        threshold: 100.0 * 1_048_576.0,
        unit: "By".to_owned(),
        ..violation(trace, MEMORY_CONTRACT, true, warnings as u64)
    });
    TraceVerdict {
        trace_id: TraceId([trace; 16]),
        status: VerdictStatus::Fail,
        production_ready: false,
        violations,
        violations_over_limit: 0,
        stage_durations: Vec::new(),
        span_count: 10,
        incomplete_reason: None,
        decided_unix_nano: u64::from(trace),
        service_name: Some("pipeline".to_owned()),
        evicted: false,
        attributes_truncated: 0,
    }
}

/// `data-violations` per `data-contract` of the rows with `class`.
fn counts(page: &str, class: &str) -> BTreeMap<String, u64> {
    let marker = format!("<tr class=\"{class}\" data-contract=\"");
    page.split(&marker)
        .skip(1)
        .map(|rest| {
            let (contract, rest) = rest.split_once('"').unwrap();
            let count = rest
                .split_once("data-violations=\"")
                .and_then(|(_, rest)| rest.split_once('"'))
                .unwrap()
                .0;
            (contract.to_owned(), count.parse().unwrap())
        })
        .collect()
}

#[test]
fn the_overview_counts_agree_with_its_compliance_table_and_the_run_pages() {
    let contracts = contracts();
    let mut compliance = Scorer::new(&contracts);
    // More violations than any listing bound: 3 runs of 120.
    let verdicts: Vec<TraceVerdict> = (1..=3).map(|trace| run(trace, 119)).collect();
    for verdict in &verdicts {
        compliance.record(verdict);
    }
    let health = compliance.report();
    let runs: Vec<TraceReport> = verdicts
        .iter()
        .map(|v| TraceReport::new(v.clone(), Vec::new()))
        .collect();
    let newest_first: Vec<Violation> = verdicts
        .iter()
        .rev()
        .flat_map(|v| v.violations.iter().rev().cloned())
        .collect();
    let page = overview_page(&Overview {
        health: &health,
        runs: &runs,
        violations: &newest_first,
        violations_left_out: 0,
        active_scope: "decided in the last hour",
        compliance_scope: "since the monitor started",
        links: Links::Pages,
    });
    let active = counts(&page, "active");
    let mut compliant = counts(&page, "compliance");
    compliant.retain(|_, count| *count > 0);
    assert_eq!(active, compliant);
    assert_eq!(active[MEMORY_CONTRACT], 3);
    assert_eq!(active["span_memory_peak"], 357);
    assert!(page.contains("Active violations (360)"), "{page}");
    // Blocking first among the active ones too.
    assert!(
        page.find("data-contract=\"run_memory_peak\"")
            < page.find("data-contract=\"span_memory_peak\"")
    );
    for trace in &runs {
        let run = run_page(trace, &Limits::from_contracts(&contracts));
        assert!(run.contains("Violations (120)"), "{run}");
        assert_eq!(run.matches("<tr class=\"violation\"").count(), 120);
    }
}

#[test]
fn a_run_page_leads_with_its_blocking_violation_and_reads_memory_from_the_contract() {
    let trace = TraceReport::new(run(1, 77), Vec::new());
    let page = run_page(&trace, &Limits::from_contracts(&contracts()));
    let first_row = page.find("<tr class=\"violation\"").unwrap();
    assert!(
        page[first_row..].starts_with("<tr class=\"violation\" data-rank=\"0\""),
        "{}",
        &page[first_row..first_row + 200]
    );
    // The blocking group is open, the warnings collapsed.
    assert!(
        page.contains("<details class=\"violation-group\" open data-contract=\"run_memory_peak\"")
    );
    assert!(page.contains("<details class=\"violation-group\" data-contract=\"span_memory_peak\""));
    // The reason names what blocks; the memory figure is the contract's, in MiB.
    assert!(
        page.contains(
            "1 blocking violation(s) of run_memory_peak; 77 other(s) of span_memory_peak ×77"
        ),
        "{page}"
    );
    assert!(page.contains("150 MiB"), "{page}");
    assert!(page.contains("ironforge.memory.peak"));
    assert!(!page.contains(" MB"), "decimal units on the page");
    // The verdict comes before the violations.
    assert!(page.find("not production-ready").unwrap() < first_row);
}

#[test]
fn a_run_without_a_broken_memory_contract_labels_its_fallback() {
    let mut verdict = run(1, 0);
    verdict.violations.clear();
    verdict.status = VerdictStatus::Pass;
    verdict.production_ready = true;
    let page = run_page(
        &TraceReport::new(verdict, Vec::new()),
        &Limits::from_contracts(&contracts()),
    );
    assert!(page.contains("every contract held"), "{page}");
    assert!(page.contains("memory peak (fallback)"), "{page}");
    assert!(page.contains("No violations") || page.contains("No contract was broken"));
}

#[test]
fn a_run_whose_memory_contract_held_shows_the_contract_reading_not_a_fallback() {
    use ironforge_engine::{DecidedSpan, DecidedTrace, Observation};

    let mut verdict = run(2, 0);
    verdict.violations.clear();
    verdict.status = VerdictStatus::Pass;
    verdict.production_ready = true;
    let root = DecidedSpan {
        span_id: crate::model::SpanId([1; 8]),
        parent_span_id: None,
        start_unix_nano: 0,
        end_unix_nano: 1_000_000_000,
        name: "run".into(),
        session_id: None,
        kind: Some(ironforge_proto::semconv::SpanKind::Run),
        stage: None,
        // The resident reading is lower than the contract's: the page must not show it.
        memory_bytes: Some(10 * 1024 * 1024),
    };
    let decided = DecidedTrace {
        verdict: verdict.clone(),
        spans: vec![root],
        observations: vec![Observation {
            contract_id: MEMORY_CONTRACT.into(),
            value: 50.0 * 1024.0 * 1024.0,
        }],
    };
    let analysis = ironforge_analysis::analyse(
        &decided,
        &Budgets::default(),
        &ironforge_analysis::AnalysisOptions::default(),
    );
    let mut trace = TraceReport::new(verdict, Vec::new());
    trace.analysis = analysis;
    let page = run_page(&trace, &Limits::from_contracts(&contracts()));
    assert!(!page.contains("memory peak (fallback)"), "{page}");
    assert!(page.contains("50 MiB"), "{page}");
    assert!(
        !page.contains("critical-text\">50 MiB"),
        "a held limit is not drawn as broken"
    );
}
