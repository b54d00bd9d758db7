//! Bad input over the wire against a running processor: each gets the right status, nothing valid is lost,
//! and the processor keeps deciding other traces correctly.

use crate::e2e_support::{TestProcessor, contract_ids, kv, test_contracts};
use ironforge_processor::otlp::ReceiverLimits;
use ironforge_proto::monitor::v1 as pb;
use ironforge_proto::otlp::common::{KeyValue, any_value};
use ironforge_proto::otlp::resource::Resource;
use ironforge_proto::otlp::trace::{ResourceSpans, ScopeSpans, Span};
use ironforge_proto::otlp::trace_service::trace_service_client::TraceServiceClient;
use ironforge_proto::otlp::trace_service::{ExportTraceServiceRequest, ExportTraceServiceResponse};
use ironforge_proto::semconv::attr;
use prost::Message;

const T0: u64 = 1_754_300_000_000_000_000;
const MS: u64 = 1_000_000;
const PROTOBUF: &str = "application/x-protobuf";

fn string(key: &str, value: &str) -> KeyValue {
    kv(key, any_value::Value::StringValue(value.to_owned()))
}

fn int(key: &str, value: i64) -> KeyValue {
    kv(key, any_value::Value::IntValue(value))
}

fn span(trace: u8, id: u8, parent: Option<u8>, kind: &str, attributes: Vec<KeyValue>) -> Span {
    let mut attributes = attributes;
    attributes.push(string(attr::SPAN_KIND, kind));
    Span {
        trace_id: vec![trace; 16],
        span_id: vec![id; 8],
        parent_span_id: parent.map(|p| vec![p; 8]).unwrap_or_default(),
        name: kind.to_owned(),
        start_time_unix_nano: T0,
        end_time_unix_nano: T0 + 100 * MS,
        attributes,
        ..Span::default()
    }
}

/// A small clean run: run → stage discovery → one session with every fact in order. It declares no
/// session count, so it is not held to all four stages.
fn clean_run(trace: u8) -> Vec<Span> {
    let session_facts = vec![
        string(attr::STAGE, "discovery"),
        string(attr::SESSION_ID, "ASIA_2025-08-05"),
        int(attr::GRAPH_NODE_FEATURE_DIM, 51),
        int(attr::GRAPH_EDGE_FEATURE_DIM, 20),
    ];
    vec![
        span(trace, 1, None, "run", vec![]),
        span(
            trace,
            2,
            Some(1),
            "stage",
            vec![string(attr::STAGE, "discovery")],
        ),
        span(trace, 3, Some(2), "session", session_facts),
    ]
}

fn request(spans: Vec<Span>) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![string(attr::SERVICE_NAME, "bad-input-test")],
                ..Resource::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans,
                ..ScopeSpans::default()
            }],
            ..ResourceSpans::default()
        }],
    }
}

/// POSTs `body` to the OTLP/HTTP traces path and returns the status, once the whole answer is read.
async fn post(processor: &TestProcessor, content_type: &str, body: Vec<u8>) -> u16 {
    let response = reqwest::Client::new()
        .post(format!("{}/v1/traces", processor.http_endpoint()))
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    response.bytes().await.unwrap();
    status
}

/// POSTs `spans` as OTLP/HTTP protobuf and returns the status.
async fn post_spans(processor: &TestProcessor, spans: Vec<Span>) -> u16 {
    post(processor, PROTOBUF, request(spans).encode_to_vec()).await
}

async fn grpc(processor: &TestProcessor) -> TraceServiceClient<tonic::transport::Channel> {
    TraceServiceClient::connect(processor.grpc_endpoint())
        .await
        .unwrap()
}

/// Exports `spans` over gRPC, which must accept the request.
async fn export(processor: &TestProcessor, spans: Vec<Span>) -> ExportTraceServiceResponse {
    grpc(processor)
        .await
        .export(request(spans))
        .await
        .unwrap()
        .into_inner()
}

fn hex_trace(trace: u8) -> String {
    hex::encode([trace; 16])
}

/// Asserts the trace is decided a pass over the three spans of [`clean_run`].
async fn assert_clean_pass(processor: &TestProcessor, trace: u8) {
    let verdict = processor.verdict(&hex_trace(trace)).await;
    assert_eq!(verdict.span_count, 3);
    assert_eq!(
        verdict.status,
        pb::VerdictStatus::Pass as i32,
        "{:?}",
        verdict.violations
    );
}

/// Asserts the processor has no verdict for the trace, as it stands now.
async fn assert_no_verdict(processor: &TestProcessor, trace: u8, why: &str) {
    let missing = processor
        .client()
        .await
        .get_verdict(pb::GetVerdictRequest {
            trace_id: vec![trace; 16],
        })
        .await;
    assert_eq!(missing.unwrap_err().code(), tonic::Code::NotFound, "{why}");
}

/// A good trace sent after the bad input is still decided correctly.
async fn still_serves(processor: &TestProcessor, trace: u8) {
    export(processor, clean_run(trace)).await;
    assert_clean_pass(processor, trace).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn undecodable_and_mistyped_requests_are_refused_with_the_right_status() {
    let limits = ReceiverLimits {
        max_request_bytes: 64 * 1024,
    };
    let processor = TestProcessor::start_with(&test_contracts(), limits).await;

    let mut truncated = request(clean_run(9)).encode_to_vec();
    truncated.truncate(truncated.len() / 2);
    for (content_type, body, status) in [
        (PROTOBUF, b"\xff\xfe garbage \x00\x01".to_vec(), 400),
        (PROTOBUF, truncated, 400),
        ("text/plain", request(clean_run(9)).encode_to_vec(), 415),
        ("application/json", b"{\"resourceSpans\": [".to_vec(), 400),
    ] {
        assert_eq!(
            post(&processor, content_type, body).await,
            status,
            "{content_type}"
        );
    }

    // Oversized, over both transports.
    let padding = string("padding", &"x".repeat(100 * 1024));
    let oversized = request(vec![span(9, 1, None, "run", vec![padding])]);
    assert_eq!(
        post(&processor, PROTOBUF, oversized.encode_to_vec()).await,
        413
    );
    let refused = grpc(&processor).await.export(oversized).await.unwrap_err();
    assert_eq!(refused.code(), tonic::Code::ResourceExhausted);

    // Nothing of trace 9 was taken in. Trace 10, sent after it, is decided once its grace has passed, so by
    // then trace 9 would have been too: it has no verdict.
    still_serves(&processor, 10).await;
    assert_no_verdict(&processor, 9, "trace 9 was refused whole").await;
    processor.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_spans_are_refused_one_by_one_and_the_rest_kept() {
    let processor = TestProcessor::start().await;
    let mut spans = clean_run(11);
    let mut short_id = span(11, 4, Some(1), "pattern", vec![]);
    short_id.span_id = vec![4; 7];
    let mut zero_trace = span(11, 5, Some(1), "pattern", vec![]);
    zero_trace.trace_id = vec![0; 16];
    let mut backwards = span(11, 6, Some(1), "pattern", vec![]);
    backwards.end_time_unix_nano = backwards.start_time_unix_nano - MS;
    spans.extend([short_id, zero_trace, backwards]);

    let response = export(&processor, spans).await;
    let partial = response.partial_success.unwrap();
    assert_eq!(partial.rejected_spans, 3);
    assert!(
        partial.error_message.contains("end"),
        "{}",
        partial.error_message
    );

    let verdict = processor.verdict(&hex_trace(11)).await;
    assert_eq!(verdict.span_count, 3, "the valid spans were kept");
    assert_eq!(verdict.status, pb::VerdictStatus::Pass as i32);
    processor.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attributes_of_the_wrong_type_fail_the_run_and_say_why() {
    let processor = TestProcessor::start().await;
    let mut spans = clean_run(12);
    spans[2]
        .attributes
        .retain(|kv| kv.key != attr::GRAPH_NODE_FEATURE_DIM);
    spans[2]
        .attributes
        .push(string(attr::GRAPH_NODE_FEATURE_DIM, "51"));
    spans[2].attributes.push(kv(
        attr::PATTERN_AUTHENTICITY,
        any_value::Value::BoolValue(true),
    ));
    assert_eq!(post_spans(&processor, spans).await, 200);
    let verdict = processor.verdict(&hex_trace(12)).await;
    assert_eq!(contract_ids(&verdict.violations), ["attribute_types"]);
    let message = &verdict.violations[0].message;
    assert!(
        message.contains(attr::GRAPH_NODE_FEATURE_DIM)
            && message.contains(attr::PATTERN_AUTHENTICITY),
        "{message}"
    );
    assert!(!verdict.production_ready);
    processor.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trace_without_root_is_decided_incomplete_and_says_what_is_missing() {
    let processor = TestProcessor::start().await;
    let orphans: Vec<Span> = clean_run(13).into_iter().skip(1).collect();
    export(&processor, orphans).await;
    still_serves(&processor, 14).await;
    let verdict = processor.verdict(&hex_trace(13)).await;
    assert_eq!(verdict.status, pb::VerdictStatus::Incomplete as i32);
    assert!(!verdict.production_ready);
    assert!(
        verdict.incomplete_reason.contains("no root span"),
        "{}",
        verdict.incomplete_reason
    );
    assert!(
        verdict
            .incomplete_reason
            .contains("1 whose parent never arrived"),
        "{}",
        verdict.incomplete_reason
    );
    processor.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_trace_split_over_requests_far_apart_is_assembled_whole() {
    let processor = TestProcessor::start().await;
    let mut spans = clean_run(15);
    let root = spans.remove(0);
    // Children first over HTTP, the root later over gRPC: longer than the grace, shorter than the idle
    // timeout. The span timestamps are a day old: completion runs on the processor's clock, so skewed client
    // clocks change nothing.
    for span in &mut spans {
        span.start_time_unix_nano -= 86_400 * 1_000 * MS;
        span.end_time_unix_nano -= 86_400 * 1_000 * MS;
    }
    assert_eq!(post_spans(&processor, spans).await, 200);
    // Trace 16, sent after the children, is decided once its grace has passed: so has the children's.
    still_serves(&processor, 16).await;
    assert_no_verdict(&processor, 15, "no verdict before the root arrives").await;
    export(&processor, vec![root]).await;
    assert_clean_pass(&processor, 15).await;
    processor.stop().await;
}
