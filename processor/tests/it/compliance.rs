//! Compliance and health as the API reports them: the README's health rule at its boundaries, revisions
//! landing on the revised trace, and the per-pipeline view with its bound.

use std::sync::Arc;

use crate::violation_support::slow_session;
use ironforge_engine::ContractSet;
use ironforge_processor::config::ContractFile;
use ironforge_processor::model::{SpanId, TraceId};
use ironforge_processor::monitor::{Compliance, Health};
use ironforge_processor::verdict::{Severity, TraceVerdict, VerdictStatus, Violation};
use ironforge_telemetry::Metrics;

fn contracts() -> ContractSet {
    ContractSet::new(ContractFile::embedded_default().unwrap(), None)
}

fn compliance() -> (Compliance, Arc<Metrics>) {
    let metrics = Arc::new(Metrics::new());
    (Compliance::new(&contracts(), Arc::clone(&metrics)), metrics)
}

fn trace(n: u32) -> TraceId {
    let mut id = [0x11; 16];
    id[12..].copy_from_slice(&n.to_be_bytes());
    TraceId(id)
}

/// A violation of the slow-session contract, blocking production or not.
fn violation(trace_id: TraceId, blocks_production: bool) -> Violation {
    Violation {
        contract_id: "session_duration".to_owned(),
        blocks_production,
        ..slow_session(trace_id, SpanId([7; 8]), 1)
    }
}

/// A verdict as the engine decides it: production-ready unless incomplete or a blocking contract failed.
fn verdict(n: u32, status: VerdictStatus, blocked: bool) -> TraceVerdict {
    let trace_id = trace(n);
    let mut violations = Vec::new();
    match status {
        VerdictStatus::Pass => assert!(!blocked, "a pass has no violation"),
        VerdictStatus::Warn => violations.push(Violation {
            severity: Severity::Warning,
            ..violation(trace_id, blocked)
        }),
        VerdictStatus::Fail => violations.push(violation(trace_id, blocked)),
        VerdictStatus::Incomplete => {
            if blocked {
                violations.push(violation(trace_id, true));
            }
        }
    }
    TraceVerdict {
        trace_id,
        status,
        production_ready: status != VerdictStatus::Incomplete && !blocked,
        violations,
        violations_over_limit: 0,
        stage_durations: Vec::new(),
        span_count: 1,
        incomplete_reason: (status == VerdictStatus::Incomplete).then(|| "no root".to_owned()),
        decided_unix_nano: 1,
        service_name: None,
        evicted: false,
        attributes_truncated: 0,
    }
}

fn pass(n: u32) -> TraceVerdict {
    verdict(n, VerdictStatus::Pass, false)
}

/// A verdict of the pipeline `service`.
fn of(service: &str, verdict: TraceVerdict) -> TraceVerdict {
    TraceVerdict {
        service_name: Some(service.to_owned()),
        ..verdict
    }
}

#[track_caller]
fn assert_line(metrics: &Metrics, line: &str) {
    let text = metrics.encode().unwrap();
    assert!(
        text.lines().any(|candidate| candidate == line),
        "missing line\n  {line}\nin\n{text}"
    );
}

/// Records `before` passes and fails (in that order), then `latest`.
fn health_after(passes: u32, fails: u32, latest: &TraceVerdict) -> (f64, Health) {
    let mut compliance = compliance().0;
    for n in 0..passes {
        compliance.record(&pass(1000 + n));
    }
    for n in 0..fails {
        compliance.record(&verdict(2000 + n, VerdictStatus::Fail, false));
    }
    compliance.record(latest);
    let report = compliance.report();
    (report.health_score, report.health)
}

#[test]
fn health_is_green_only_when_the_latest_run_is_production_ready() {
    use Health::{Green, Red, Yellow};
    use VerdictStatus::{Fail, Incomplete, Pass, Warn};
    // (passes, non-blocking fails before the latest, latest status, latest blocked) → (score, health).
    let cases = [
        // 19 passes and the latest: the score is at least 90 unless the latest fails.
        (19, 0, Pass, false, 100.0, Green),
        (19, 0, Warn, false, 98.75, Green),
        (19, 0, Warn, true, 98.75, Red),
        (19, 0, Incomplete, false, 97.5, Yellow),
        (19, 0, Incomplete, true, 97.5, Red),
        (19, 0, Fail, false, 95.0, Green),
        (19, 0, Fail, true, 95.0, Red),
        // The 90 boundary: 17 passes, 2 fails and a passing latest is exactly 90; one pass fewer is under.
        (17, 2, Pass, false, 90.0, Green),
        (16, 3, Pass, false, 85.0, Yellow),
        (17, 2, Incomplete, false, 87.5, Yellow),
        // The 60 boundary: 11 passes, 8 fails and a passing latest is exactly 60; one pass fewer is under.
        (11, 8, Pass, false, 60.0, Yellow),
        (10, 9, Pass, false, 55.0, Red),
        (11, 8, Warn, false, 58.75, Red),
    ];
    for (passes, fails, status, blocked, score, health) in cases {
        let latest = verdict(1, status, blocked);
        assert_eq!(
            health_after(passes, fails, &latest),
            (score, health),
            "{passes} passes, {fails} fails, then {status:?} (blocked: {blocked})"
        );
    }
}

#[test]
fn before_any_verdict_health_is_green_at_100() {
    let report = compliance().0.report();
    assert_eq!((report.health_score, report.health), (100.0, Health::Green));
}

#[test]
fn a_revision_rescores_the_revised_trace_not_the_newest() {
    let (mut compliance, metrics) = compliance();
    compliance.record(&pass(1));
    for n in 2..=20 {
        compliance.record(&pass(n));
    }
    // Late spans fail trace 1 on a blocking contract; trace 20 is still the latest, and it passed.
    let revised = verdict(1, VerdictStatus::Fail, true);
    compliance.revise(&revised, 1);
    let report = compliance.report();
    assert_eq!(report.health_score, 95.0);
    assert_eq!(report.health, Health::Green);
    // The status counts stay with the first decision.
    assert_eq!(
        (report.counts.traces_total, report.counts.traces_passed),
        (20, 20)
    );
    // The gauge follows the revision, not only new verdicts.
    assert_line(&metrics, "ironforge_pipeline_health_score 95.0");
}

#[test]
fn a_revision_of_a_trace_outside_the_window_leaves_health_alone() {
    let mut compliance = compliance().0;
    for n in 1..=21 {
        compliance.record(&pass(n));
    }
    compliance.revise(&verdict(1, VerdictStatus::Fail, true), 1);
    let report = compliance.report();
    assert_eq!((report.health_score, report.health), (100.0, Health::Green));
    let contract = report
        .contracts
        .iter()
        .find(|c| c.contract_id == "session_duration")
        .unwrap();
    // The late violation still counts, even though the trace has left the window.
    assert_eq!((contract.violations, contract.traces_violating), (1, 1));
}

#[test]
fn verdicts_count_under_their_pipeline_and_unnamed_ones_under_unknown_service() {
    let (mut compliance, metrics) = compliance();
    compliance.record(&of("alpha", pass(1)));
    compliance.record(&of("beta", pass(2)));
    compliance.record(&of("alpha", verdict(3, VerdictStatus::Warn, false)));
    compliance.record(&of("beta", verdict(4, VerdictStatus::Fail, true)));
    compliance.record(&verdict(5, VerdictStatus::Incomplete, false));
    compliance.record(&of("", pass(6)));
    let report = compliance.report();
    assert_eq!(report.counts.traces_total, 6);
    let pipelines: Vec<_> = report
        .pipelines
        .iter()
        .map(|p| {
            (
                p.pipeline.as_str(),
                [
                    p.counts.traces_total,
                    p.counts.traces_passed,
                    p.counts.traces_warned,
                    p.counts.traces_failed,
                    p.counts.traces_incomplete,
                ],
                p.compliance_ratio,
                p.health_score,
                p.health,
            )
        })
        .collect();
    assert_eq!(
        pipelines,
        [
            ("alpha", [2, 1, 1, 0, 0], 1.0, 87.5, Health::Yellow),
            ("beta", [2, 1, 0, 1, 0], 0.5, 50.0, Health::Red),
            (
                "unknown_service",
                [2, 1, 0, 0, 1],
                0.5,
                75.0,
                Health::Yellow
            ),
        ]
    );
    assert_line(
        &metrics,
        "ironforge_pipeline_health_score_by_pipeline{pipeline=\"alpha\"} 87.5",
    );
    assert_line(
        &metrics,
        "ironforge_pipeline_health_score_by_pipeline{pipeline=\"beta\"} 50.0",
    );
    assert_line(
        &metrics,
        "ironforge_pipeline_health_score_by_pipeline{pipeline=\"unknown_service\"} 75.0",
    );
}

#[test]
fn a_revision_rescores_its_own_pipeline_only() {
    let (mut compliance, metrics) = compliance();
    compliance.record(&of("alpha", pass(1)));
    compliance.record(&of("beta", pass(2)));
    compliance.revise(&of("alpha", verdict(1, VerdictStatus::Fail, true)), 1);
    let report = compliance.report();
    let health: Vec<_> = report
        .pipelines
        .iter()
        .map(|p| (p.pipeline.as_str(), p.health_score, p.health))
        .collect();
    assert_eq!(
        health,
        [("alpha", 0.0, Health::Red), ("beta", 100.0, Health::Green)]
    );
    assert_line(
        &metrics,
        "ironforge_pipeline_health_score_by_pipeline{pipeline=\"alpha\"} 0.0",
    );
    assert_line(&metrics, "ironforge_pipeline_health_score 50.0");
}

#[test]
fn past_100_pipelines_the_idlest_is_forgotten_and_counted() {
    let (mut compliance, metrics) = compliance();
    for n in 0..100 {
        compliance.record(&of(&format!("p{n:03}"), pass(n)));
    }
    // p000 reports again, so p001 is now the one idle longest.
    compliance.record(&of("p000", pass(100)));
    compliance.record(&of("p100", pass(101)));
    let report = compliance.report();
    let names: Vec<&str> = report
        .pipelines
        .iter()
        .map(|p| p.pipeline.as_str())
        .collect();
    assert_eq!(names.len(), 100);
    assert!(names.contains(&"p000") && names.contains(&"p100"));
    assert!(!names.contains(&"p001"), "{names:?}");
    assert_eq!(report.counts.traces_total, 102);
    assert_line(&metrics, "ironforge_processor_pipelines_forgotten_total 1");
    let text = metrics.encode().unwrap();
    assert!(!text.contains("pipeline=\"p001\""), "{text}");
    assert!(text.contains("pipeline=\"p100\""), "{text}");
}

#[test]
fn evicted_verdicts_are_counted_but_not_scored() {
    let mut compliance = compliance().0;
    compliance.record(&pass(1));
    for n in 0..100 {
        compliance.record(&TraceVerdict {
            evicted: true,
            incomplete_reason: Some("evicted under memory pressure".to_owned()),
            ..verdict(3000 + n, VerdictStatus::Incomplete, false)
        });
    }
    let report = compliance.report();
    assert_eq!(report.counts.traces_incomplete, 100);
    assert_eq!(report.counts.traces_evicted, 100);
    assert_eq!(report.counts.traces_total, 101);
    assert_eq!((report.health_score, report.health), (100.0, Health::Green));
    // A trace that timed out on its own is the pipeline's: it is scored.
    compliance.record(&verdict(4000, VerdictStatus::Incomplete, false));
    assert_eq!(compliance.report().health, Health::Yellow);
}
