//! The OTLP metrics receivers on real loopback ports: the OpenTelemetry SDK's own metrics exporters (gRPC,
//! HTTP protobuf, HTTP JSON) are acknowledged and their data points counted, and malformed or oversized
//! requests are refused as trace requests are.

// Helpers outside `#[test]` functions fail the test loudly, as the tests themselves do.

use std::sync::Arc;

use crate::otlp_support::grpc::{METRICS_EXPORT_PATH, assert_undecodable, call_raw, serve_grpc};
use crate::otlp_support::http::{HttpReceiver, JSON, PROTOBUF, gzip, serve_http};
use crate::otlp_support::sdk::sdk_resource;
use crate::otlp_support::{TestSink, small_limits};
use ironforge_processor::otlp::{METRICS_PATH, ReceiverLimits};
use ironforge_proto::otlp::metrics::{Metric, ResourceMetrics, ScopeMetrics};
use ironforge_proto::otlp::metrics_service::metrics_service_client::MetricsServiceClient;
use ironforge_proto::otlp::metrics_service::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use ironforge_telemetry::Transport;
use opentelemetry::KeyValue;
use opentelemetry::metrics::MeterProvider as _;
use opentelemetry_otlp::{
    Compression, Protocol, WithExportConfig, WithHttpConfig, WithTonicConfig,
};
use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider};
use prost::Message;
use tonic::Code;

/// Data points in each export of [`record_and_flush`]: a counter over two attribute sets, a histogram and
/// a gauge.
const POINTS_PER_EXPORT: u64 = 4;

/// Records [`POINTS_PER_EXPORT`] data points and exports them twice through the exporter `build_exporter`
/// makes: on a flush, which fails unless the export succeeded, and again (the totals are cumulative) on
/// shutdown.
///
/// Everything runs on a blocking thread: the SDK's reader exports from its own thread, flushing blocks until
/// it has, and a blocking HTTP client must stay off the async workers.
async fn record_and_flush(
    build_exporter: impl FnOnce() -> opentelemetry_otlp::MetricExporter + Send + 'static,
) {
    tokio::task::spawn_blocking(move || {
        let provider = SdkMeterProvider::builder()
            .with_reader(PeriodicReader::builder(build_exporter()).build())
            .with_resource(sdk_resource())
            .build();
        let meter = provider.meter("ironforge");
        let sessions = meter.u64_counter("ironforge.sessions").build();
        sessions.add(1, &[KeyValue::new("stage", "discovery")]);
        sessions.add(2, &[KeyValue::new("stage", "validation")]);
        meter
            .f64_histogram("ironforge.session.duration")
            .with_unit("s")
            .build()
            .record(1.5, &[]);
        meter
            .u64_gauge("process.memory.usage")
            .with_unit("By")
            .build()
            .record(52_428_800, &[]);
        provider.force_flush().unwrap();
        provider.shutdown().unwrap();
    })
    .await
    .unwrap();
}

/// Asserts the sink was told of the two exports of [`record_and_flush`], and of nothing else: metrics are
/// not trace requests, and bring no spans.
fn assert_two_exports_counted(sink: &TestSink, transport: Transport) {
    assert_eq!(
        sink.take_metric_points(),
        [(transport, POINTS_PER_EXPORT); 2]
    );
    assert!(sink.take().is_empty());
    assert!(sink.take_reports().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sdk_grpc_metrics_exporter_is_acknowledged_and_its_points_counted() {
    let sink = Arc::new(TestSink::default());
    let endpoint = serve_grpc(sink.clone(), &ReceiverLimits::default()).await;
    let exporter = opentelemetry_otlp::MetricExporter::builder()
        .with_tonic()
        .with_endpoint(endpoint)
        .with_compression(Compression::Gzip)
        .build()
        .unwrap();
    record_and_flush(move || exporter).await;

    assert_two_exports_counted(&sink, Transport::Grpc);
}

async fn assert_sdk_http_export_counted(protocol: Protocol) {
    let sink = Arc::new(TestSink::default());
    let url = format!(
        "{}{METRICS_PATH}",
        serve_http(sink.clone(), &ReceiverLimits::default()).await
    );
    record_and_flush(move || {
        opentelemetry_otlp::MetricExporter::builder()
            .with_http()
            .with_protocol(protocol)
            .with_endpoint(url)
            .with_compression(Compression::Gzip)
            .build()
            .unwrap()
    })
    .await;

    assert_two_exports_counted(&sink, Transport::Http);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sdk_http_protobuf_metrics_exporter_is_acknowledged_and_its_points_counted() {
    assert_sdk_http_export_counted(Protocol::HttpBinary).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sdk_http_json_metrics_exporter_is_acknowledged_and_its_points_counted() {
    assert_sdk_http_export_counted(Protocol::HttpJson).await;
}

/// Metrics as the OTLP/JSON encoding spells them, as any SDK writes them: int64 and fixed64 values as
/// strings, integer enums, one point per metric type but two in the sum.
const OTLP_JSON: &str = r#"{"resourceMetrics":[{
 "resource":{"attributes":[{"key":"service.name","value":{"stringValue":"ironforge"}}]},
 "scopeMetrics":[{"scope":{"name":"ironforge"},"metrics":[
  {"name":"ironforge.sessions","unit":"1","sum":{"aggregationTemporality":2,"isMonotonic":true,"dataPoints":[
    {"attributes":[{"key":"stage","value":{"stringValue":"discovery"}}],
     "startTimeUnixNano":"1700000000000000000","timeUnixNano":"1700000060000000000","asInt":"3"},
    {"attributes":[{"key":"stage","value":{"stringValue":"validation"}}],
     "startTimeUnixNano":"1700000000000000000","timeUnixNano":"1700000060000000000","asInt":"1"}]}},
  {"name":"ironforge.session.duration","unit":"s","histogram":{"aggregationTemporality":2,"dataPoints":[
    {"startTimeUnixNano":"1700000000000000000","timeUnixNano":"1700000060000000000","count":"2","sum":3.0,
     "bucketCounts":["0","2"],"explicitBounds":[1.0],"min":1.0,"max":2.0}]}},
  {"name":"process.memory.usage","unit":"By","gauge":{"dataPoints":[
    {"timeUnixNano":"1700000060000000000","asDouble":52428800.0}]}}]}]}]}"#;

#[tokio::test]
async fn otlp_json_metrics_are_acknowledged_and_counted() {
    let receiver = HttpReceiver::start(METRICS_PATH, ReceiverLimits::default()).await;

    let answer = receiver
        .post(Some(JSON), None, OTLP_JSON.as_bytes().to_vec())
        .await;
    answer.assert_status(200);
    assert_eq!(answer.json(), serde_json::json!({}));

    let answer = receiver
        .post(Some(JSON), Some("gzip"), gzip(OTLP_JSON.as_bytes()))
        .await;
    assert_eq!(answer.status, 200);

    // An empty protobuf body is a request with no metrics.
    let answer = receiver.post(Some(PROTOBUF), None, Vec::new()).await;
    assert_eq!(answer.status, 200);
    assert!(answer.body.is_empty(), "{:?}", answer.body);

    assert_eq!(
        receiver.sink.take_metric_points(),
        [
            (Transport::Http, 4),
            (Transport::Http, 4),
            (Transport::Http, 0)
        ]
    );
    assert!(receiver.sink.take_reports().is_empty());
}

#[tokio::test]
async fn malformed_http_metrics_are_a_bad_request() {
    let receiver = HttpReceiver::start(METRICS_PATH, ReceiverLimits::default()).await;
    let good = request_with_description(0).encode_to_vec();

    for body in [vec![0xff; 64], good[..good.len() - 3].to_vec()] {
        let answer = receiver.post(Some(PROTOBUF), None, body).await;
        answer.assert_error(400, Code::InvalidArgument, "invalid protobuf body: ");
    }
    // Well-formed JSON, but a metric name that is not a string: only a full decode notices.
    let wrong_type = r#"{"resourceMetrics":[{"scopeMetrics":[{"metrics":[
        {"name":["m"],"gauge":{"dataPoints":[]}}]}]}]}"#;
    for body in ["{not json", wrong_type] {
        let answer = receiver
            .post(Some(JSON), None, body.as_bytes().to_vec())
            .await;
        answer.assert_error(400, Code::InvalidArgument, "invalid OTLP/JSON body: ");
    }
    let answer = receiver
        .post(Some(PROTOBUF), Some("gzip"), b"not gzip".to_vec())
        .await;
    answer.assert_error(400, Code::InvalidArgument, "invalid gzip body: ");
    assert!(receiver.sink.take_metric_points().is_empty());

    let answer = receiver.post(Some(PROTOBUF), None, good).await;
    assert_eq!(answer.status, 200);
    assert_eq!(receiver.sink.take_metric_points(), [(Transport::Http, 1)]);
}

#[tokio::test]
async fn oversized_http_metrics_are_413() {
    let receiver = HttpReceiver::start(METRICS_PATH, small_limits()).await;
    let oversized = request_with_description(100 * 1024).encode_to_vec();

    let answer = receiver.post(Some(PROTOBUF), None, oversized.clone()).await;
    answer.assert_error(
        413,
        Code::ResourceExhausted,
        "exceeds the limit of 65536 bytes",
    );

    let answer = receiver
        .post(Some(PROTOBUF), Some("gzip"), gzip(&oversized))
        .await;
    answer.assert_error(
        413,
        Code::ResourceExhausted,
        "inflates past the limit of 65536 bytes",
    );
    assert!(receiver.sink.take_metric_points().is_empty());
}

#[tokio::test]
async fn an_unsupported_content_type_for_metrics_is_415() {
    let receiver = HttpReceiver::start(METRICS_PATH, ReceiverLimits::default()).await;
    let answer = receiver
        .post(Some("text/plain"), None, OTLP_JSON.as_bytes().to_vec())
        .await;
    answer.assert_error(415, Code::InvalidArgument, "unsupported Content-Type");
    assert!(receiver.sink.take_metric_points().is_empty());
}

#[tokio::test]
async fn malformed_grpc_metrics_are_invalid_argument() {
    let sink = Arc::new(TestSink::default());
    let endpoint = serve_grpc(sink.clone(), &ReceiverLimits::default()).await;
    let good = request_with_description(0).encode_to_vec();

    for body in [vec![0xff; 64], good[..good.len() - 3].to_vec()] {
        let status = call_raw::<ExportMetricsServiceResponse>(&endpoint, METRICS_EXPORT_PATH, body)
            .await
            .unwrap_err();
        assert_undecodable(&status);
    }
    assert!(sink.take_metric_points().is_empty());

    // The raw client itself works: the same bytes, whole, are accepted.
    let response = call_raw::<ExportMetricsServiceResponse>(&endpoint, METRICS_EXPORT_PATH, good)
        .await
        .unwrap();
    assert_eq!(response.partial_success, None);
    assert_eq!(sink.take_metric_points(), [(Transport::Grpc, 1)]);
    assert!(sink.take_reports().is_empty());
}

#[tokio::test]
async fn oversized_grpc_metrics_are_resource_exhausted() {
    let sink = Arc::new(TestSink::default());
    let endpoint = serve_grpc(sink.clone(), &small_limits()).await;
    let mut client = MetricsServiceClient::connect(endpoint).await.unwrap();

    let status = client
        .export(request_with_description(100 * 1024))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");

    // Small on the wire, past the limit once inflated.
    let status = client
        .clone()
        .send_compressed(tonic::codec::CompressionEncoding::Gzip)
        .export(request_with_description(1024 * 1024))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    assert!(sink.take_metric_points().is_empty());

    client.export(request_with_description(0)).await.unwrap();
    assert_eq!(sink.take_metric_points(), [(Transport::Grpc, 1)]);
}

/// One gauge with one data point, its description `padding` bytes long: compresses to almost nothing.
fn request_with_description(padding: usize) -> ExportMetricsServiceRequest {
    use ironforge_proto::otlp::metrics::metric::Data;
    use ironforge_proto::otlp::metrics::{Gauge, NumberDataPoint, number_data_point};

    let point = NumberDataPoint {
        time_unix_nano: 1_700_000_000_000_000_000,
        value: Some(number_data_point::Value::AsDouble(0.91)),
        ..NumberDataPoint::default()
    };
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            scope_metrics: vec![ScopeMetrics {
                metrics: vec![Metric {
                    name: "ironforge.pattern.authenticity".to_owned(),
                    description: "a".repeat(padding),
                    data: Some(Data::Gauge(Gauge {
                        data_points: vec![point],
                    })),
                    ..Metric::default()
                }],
                ..ScopeMetrics::default()
            }],
            ..ResourceMetrics::default()
        }],
    }
}
