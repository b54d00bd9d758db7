//! The processor's own APIs against a running processor: `Evaluate`, `GetVerdict` errors, `WatchViolations`
//! filters, health and compliance per pipeline, and the HTTP API's answers to bad requests.

use crate::e2e_support::{TestProcessor, run_with_session};
use crate::wait_support::wait_until_async;
use ironforge_proto::monitor::v1 as pb;
use ironforge_proto::otlp::common::{AnyValue, KeyValue, any_value};
use ironforge_proto::otlp::resource::Resource;
use ironforge_proto::otlp::trace_service::ExportTraceServiceRequest;
use ironforge_proto::otlp::trace_service::trace_service_client::TraceServiceClient;
use ironforge_proto::semconv::attr;
use serde_json::Value;

fn string_attr(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.to_owned())),
        }),
        ..KeyValue::default()
    }
}

/// [`run_with_session`] with its session in `stage`, from the pipeline `service` (none when `None`).
fn staged_run(
    trace: u8,
    service: Option<&str>,
    stage: &str,
    session_seconds: u64,
) -> ExportTraceServiceRequest {
    let mut request = run_with_session(trace, session_seconds);
    let resource_spans = &mut request.resource_spans[0];
    resource_spans.resource = service.map(|name| Resource {
        attributes: vec![string_attr(attr::SERVICE_NAME, name)],
        ..Resource::default()
    });
    for span in &mut resource_spans.scope_spans[0].spans {
        if span.parent_span_id.is_empty() {
            continue;
        }
        span.attributes.push(string_attr(attr::STAGE, stage));
    }
    request
}

/// Exports `requests` and waits for each trace's verdict.
async fn decided(processor: &TestProcessor, requests: Vec<ExportTraceServiceRequest>) {
    let mut otlp = TraceServiceClient::connect(processor.grpc_endpoint())
        .await
        .unwrap();
    for request in requests {
        let trace_id = request.resource_spans[0].scope_spans[0].spans[0]
            .trace_id
            .clone();
        otlp.export(request).await.unwrap();
        processor.verdict(&hex::encode(trace_id)).await;
    }
}

async fn get_json(processor: &TestProcessor, path: &str) -> (u16, Value) {
    let (status, body) = processor.get(path).await;
    let json = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{path}: {e}: {body}"));
    (status, json)
}

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
        .get_compliance(pb::GetComplianceRequest::default())
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trace_without_ironforge_spans_answers_not_monitored() {
    let processor = TestProcessor::start().await;
    // A web service's request, sent to the processor by mistake: no span carries an IRONFORGE span kind.
    let mut web = run_with_session(31, 1);
    for span in &mut web.resource_spans[0].scope_spans[0].spans {
        span.attributes = vec![string_attr("http.request.method", "GET")];
    }
    let mut otlp = TraceServiceClient::connect(processor.grpc_endpoint())
        .await
        .unwrap();
    otlp.export(web).await.unwrap();
    let path = format!("/api/v1/traces/{}/verdict", "1f".repeat(16));
    let body = wait_until_async("the answer that the trace is not monitored", || async {
        let (status, body) = processor.get(&path).await;
        (status == 404 && body.contains("not monitored"))
            .then_some(body.clone())
            .ok_or(format!("{status} {body}"))
    })
    .await;
    assert!(
        body.contains("none of its 2 spans carries `ironforge.span.kind`"),
        "{body}"
    );
    let status = processor
        .client()
        .await
        .get_verdict(pb::GetVerdictRequest {
            trace_id: vec![31; 16],
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::NotFound);
    assert!(status.message().contains("is not monitored"), "{status:?}");
    processor.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_stage_filter_delivers_only_that_stages_violations() {
    let processor = TestProcessor::start().await;
    let mut client = processor.client().await;
    let validation_only = pb::WatchViolationsRequest {
        stage: "validation".to_owned(),
        ..pb::WatchViolationsRequest::default()
    };
    let mut validation = client
        .watch_violations(validation_only)
        .await
        .unwrap()
        .into_inner();
    // Two runs whose only session is slow: one in discovery, then one in validation.
    decided(
        &processor,
        vec![
            staged_run(41, None, "discovery", 4),
            staged_run(42, None, "validation", 4),
        ],
    )
    .await;
    // The unfiltered subscriber saw both stages, so both were broadcast.
    processor
        .watched_until(|watched| {
            ["discovery", "validation"]
                .iter()
                .all(|stage| watched.iter().any(|v| v.stage == *stage))
        })
        .await;
    let mut delivered = Vec::new();
    while let Ok(message) =
        tokio::time::timeout(std::time::Duration::from_millis(500), validation.message()).await
    {
        delivered.push(message.unwrap().unwrap());
    }
    assert!(!delivered.is_empty(), "nothing delivered");
    for violation in &delivered {
        assert_eq!(violation.stage, "validation", "{violation:?}");
        assert_eq!(violation.trace_id, vec![42; 16]);
    }
    processor.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_and_compliance_answer_per_pipeline_over_http_and_grpc() {
    let processor = TestProcessor::start().await;
    decided(
        &processor,
        vec![
            staged_run(51, Some("alpha"), "discovery", 1),
            staged_run(52, Some("beta"), "discovery", 4),
            staged_run(53, None, "discovery", 1),
        ],
    )
    .await;

    let (status, health) = get_json(&processor, "/api/v1/health").await;
    assert_eq!(status, 200);
    assert_eq!(health["traces_total"], 3);
    assert!(
        health["rule"]
            .as_str()
            .unwrap()
            .contains("production-ready")
    );
    let pipelines: Vec<(&str, &str, u64)> = health["pipelines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["pipeline"].as_str().unwrap(),
                p["health"].as_str().unwrap(),
                p["traces_total"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        pipelines,
        [
            ("alpha", "GREEN", 1),
            ("beta", "RED", 1),
            ("unknown_service", "GREEN", 1)
        ]
    );

    let (status, beta) = get_json(&processor, "/api/v1/health?pipeline=beta").await;
    assert_eq!(status, 200);
    assert_eq!(
        (&beta["pipeline"], &beta["health"], &beta["health_score"]),
        (&Value::from("beta"), &Value::from("RED"), &Value::from(0.0))
    );
    assert!(beta.get("pipelines").is_none(), "{beta}");

    let (status, compliance) = get_json(&processor, "/api/v1/compliance").await;
    assert_eq!(status, 200);
    assert_eq!(compliance["pipelines"].as_array().unwrap().len(), 3);
    assert!(!compliance["contracts"].as_array().unwrap().is_empty());
    let (status, alpha) = get_json(&processor, "/api/v1/compliance?pipeline=alpha").await;
    assert_eq!(status, 200);
    assert_eq!(alpha["pipeline"], "alpha");
    assert_eq!(
        (&alpha["traces_passed"], &alpha["traces_failed"]),
        (&Value::from(1), &Value::from(0))
    );

    for path in [
        "/api/v1/health?pipeline=gamma",
        "/api/v1/compliance?pipeline=gamma",
    ] {
        let (status, body) = get_json(&processor, path).await;
        assert_eq!(status, 404, "{path}");
        assert!(
            body["error"]
                .as_str()
                .unwrap()
                .contains("no pipeline \"gamma\""),
            "{path}: {body}"
        );
    }

    let mut client = processor.client().await;
    let all = client
        .get_compliance(pb::GetComplianceRequest::default())
        .await
        .unwrap()
        .into_inner();
    let names: Vec<&str> = all.pipelines.iter().map(|p| p.pipeline.as_str()).collect();
    assert_eq!(names, ["alpha", "beta", "unknown_service"]);
    let beta = client
        .get_compliance(pb::GetComplianceRequest {
            pipeline: "beta".to_owned(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!((beta.traces_total, beta.traces_failed), (1, 1));
    assert_eq!(beta.health, pb::HealthStatus::Red as i32);
    assert_eq!(beta.pipelines.len(), 1);
    assert_eq!(beta.pipelines[0].pipeline, "beta");
    assert!(beta.contracts.is_empty());
    let unknown = client
        .get_compliance(pb::GetComplianceRequest {
            pipeline: "gamma".to_owned(),
        })
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), tonic::Code::NotFound);
    assert!(
        unknown.message().contains("no pipeline \"gamma\""),
        "{unknown:?}"
    );

    let (_, metrics) = processor.get("/metrics").await;
    assert!(
        metrics.lines().any(
            |line| line == "ironforge_pipeline_health_score_by_pipeline{pipeline=\"beta\"} 0.0"
        ),
        "{metrics}"
    );
    processor.stop().await;
}

/// An exporter retries a request whose answer it did not get: the same spans again, before the verdict or
/// after it, change nothing and are counted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_export_changes_no_verdict_and_doubles_no_violation() {
    let processor = TestProcessor::start().await;
    let mut otlp = TraceServiceClient::connect(processor.grpc_endpoint())
        .await
        .unwrap();
    // A slow session (5 s against 3 s): one violation of session_duration.
    let slow = run_with_session(41, 5);
    otlp.export(slow.clone()).await.unwrap();
    otlp.export(slow.clone()).await.unwrap();
    let verdict = processor.verdict(&hex::encode([41; 16])).await;
    let slow_sessions = |verdict: &pb::TraceVerdict| {
        verdict
            .violations
            .iter()
            .filter(|v| v.contract_id == "session_duration")
            .count()
    };
    assert_eq!(slow_sessions(&verdict), 1, "{verdict:?}");

    // After the verdict: the same request once more leaves it as it was. Two spans, sent twice more.
    otlp.export(slow).await.unwrap();
    wait_until_async("four duplicate spans counted", || async {
        let (_, metrics) = processor.get("/metrics").await;
        if metrics.contains("ironforge_processor_spans_duplicate_total 4") {
            Ok(())
        } else {
            Err(metrics)
        }
    })
    .await;
    let again = processor.verdict(&hex::encode([41; 16])).await;
    assert_eq!(again, verdict);
    processor.stop().await;
}
