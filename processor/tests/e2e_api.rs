//! The processor's own APIs against a running processor: `Evaluate`, `GetVerdict` errors, `WatchViolations`
//! filters, and the HTTP API's answers to bad requests.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod e2e_support;

use e2e_support::{TestProcessor, run_with_session};
use ironforge_proto::monitor::v1 as pb;
use ironforge_proto::otlp::trace_service::trace_service_client::TraceServiceClient;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn evaluate_decides_at_once_and_keeps_the_spans_out_of_the_live_state() {
    let processor = TestProcessor::start().await;
    let mut client = processor.client().await;
    let response = client
        .evaluate(run_with_session(21, 4))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(response.rejected_spans, 0);
    let [verdict] = &response.verdicts[..] else {
        panic!("{:?}", response.verdicts)
    };
    assert_eq!(verdict.trace_id, vec![21; 16]);
    assert_eq!(verdict.status, pb::VerdictStatus::Fail as i32);
    assert_eq!(verdict.violations[0].contract_id, "session_duration");
    // Not in the live state: no verdict to fetch, nothing counted.
    let fetched = client
        .get_verdict(pb::GetVerdictRequest {
            trace_id: vec![21; 16],
        })
        .await;
    assert_eq!(fetched.unwrap_err().code(), tonic::Code::NotFound);
    let compliance = client
        .get_compliance(pb::GetComplianceRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(compliance.traces_total, 0);
    assert_eq!(compliance.health, pb::HealthStatus::Green as i32);
    assert_eq!(compliance.health_score, 100.0);
    processor.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_verdict_refuses_malformed_ids() {
    let processor = TestProcessor::start().await;
    let mut client = processor.client().await;
    for bad in [vec![], vec![1; 8], vec![0; 16]] {
        let status = client
            .get_verdict(pb::GetVerdictRequest { trace_id: bad })
            .await
            .unwrap_err();
        assert_eq!(status.code(), tonic::Code::InvalidArgument);
    }
    processor.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_filters_select_what_a_subscriber_asked_for() {
    let processor = TestProcessor::start().await;
    let mut client = processor.client().await;
    let critical_timing = pb::WatchViolationsRequest {
        min_severity: pb::Severity::Critical as i32,
        categories: vec![pb::Category::Timing as i32],
        ..pb::WatchViolationsRequest::default()
    };
    let mut timing = client
        .watch_violations(critical_timing)
        .await
        .unwrap()
        .into_inner();
    let invariant_only = pb::WatchViolationsRequest {
        categories: vec![pb::Category::Invariant as i32],
        ..pb::WatchViolationsRequest::default()
    };
    let mut invariants = client
        .watch_violations(invariant_only)
        .await
        .unwrap()
        .into_inner();
    let bad_filter = pb::WatchViolationsRequest {
        min_severity: 9,
        ..pb::WatchViolationsRequest::default()
    };
    let refused = client.watch_violations(bad_filter).await.unwrap_err();
    assert_eq!(refused.code(), tonic::Code::InvalidArgument);

    // A 4 s session breaks the timing contract; the run declares no session count, so no invariant breaks.
    let mut otlp = TraceServiceClient::connect(processor.grpc_endpoint())
        .await
        .unwrap();
    otlp.export(run_with_session(22, 4)).await.unwrap();
    let first = tokio::time::timeout(std::time::Duration::from_secs(30), timing.message())
        .await
        .unwrap();
    assert_eq!(first.unwrap().unwrap().contract_id, "session_duration");
    processor.verdict(&hex::encode([22u8; 16])).await;
    let none =
        tokio::time::timeout(std::time::Duration::from_millis(500), invariants.message()).await;
    assert!(none.is_err(), "the invariant subscriber got {none:?}");
    processor.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_api_answers_bad_requests_with_a_reason() {
    let processor = TestProcessor::start().await;
    assert_eq!(processor.get("/readyz").await, (200, "ready".to_owned()));
    assert_eq!(processor.get("/healthz").await, (200, "ok".to_owned()));
    let (status, body) = processor.get("/api/v1/traces/not-hex/verdict").await;
    assert_eq!(status, 400);
    assert!(body.contains("32 hex digits"), "{body}");
    let (status, body) = processor
        .get(&format!("/api/v1/traces/{}/verdict", "ab".repeat(16)))
        .await;
    assert_eq!(status, 404);
    assert!(body.contains("no verdict for trace"), "{body}");
    let (status, _) = processor.get("/api/v1/violations?since=-1").await;
    assert_eq!(status, 400);
    let (status, _) = processor.get("/api/v1/violations?since=yesterday").await;
    assert_eq!(status, 400);
    let (status, body) = processor.get("/api/v1/violations?since=0&limit=5").await;
    assert_eq!((status, body.as_str()), (200, "[]"));
    processor.stop().await;
}
