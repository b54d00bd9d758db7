//! The OTLP/gRPC receiver on a real loopback port, driven by tonic's `TraceServiceClient`, a raw gRPC client
//! for bytes no well-behaved client sends, and the OpenTelemetry SDK's own exporter.

// Helpers outside `#[test]` functions fail the test loudly, as the tests themselves do.

use std::sync::Arc;
use std::time::Duration;

use crate::otlp_support::grpc::{TRACES_EXPORT_PATH, assert_undecodable, call_raw, serve_grpc};
use crate::otlp_support::sdk::{SDK_SERVICE, export_run_and_session, take_run_and_session};
use crate::otlp_support::{
    TestSink, assert_discovery_session, assert_one_session, kv, padded_request, request,
    session_span, small_limits, text,
};
use ironforge_processor::otlp::ReceiverLimits;
use ironforge_proto::otlp::common::any_value::Value;
use ironforge_proto::otlp::trace_service::trace_service_client::TraceServiceClient;
use ironforge_proto::otlp::trace_service::{ExportTraceServiceRequest, ExportTraceServiceResponse};
use ironforge_proto::semconv::{SpanKind, Stage, attr};
use ironforge_telemetry::{RequestOutcome, Transport};
use prost::Message;
use tonic::codec::CompressionEncoding;
use tonic::transport::Channel;
use tonic::{Code, Status};
use tonic_types::StatusExt;

struct Receiver {
    endpoint: String,
    sink: Arc<TestSink>,
}

impl Receiver {
    async fn start(limits: ReceiverLimits) -> Self {
        let sink = Arc::new(TestSink::default());
        let endpoint = serve_grpc(sink.clone(), &limits).await;
        Self { endpoint, sink }
    }

    async fn client(&self) -> TraceServiceClient<Channel> {
        TraceServiceClient::connect(self.endpoint.clone())
            .await
            .unwrap()
    }

    async fn export(
        &self,
        request: ExportTraceServiceRequest,
    ) -> Result<ExportTraceServiceResponse, Status> {
        self.client()
            .await
            .export(request)
            .await
            .map(tonic::Response::into_inner)
    }

    /// Asserts that exactly one request was reported since the last call, as given.
    fn assert_report(&self, outcome: RequestOutcome, accepted: u64, rejected: u64) {
        self.sink
            .assert_report(Transport::Grpc, outcome, accepted, rejected);
    }

    /// Asserts that no span arrived and that exactly one request was reported, refused whole as `outcome`.
    fn assert_refused(&self, outcome: RequestOutcome) {
        self.sink.assert_refused(Transport::Grpc, outcome);
    }

    /// Asserts the request answered with `status` was refused whole as too large, and reported as such.
    fn assert_too_large(&self, status: &Status) {
        assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
        self.assert_refused(RequestOutcome::TooLarge);
    }

    /// After a refused request: a good one is still accepted and decoded.
    async fn assert_still_serves(&self) {
        let response = self.export(request(vec![session_span(42)])).await.unwrap();
        assert_eq!(response.partial_success, None);
        assert_one_session(&self.sink, 42);
    }

    /// Sends `body` as the request message, whatever it is.
    async fn export_raw(&self, body: Vec<u8>) -> Result<ExportTraceServiceResponse, Status> {
        call_raw(&self.endpoint, TRACES_EXPORT_PATH, body).await
    }
}

#[tokio::test]
async fn spans_arrive_with_their_facts_and_no_partial_success() {
    let receiver = Receiver::start(ReceiverLimits::default()).await;
    let mut run = session_span(1);
    run.parent_span_id.clear();
    run.attributes = vec![
        kv(attr::SPAN_KIND, text("run")),
        kv(attr::RUN_SESSION_COUNT, Value::IntValue(57)),
    ];

    let response = receiver
        .export(request(vec![run, session_span(2)]))
        .await
        .unwrap();

    assert_eq!(response.partial_success, None);
    receiver.assert_report(RequestOutcome::Ok, 2, 0);
    let spans = receiver.sink.take();
    assert_eq!(spans.len(), 2);
    assert_eq!(spans[0].kind, Some(SpanKind::Run));
    assert_eq!(spans[0].parent_span_id, None);
    assert_eq!(spans[0].facts.int(attr::RUN_SESSION_COUNT), Some(57));
    assert_eq!(spans[1].kind, Some(SpanKind::Session));
    assert_eq!(spans[1].stage, Some(Stage::Discovery));
    assert_eq!(spans[1].session_id.as_deref(), Some("NY_AM_2025-08-04"));
    assert_eq!(spans[1].parent_span_id.map(|id| id.0), Some([0xee; 8]));
    assert_eq!(
        spans[1].facts.strings(attr::GRAPH_EVENT_TYPES),
        Some(&[Arc::from("Expansion"), Arc::from("Reversal")][..])
    );
    assert_eq!(spans[1].duration_seconds(), 1.5);
}

#[tokio::test]
async fn invalid_spans_are_refused_in_partial_success_and_the_rest_kept() {
    let receiver = Receiver::start(ReceiverLimits::default()).await;
    let mut short_trace = session_span(3);
    short_trace.trace_id.truncate(15);
    let mut zero_span = session_span(4);
    zero_span.span_id = vec![0; 8];
    let mut zero_parent = session_span(5);
    zero_parent.parent_span_id = vec![0; 8];
    let mut backwards = session_span(6);
    backwards.end_time_unix_nano = backwards.start_time_unix_nano - 1;

    let response = receiver
        .export(request(vec![
            short_trace,
            zero_span,
            session_span(7),
            zero_parent,
            backwards,
        ]))
        .await
        .unwrap();

    let partial = response.partial_success.unwrap();
    assert_eq!(partial.rejected_spans, 4);
    for expected in [
        "span \"session-3\": trace_id has 15 bytes; expected 16",
        "span \"session-4\": span_id is all zeros",
        "span \"session-5\": parent_span_id is all zeros",
        "span \"session-6\" (span_id 0606060606060606): end_time_unix_nano",
    ] {
        assert!(
            partial.error_message.contains(expected),
            "{expected} not in {}",
            partial.error_message
        );
    }
    assert_one_session(&receiver.sink, 7);
    receiver.assert_report(RequestOutcome::PartialSuccess, 1, 4);
    receiver.assert_still_serves().await;
}

#[tokio::test]
async fn attributes_of_the_wrong_type_arrive_as_attribute_errors_on_a_kept_span() {
    let receiver = Receiver::start(ReceiverLimits::default()).await;
    let mut span = session_span(1);
    span.attributes = vec![
        kv(attr::SPAN_KIND, text("session")),
        kv(attr::GRAPH_NODE_FEATURE_DIM, text("51")),
        kv(attr::STAGE, text("discover")),
    ];

    let response = receiver.export(request(vec![span])).await.unwrap();

    assert_eq!(response.partial_success, None);
    let spans = receiver.sink.take();
    assert_eq!(spans.len(), 1);
    assert_eq!(spans[0].kind, Some(SpanKind::Session));
    assert_eq!(spans[0].facts.int(attr::GRAPH_NODE_FEATURE_DIM), None);
    assert_eq!(
        spans[0].facts.attribute_errors,
        vec![
            "attribute `ironforge.graph.node_feature_dim`: expected int, received string \"51\"",
            "attribute `ironforge.stage`: expected one of discovery, confluence, validation, reporting, \
             received string \"discover\"",
        ]
    );
}

#[tokio::test]
async fn an_empty_request_succeeds() {
    let receiver = Receiver::start(ReceiverLimits::default()).await;
    let response = receiver
        .export(ExportTraceServiceRequest::default())
        .await
        .unwrap();
    assert_eq!(response.partial_success, None);
    assert!(receiver.sink.take().is_empty());
    receiver.assert_report(RequestOutcome::Ok, 0, 0);
    receiver.assert_still_serves().await;
}

#[tokio::test]
async fn an_overloaded_sink_answers_unavailable_with_the_retry_delay() {
    let receiver = Receiver::start(ReceiverLimits::default()).await;
    receiver.sink.overload(Some(Duration::from_millis(1500)));

    let status = receiver
        .export(request(vec![session_span(1)]))
        .await
        .unwrap_err();

    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    let retry = status
        .get_details_retry_info()
        .expect("RetryInfo in the status details");
    assert_eq!(retry.retry_delay, Some(Duration::from_millis(1500)));
    receiver.assert_refused(RequestOutcome::Overloaded);

    receiver.sink.overload(None);
    receiver.assert_still_serves().await;
}

#[tokio::test]
async fn an_oversized_request_is_resource_exhausted() {
    let receiver = Receiver::start(small_limits()).await;
    let status = receiver
        .export(padded_request(100 * 1024))
        .await
        .unwrap_err();
    receiver.assert_too_large(&status);
    receiver.assert_still_serves().await;
}

#[tokio::test]
async fn gzip_is_accepted_and_a_gzip_bomb_is_resource_exhausted() {
    let receiver = Receiver::start(small_limits()).await;
    let mut client = receiver
        .client()
        .await
        .send_compressed(CompressionEncoding::Gzip);

    // About 1 KiB on the wire, 1 MiB once inflated.
    let status = client
        .export(padded_request(1024 * 1024))
        .await
        .unwrap_err();
    receiver.assert_too_large(&status);

    let response = client
        .export(request(vec![session_span(8)]))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(response.partial_success, None);
    assert_one_session(&receiver.sink, 8);
}

#[tokio::test]
async fn garbage_and_truncated_protobuf_are_invalid_argument() {
    let receiver = Receiver::start(ReceiverLimits::default()).await;
    let good = request(vec![session_span(1)]).encode_to_vec();
    let truncated = good[..good.len() - 7].to_vec();

    for body in [vec![0xff; 64], truncated] {
        assert_undecodable(&receiver.export_raw(body).await.unwrap_err());
        receiver.assert_report(RequestOutcome::BadRequest, 0, 0);
    }
    assert!(receiver.sink.take().is_empty());

    // The raw client itself works: the same bytes, whole, are accepted.
    let response = receiver.export_raw(good).await.unwrap();
    assert_eq!(response.partial_success, None);
    assert_one_session(&receiver.sink, 1);
    receiver.assert_still_serves().await;
}

#[tokio::test]
async fn an_unsupported_grpc_encoding_is_unimplemented_and_reported_as_such() {
    let receiver = Receiver::start(ReceiverLimits::default()).await;
    let mut request = tonic::Request::new(request(vec![session_span(1)]));
    request
        .metadata_mut()
        .insert("grpc-encoding", "br".parse().unwrap());

    let status = receiver.client().await.export(request).await.unwrap_err();

    assert_eq!(status.code(), Code::Unimplemented, "{status:?}");
    receiver.assert_refused(RequestOutcome::UnsupportedMediaType);
    receiver.assert_still_serves().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_report_times_the_request_to_its_answer() {
    let receiver = Receiver::start(ReceiverLimits::default()).await;
    receiver.sink.slow_down(Duration::from_millis(300));

    receiver
        .export(request(vec![session_span(1)]))
        .await
        .unwrap();

    receiver
        .sink
        .assert_one_accepted_after(Transport::Grpc, Duration::from_millis(300));
}

#[tokio::test]
async fn a_call_to_another_method_is_not_an_export_request() {
    let receiver = Receiver::start(ReceiverLimits::default()).await;
    let status = call_raw::<ExportTraceServiceResponse>(
        &receiver.endpoint,
        "/opentelemetry.proto.collector.trace.v1.TraceService/Other",
        Vec::new(),
    )
    .await
    .unwrap_err();
    assert_eq!(status.code(), Code::Unimplemented, "{status:?}");
    assert!(receiver.sink.take_reports().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stock_opentelemetry_exporter_is_accepted() {
    use opentelemetry::{Array, KeyValue};
    use opentelemetry_otlp::{Compression, WithExportConfig, WithTonicConfig};

    let receiver = Receiver::start(ReceiverLimits::default()).await;
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_tonic()
        .with_endpoint(receiver.endpoint.clone())
        .with_compression(Compression::Gzip)
        .build()
        .unwrap();
    export_run_and_session(
        move || exporter,
        vec![
            KeyValue::new(attr::SPAN_KIND, "run"),
            KeyValue::new(attr::RUN_SESSION_COUNT, 57),
        ],
        vec![
            KeyValue::new(attr::SPAN_KIND, "session"),
            KeyValue::new(attr::STAGE, "discovery"),
            KeyValue::new(attr::SESSION_ID, "NY_AM_2025-08-04"),
            KeyValue::new(attr::GRAPH_NODE_FEATURE_DIM, 51),
            KeyValue::new(attr::PATTERN_AUTHENTICITY, 0.91),
            KeyValue::new(attr::PROCESS_MEMORY_USAGE, 52_428_800),
            KeyValue::new(
                attr::GRAPH_EDGE_INTENTS,
                opentelemetry::Value::Array(Array::String(vec![
                    "CONTEXT".into(),
                    "LIQ_LINK".into(),
                ])),
            ),
        ],
    )
    .await;

    let (run, session) = take_run_and_session(&receiver.sink);
    assert_eq!(session.service_name.as_deref(), Some(SDK_SERVICE));
    assert_eq!(run.kind, Some(SpanKind::Run));
    assert_eq!(run.facts.int(attr::RUN_SESSION_COUNT), Some(57));
    assert_discovery_session(&session);
    assert_eq!(session.facts.number(attr::PATTERN_AUTHENTICITY), Some(0.91));
    assert_eq!(
        session.facts.number(attr::PROCESS_MEMORY_USAGE),
        Some(52_428_800.0)
    );
    assert_eq!(
        session.facts.strings(attr::GRAPH_EDGE_INTENTS),
        Some(&[Arc::from("CONTEXT"), Arc::from("LIQ_LINK")][..])
    );
    assert!(session.end_unix_nano >= session.start_unix_nano);
}
