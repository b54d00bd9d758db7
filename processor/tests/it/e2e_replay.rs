//! End to end: the reference replay of the 57 real sessions, instrumented with `ironforge-instrument`,
//! exported over OTLP/gRPC and OTLP/HTTP to a running processor. The real defects of the data and each
//! injected fault must arrive on every output: the verdict, the `WatchViolations` stream, OTLP logs at a
//! downstream receiver, the Prometheus metrics and the HTTP API.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::e2e_support::{TestProcessor, contract_ids, replay, test_contracts, trace_hex};
use crate::own_process::run_apart;
use ironforge_instrument::Protocol;
use ironforge_processor::otlp::ReceiverLimits;
use ironforge_proto::monitor::v1 as pb;
use ironforge_replay::{Faults, ReplayOptions, SessionSelector};

/// What the real session data breaks, whatever the transport: IRONFORGE's naming collapses NY_AM and NY_PM
/// into `NY` (five colliding ids, so every stage is five distinct sessions short of 57), the data never
/// yields a CONTEXT edge, and most sessions score below 0.87 authenticity.
const REAL_DEFECTS: [&str; 5] = [
    "edge_intents_complete",
    "pattern_authenticity",
    "run_mean_authenticity",
    "sessions_complete",
    "unique_session_ids",
];

const COLLIDING_IDS: [&str; 5] = [
    "NY_2025-07-28",
    "NY_2025-07-29",
    "NY_2025-07-30",
    "NY_2025-08-04",
    "NY_2025-08-05",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_defects_of_the_sessions_arrive_on_every_output_over_grpc() {
    // The memory contracts read this process's peak of resident memory, which other tests raise.
    if !run_apart(
        module_path!(),
        "real_defects_of_the_sessions_arrive_on_every_output_over_grpc",
    ) {
        return;
    }
    let processor = TestProcessor::start().await;
    let summary = replay(
        processor.grpc_endpoint(),
        Protocol::Grpc,
        ReplayOptions::default(),
    )
    .await;
    let trace = trace_hex(&summary);

    // The verdict.
    let verdict = processor.verdict(&trace).await;
    assert_eq!(verdict.status, pb::VerdictStatus::Fail as i32);
    assert!(!verdict.production_ready);
    assert_eq!(verdict.span_count, 2 + 4 + 4 * 57);
    assert_eq!(contract_ids(&verdict.violations), REAL_DEFECTS);
    assert_eq!(verdict.service_name, "ironforge-replay-e2e");
    let stages: Vec<&str> = verdict
        .stage_durations
        .iter()
        .map(|d| d.stage.as_str())
        .collect();
    assert_eq!(
        stages,
        ["discovery", "confluence", "validation", "reporting"]
    );
    let duplicates = verdict
        .violations
        .iter()
        .find(|v| v.contract_id == "unique_session_ids")
        .unwrap();
    assert_eq!(duplicates.observed, 5.0);
    for id in COLLIDING_IDS {
        assert!(duplicates.message.contains(id), "{}", duplicates.message);
    }
    let missing = verdict
        .violations
        .iter()
        .find(|v| v.contract_id == "edge_intents_complete")
        .unwrap();
    assert!(missing.message.contains("[CONTEXT]"), "{}", missing.message);
    let low_scores = verdict
        .violations
        .iter()
        .filter(|v| v.contract_id == "pattern_authenticity");
    for violation in low_scores {
        assert_eq!(violation.stage, "validation");
        assert!(
            violation.observed <= 0.87
                && !violation.session_id.is_empty()
                && violation.span_id.len() == 8
        );
    }

    // The WatchViolations stream: every violation of the verdict, with its trace id.
    let trace_bytes = hex::decode(&trace).unwrap();
    let watched = processor
        .watched_until(|seen| {
            seen.iter().filter(|v| v.trace_id == trace_bytes).count() == verdict.violations.len()
        })
        .await;
    assert_eq!(contract_ids(&watched), REAL_DEFECTS);

    // OTLP logs downstream: one record per violation, linked to the trace and span.
    let records = processor
        .logs_until(|records| {
            records.iter().filter(|r| r.trace_id == trace_bytes).count() == verdict.violations.len()
        })
        .await;
    let slow = records.iter().find(|r| !r.span_id.is_empty()).unwrap();
    assert_eq!(slow.span_id.len(), 8);
    assert!(records.iter().any(|r| r.severity_text == "ERROR"));
    assert!(records.iter().any(|r| r.severity_text == "WARN"));

    // Metrics: counts by contract, with the trace id as exemplar, and the trace counted by status.
    let (status, metrics) = processor.get("/metrics").await;
    assert_eq!(status, 200);
    let line = metrics
        .lines()
        .find(|l| {
            l.starts_with("ironforge_violations_total{")
                && l.contains("contract=\"unique_session_ids\"")
        })
        .unwrap_or_else(|| panic!("no unique_session_ids counter in\n{metrics}"));
    assert!(line.contains(&format!("trace_id=\"{trace}\"")), "{line}");
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("ironforge_traces_total{") && l.contains("status=\"fail\"")),
        "{metrics}"
    );

    // The HTTP API.
    let (status, body) = processor
        .get(&format!("/api/v1/traces/{trace}/verdict"))
        .await;
    assert_eq!(status, 200);
    let api_verdict: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(api_verdict["status"], "fail");
    assert_eq!(
        api_verdict["violations"].as_array().unwrap().len(),
        verdict.violations.len()
    );
    let (_, body) = processor.get("/api/v1/violations?since=0").await;
    let listed: Vec<serde_json::Value> = serde_json::from_str(&body).unwrap();
    assert_eq!(
        listed
            .iter()
            .filter(|v| v["trace_id"] == trace.as_str())
            .count(),
        verdict.violations.len()
    );
    let (_, body) = processor.get("/api/v1/compliance").await;
    let compliance: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(compliance["traces_failed"], 1);
    assert_eq!(compliance["health"], "RED");
    let (_, body) = processor.get("/api/v1/health").await;
    assert!(body.contains("\"health\":\"RED\""), "{body}");

    processor.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_defects_arrive_over_http_too() {
    // The memory contracts read this process's peak of resident memory, which other tests raise.
    if !run_apart(module_path!(), "real_defects_arrive_over_http_too") {
        return;
    }
    let processor = TestProcessor::start().await;
    let summary = replay(
        processor.http_endpoint(),
        Protocol::HttpProtobuf,
        ReplayOptions::default(),
    )
    .await;
    let verdict = processor.verdict(&trace_hex(&summary)).await;
    assert_eq!(contract_ids(&verdict.violations), REAL_DEFECTS);
    assert_eq!(verdict.span_count, 2 + 4 + 4 * 57);
    let (_, metrics) = processor.get("/metrics").await;
    assert!(
        metrics.lines().any(
            |l| l.starts_with("ironforge_processor_spans_received_total{")
                && l.contains("transport=\"http\"")
                && l.contains("outcome=\"accepted\"")
                && !l.ends_with(" 0")
        ),
        "{metrics}"
    );
    processor.stop().await;
}

/// Violations per contract in a verdict.
fn counts(verdict: &pb::TraceVerdict) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for violation in &verdict.violations {
        *counts.entry(violation.contract_id.clone()).or_default() += 1;
    }
    counts
}

/// One run per fault, each on the first sessions only, judged against a clean run of the same sessions: the
/// fault's contract gains violations, and nothing else does but its documented consequences. Memory growth
/// raises the whole process's peak, so it runs in a process of its own (`e2e_memory.rs`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_injected_fault_is_caught_by_its_contract() {
    // The memory contracts read this process's peak of resident memory, which other tests raise.
    if !run_apart(
        module_path!(),
        "each_injected_fault_is_caught_by_its_contract",
    ) {
        return;
    }
    // The full-run contract is 180 s; the slow-run fault adds seconds, so this processor holds runs to 2 s.
    let contracts = test_contracts().replace("    threshold: 180\n", "    threshold: 2\n");
    let processor = TestProcessor::start_with(&contracts, ReceiverLimits::default()).await;
    // (fault, the contract it breaks, what else it may break as a consequence)
    let faults: Vec<(Faults, &str, &[&str])> = vec![
        (
            Faults {
                slow_session: Some(SessionSelector::Index(1)),
                ..Faults::default()
            },
            "session_duration",
            &["run_duration"],
        ),
        (
            Faults {
                slow_run: Some(Duration::from_millis(2_500)),
                ..Faults::default()
            },
            "run_duration",
            &[],
        ),
        // ASIA_2025-08-05, the fourth session, is the one of the four that scores above 0.87 on its own.
        (
            Faults {
                low_authenticity: true,
                target: SessionSelector::Index(3),
                ..Faults::default()
            },
            "pattern_authenticity",
            &[],
        ),
        (
            Faults {
                unknown_event_type: true,
                ..Faults::default()
            },
            "event_types_known",
            &[],
        ),
        (
            Faults {
                wrong_feature_dim: true,
                ..Faults::default()
            },
            "node_feature_dim",
            &[],
        ),
        (
            Faults {
                cross_session_edge: true,
                ..Faults::default()
            },
            "no_cross_session_edges",
            &[],
        ),
        (
            Faults {
                open_candle_read: true,
                ..Faults::default()
            },
            "htf_closed_candles",
            &[],
        ),
    ];
    let limited = |faults: Faults| ReplayOptions {
        sessions_limit: Some(4),
        faults,
        ..ReplayOptions::default()
    };
    let clean = replay(
        processor.grpc_endpoint(),
        Protocol::Grpc,
        limited(Faults::default()),
    )
    .await;
    let baseline = counts(&processor.verdict(&trace_hex(&clean)).await);

    for (fault, contract, consequences) in faults {
        let summary = replay(processor.grpc_endpoint(), Protocol::Grpc, limited(fault)).await;
        let verdict = processor.verdict(&trace_hex(&summary)).await;
        let broken = counts(&verdict);
        let before = |id: &str| baseline.get(id).copied().unwrap_or(0);
        assert!(
            broken.get(contract).copied().unwrap_or(0) > before(contract),
            "{contract}: {broken:?} vs {baseline:?}"
        );
        let gained: Vec<&String> = broken
            .iter()
            .filter(|(id, n)| **n > before(id))
            .map(|(id, _)| id)
            .collect();
        assert!(
            gained
                .iter()
                .all(|id| id.as_str() == contract || consequences.contains(&id.as_str())),
            "{contract} also broke {gained:?}"
        );
        assert!(!verdict.production_ready, "{contract}");
    }
    processor.stop().await;
}
