//! End to end with a pipeline written in Python against the stock OpenTelemetry SDK from PyPI: the documented
//! attributes are all a pipeline in another language needs. A clean run passes; each fault is caught.
//!
//! The interpreter comes from `IRONFORGE_TEST_PYTHON` (set by `scripts/test`, which creates `.venv`), or
//! `.venv/bin/python` at the workspace root.

use std::path::PathBuf;
use std::process::Command;

use crate::e2e_support::{TestProcessor, contract_ids};
use ironforge_proto::monitor::v1 as pb;

fn python() -> PathBuf {
    let workspace = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let python = std::env::var_os("IRONFORGE_TEST_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace.join(".venv/bin/python"));
    assert!(
        python.exists(),
        "no Python with the OpenTelemetry SDK at {}: run scripts/test, which creates .venv",
        python.display()
    );
    python
}

/// Runs the Python pipeline against `endpoint` and returns the run's trace id.
async fn run_pipeline(endpoint: String, protocol: &str, fault: &str) -> String {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/python/pipeline.py");
    let protocol = protocol.to_owned();
    let fault = fault.to_owned();
    let output = tokio::task::spawn_blocking(move || {
        Command::new(python())
            .arg(script)
            .args([
                "--endpoint",
                &endpoint,
                "--protocol",
                &protocol,
                "--fault",
                &fault,
            ])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(
        output.status.success(),
        "pipeline failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clean_python_run_passes_with_no_violation_over_grpc_and_http() {
    let processor = TestProcessor::start().await;
    for (endpoint, protocol) in [
        (processor.grpc_endpoint(), "grpc"),
        (processor.http_endpoint(), "http"),
    ] {
        let trace = run_pipeline(endpoint, protocol, "none").await;
        let verdict = processor.verdict(&trace).await;
        assert_eq!(verdict.violations, vec![], "{protocol}");
        assert_eq!(verdict.status, pb::VerdictStatus::Pass as i32, "{protocol}");
        assert!(verdict.production_ready);
        assert_eq!(verdict.span_count, 2 + 4 + 4 * 3);
        assert_eq!(verdict.service_name, "ironforge-python-pipeline");
    }
    let (_, body) = processor.get("/api/v1/health").await;
    assert!(body.contains("\"health\":\"GREEN\""), "{body}");
    processor.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_of_a_python_pipeline_are_caught() {
    let processor = TestProcessor::start().await;
    let cases = [
        ("wrong-dim", "node_feature_dim"),
        ("string-dim", "attribute_types"),
        ("unknown-event", "event_types_known"),
        ("low-authenticity", "pattern_authenticity"),
        ("duplicate-session", "unique_session_ids"),
    ];
    for (fault, contract) in cases {
        let trace = run_pipeline(processor.grpc_endpoint(), "grpc", fault).await;
        let verdict = processor.verdict(&trace).await;
        let broken = contract_ids(&verdict.violations);
        assert!(broken.contains(&contract.to_owned()), "{fault}: {broken:?}");
        assert!(!verdict.production_ready, "{fault}");
        let trace_bytes = hex::decode(&trace).unwrap();
        processor
            .logs_until(|records| records.iter().any(|r| r.trace_id == trace_bytes))
            .await;
    }
    processor.stop().await;
}
