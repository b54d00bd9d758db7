//! What the API served about a run outlives the engine's memory of it: the run history keeps each run's verdict
//! (violations included) and analysis, so a restart, or a flood that pushes the verdict out of memory, leaves both
//! answered the same, over HTTP and gRPC.

use std::path::{Path, PathBuf};

use crate::crash_safety::{span, trace_id, write_contracts};
use crate::e2e_support::{request, test_contracts};
use crate::process_support::{ProcessorProcess, TempDir};
use crate::wait_support::wait_until_async;
use ironforge_proto::monitor::v1 as pb;
use ironforge_proto::monitor::v1::monitor_service_client::MonitorServiceClient;
use ironforge_proto::otlp::trace::Span;
use ironforge_proto::otlp::trace_service::trace_service_client::TraceServiceClient;
use serde_json::Value;

/// Contracts whose engine keeps one verdict per shard (every trace here falls to the same shard), with memory
/// limited to `max_memory_bytes`.
fn contracts(dir: &Path, max_memory_bytes: Option<u64>) -> PathBuf {
    let yaml = test_contracts();
    let mut small = yaml.replace("decided_traces_kept: 10000", "decided_traces_kept: 1");
    assert_ne!(small, yaml, "the default decided_traces_kept changed");
    if let Some(bytes) = max_memory_bytes {
        let limited = small.replace(
            "max_memory_bytes: 268435456",
            &format!("max_memory_bytes: {bytes}"),
        );
        assert_ne!(limited, small, "the default max_memory_bytes changed");
        small = limited;
    }
    write_contracts(dir, &small)
}

/// Run `n`: its run span, and a session taking 4 s, over the 3 s contract (a violation).
async fn send_run(processor: &ProcessorProcess, n: u64) {
    let mut client = TraceServiceClient::connect(processor.grpc_endpoint())
        .await
        .unwrap();
    let spans = vec![
        span(n, 1, None, "run", 5),
        span(n, 2, Some(1), "session", 4),
    ];
    client.export(request(spans)).await.unwrap();
}

/// The analysis of a trace over HTTP, waiting (up to 60 s) for it.
async fn analysis(processor: &ProcessorProcess, trace: &str) -> Value {
    processor
        .answer(&format!("/api/v1/analysis/traces/{trace}"))
        .await
}

/// The verdict and analysis of `trace` over gRPC `MonitorService`.
async fn grpc_answers(
    processor: &ProcessorProcess,
    trace: u64,
) -> (pb::TraceVerdict, pb::TraceAnalysis) {
    let mut client = MonitorServiceClient::connect(processor.grpc_endpoint())
        .await
        .unwrap();
    let id = trace_id(trace);
    let verdict = client
        .get_verdict(pb::GetVerdictRequest {
            trace_id: id.clone(),
        })
        .await;
    let analysis = client
        .get_trace_analysis(pb::GetTraceAnalysisRequest { trace_id: id })
        .await;
    match (verdict, analysis) {
        (Ok(verdict), Ok(analysis)) => (verdict.into_inner(), analysis.into_inner()),
        (verdict, analysis) => panic!(
            "trace {trace}: GetVerdict {:?}, GetTraceAnalysis {:?}",
            verdict.err(),
            analysis.err()
        ),
    }
}

/// A counter's value in the processor's metrics, 0 when absent.
async fn counter(processor: &ProcessorProcess, name: &str) -> f64 {
    let (_, text) = processor.get("/metrics").await;
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or(0.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_judged_before_a_restart_keeps_its_verdict_and_analysis_after_it() {
    let dir = TempDir::new("served-restart");
    let contracts = contracts(dir.path(), None);
    let data = dir.path().join("data");
    let processor = ProcessorProcess::start(&contracts, &data, &[]).unwrap();
    let first = hex::encode(trace_id(1));
    send_run(&processor, 1).await;
    let verdict = processor.verdict(&first).await;
    assert_eq!(verdict["status"], "fail", "{verdict}");
    assert_eq!(
        verdict["violations"][0]["contract_id"], "session_duration",
        "{verdict}"
    );
    let served = analysis(&processor, &first).await;
    let grpc_before = grpc_answers(&processor, 1).await;
    // A second run takes the one place the engine has for a verdict: the log restores that one alone.
    send_run(&processor, 2).await;
    processor.verdict(&hex::encode(trace_id(2))).await;
    let (status, _) = processor.terminate();
    assert!(status.success(), "{status}");

    let restarted = ProcessorProcess::start(&contracts, &data, &[]).unwrap();
    let (status, body) = restarted
        .get(&format!("/api/v1/traces/{first}/verdict"))
        .await;
    assert_eq!(status, 200, "{body}");
    let after: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(after, verdict, "the verdict as served before the restart");
    let (status, body) = restarted
        .get(&format!("/api/v1/analysis/traces/{first}"))
        .await;
    assert_eq!(status, 200, "{body}");
    let analysed: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        analysed, served,
        "the analysis as served before the restart"
    );
    assert_eq!(grpc_answers(&restarted, 1).await, grpc_before);
    // A trace never seen is still unknown.
    let (status, _) = restarted
        .get(&format!(
            "/api/v1/traces/{}/verdict",
            hex::encode(trace_id(3))
        ))
        .await;
    assert_eq!(status, 404);
    let (status, _) = restarted.terminate();
    assert!(status.success(), "{status}");
}

/// A span of a trace no contract watches (it has no `ironforge.span.kind`), with a value to make it weigh.
fn unmonitored(trace: u64) -> Span {
    let mut span = span(trace, 1, None, "web", 1);
    span.attributes.clear();
    span.name = format!("GET /{trace}/{}", "x".repeat(400));
    span
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_that_pushes_a_verdict_out_of_memory_leaves_it_answered() {
    let dir = TempDir::new("served-flood");
    // 128 KiB of engine state per shard: a flood held in flight soon takes the engine over it.
    let contracts = contracts(dir.path(), Some(256 * 1024));
    let processor = ProcessorProcess::start(&contracts, &dir.path().join("data"), &[]).unwrap();
    let run = hex::encode(trace_id(1));
    send_run(&processor, 1).await;
    let verdict = processor.verdict(&run).await;
    analysis(&processor, &run).await;
    let grpc_before = grpc_answers(&processor, 1).await;
    assert_eq!(
        counter(&processor, "ironforge_processor_verdicts_forgotten_total").await,
        0.0
    );

    // Unmonitored traces, idle for 3 s before they are let go: under memory pressure the engine forgets the
    // verdicts it keeps, the run's among them.
    let mut client = TraceServiceClient::connect(processor.grpc_endpoint())
        .await
        .unwrap();
    let flood: Vec<u64> = (1_000_000..1_005_000).collect();
    // Under its small budget the processor may shed part of the flood (UNAVAILABLE with a retry hint), as it
    // would a real one; what it takes is enough pressure.
    for traces in flood.chunks(50) {
        let spans = traces.iter().map(|trace| unmonitored(*trace)).collect();
        if let Err(status) = client.export(request(spans)).await {
            assert_eq!(status.code(), tonic::Code::Unavailable, "{status}");
        }
    }
    wait_until_async(
        "the flood to push the run's verdict out of memory",
        || async {
            let forgotten =
                counter(&processor, "ironforge_processor_verdicts_forgotten_total").await;
            if forgotten >= 1.0 {
                Ok(())
            } else {
                Err(format!("{forgotten} verdicts forgotten"))
            }
        },
    )
    .await;
    let (status, body) = processor
        .get(&format!("/api/v1/traces/{run}/verdict"))
        .await;
    assert_eq!(status, 200, "{body}");
    let after: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(after, verdict);
    assert_eq!(grpc_answers(&processor, 1).await.0, grpc_before.0);
    // The flood itself has no verdicts: its traces are not monitored.
    let (status, body) = processor
        .get(&format!(
            "/api/v1/traces/{}/verdict",
            hex::encode(trace_id(flood[0]))
        ))
        .await;
    assert_ne!(status, 200, "{body}");
}
