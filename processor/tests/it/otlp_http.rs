//! The OTLP/HTTP receiver on a real loopback port, driven by an HTTP client and by the OpenTelemetry SDK's
//! own HTTP exporters (protobuf and JSON).

// Helpers outside `#[test]` functions fail the test loudly, as the tests themselves do.

use std::sync::Arc;
use std::time::Duration;

use crate::otlp_support::http::{HttpReceiver as Receiver, JSON, PROTOBUF, gzip};
use crate::otlp_support::sdk::{SDK_SERVICE, export_run_and_session, take_run_and_session};
use crate::otlp_support::{
    TRACE_ID, assert_discovery_session, assert_one_session, kv, padded_request, request,
    session_span, small_limits,
};
use ironforge_processor::otlp::{ReceiverLimits, TRACES_PATH};
use ironforge_proto::otlp::common::{AnyValue, ArrayValue, any_value::Value};
use ironforge_proto::otlp::trace_service::ExportTraceServiceResponse;
use ironforge_proto::semconv::{SpanKind, Stage, attr};
use ironforge_telemetry::{RequestOutcome, Transport};
use prost::Message;
use tonic::Code;
use tonic_types::pb::RetryInfo;

/// A trace as the OpenTelemetry JavaScript SDK's OTLP/JSON exporter writes it: hex ids, integer enums,
/// timestamps as strings, whole numbers as JSON numbers, a root span without `parentSpanId`.
const JS_SDK_JSON: &str = r#"{"resourceSpans":[{"resource":{"attributes":[
  {"key":"service.name","value":{"stringValue":"ironforge"}},
  {"key":"telemetry.sdk.language","value":{"stringValue":"nodejs"}}],"droppedAttributesCount":0},
 "scopeSpans":[{"scope":{"name":"ironforge","version":"1.0.0"},"spans":[
  {"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174","name":"run","kind":1,
   "startTimeUnixNano":"1700000000000000000","endTimeUnixNano":"1700000060000000000",
   "attributes":[{"key":"ironforge.span.kind","value":{"stringValue":"run"}},
                 {"key":"ironforge.run.session_count","value":{"intValue":57}},
                 {"key":"ironforge.instrument.overhead","value":{"doubleValue":0.012}}],
   "droppedAttributesCount":0,"events":[],"droppedEventsCount":0,"status":{"code":0},"links":[],
   "droppedLinksCount":0,"flags":257},
  {"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b175",
   "parentSpanId":"eee19b7ec3c1b174","name":"process_session","kind":1,
   "startTimeUnixNano":"1700000000000000000","endTimeUnixNano":"1700000001500000000",
   "attributes":[{"key":"ironforge.span.kind","value":{"stringValue":"session"}},
                 {"key":"ironforge.stage","value":{"stringValue":"discovery"}},
                 {"key":"ironforge.session.id","value":{"stringValue":"NY_AM_2025-08-04"}},
                 {"key":"ironforge.graph.node_feature_dim","value":{"intValue":51}},
                 {"key":"ironforge.pattern.authenticity","value":{"intValue":1}},
                 {"key":"process.memory.usage","value":{"doubleValue":52428800.5}},
                 {"key":"ironforge.graph.event_types","value":{"arrayValue":{"values":[
                    {"stringValue":"Expansion"},{"stringValue":"Liquidity Taken"}]}}}],
   "droppedAttributesCount":0,
   "events":[{"timeUnixNano":"1700000001000000000","name":"checkpoint","attributes":[],"droppedAttributesCount":0}],
   "droppedEventsCount":0,"status":{"code":1},"links":[],"droppedLinksCount":0,"flags":257}]}]}]}"#;

#[tokio::test]
async fn protobuf_is_answered_in_protobuf() {
    let receiver = Receiver::start(TRACES_PATH, ReceiverLimits::default()).await;
    let answer = receiver
        .post_protobuf(&request(vec![session_span(1)]))
        .await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.content_type, PROTOBUF);
    // An empty `ExportTraceServiceResponse`: partial_success unset.
    assert!(answer.body.is_empty(), "{:?}", answer.body);
    assert_one_session(&receiver.sink, 1);
    receiver.assert_report(RequestOutcome::Ok, 1, 0);
}

#[tokio::test]
async fn json_as_the_javascript_sdk_writes_it_is_decoded() {
    let receiver = Receiver::start(TRACES_PATH, ReceiverLimits::default()).await;
    let answer = receiver.post_json(JS_SDK_JSON).await;
    answer.assert_status(200);
    assert_eq!(answer.json(), serde_json::json!({}));

    let spans = receiver.sink.take();
    assert_eq!(spans.len(), 2);
    let (run, session) = (&spans[0], &spans[1]);
    assert_eq!(run.trace_id.0, TRACE_ID);
    assert_eq!(run.span_id.to_hex(), "eee19b7ec3c1b174");
    assert_eq!(run.parent_span_id, None);
    assert_eq!(run.kind, Some(SpanKind::Run));
    assert_eq!(run.facts.int(attr::RUN_SESSION_COUNT), Some(57));
    assert_eq!(run.facts.number(attr::INSTRUMENT_OVERHEAD), Some(0.012));
    assert_eq!(run.duration_seconds(), 60.0);
    assert_eq!(session.parent_span_id, Some(run.span_id));
    assert_eq!(session.service_name.as_deref(), Some("ironforge"));
    assert_discovery_session(session);
    assert_eq!(session.facts.number(attr::PATTERN_AUTHENTICITY), Some(1.0));
    assert_eq!(
        session.facts.number(attr::PROCESS_MEMORY_USAGE),
        Some(52_428_800.5)
    );
    assert_eq!(
        session.facts.strings(attr::GRAPH_EVENT_TYPES),
        Some(&[Arc::from("Expansion"), Arc::from("Liquidity Taken")][..])
    );
}

#[tokio::test]
async fn json_int64_may_be_strings_or_numbers_and_hex_any_case() {
    let receiver = Receiver::start(TRACES_PATH, ReceiverLimits::default()).await;
    let json = r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{
        "traceId":"5B8EFFF798038103D269B633813FC60C","spanId":"0909090909090909",
        "name":"s","kind":1,"startTimeUnixNano":1700000000000000000,"endTimeUnixNano":"1700000002000000000",
        "attributes":[{"key":"ironforge.graph.node_feature_dim","value":{"intValue":"51"}},
                      {"key":"ironforge.graph.edge_feature_dim","value":{"intValue":20}}]}]}]}]}"#;
    let answer = receiver.post_json(json).await;
    answer.assert_status(200);
    let spans = receiver.sink.take();
    assert_eq!(spans.len(), 1);
    assert_eq!(spans[0].trace_id.0, TRACE_ID);
    assert_eq!(spans[0].service_name, None);
    assert_eq!(spans[0].duration_seconds(), 2.0);
    assert_eq!(spans[0].facts.int(attr::GRAPH_NODE_FEATURE_DIM), Some(51));
    assert_eq!(spans[0].facts.int(attr::GRAPH_EDGE_FEATURE_DIM), Some(20));
}

#[tokio::test]
async fn json_refusals_and_attribute_errors_are_reported() {
    let receiver = Receiver::start(TRACES_PATH, ReceiverLimits::default()).await;
    let json = r#"{"resourceSpans":[{"scopeSpans":[{"spans":[
        {"traceId":"00000000000000000000000000000000","spanId":"0101010101010101","name":"zero",
         "startTimeUnixNano":"1","endTimeUnixNano":"2"},
        {"traceId":"5b8efff798038103d269b633813fc60c","spanId":"0202020202020202","name":"kept",
         "startTimeUnixNano":"1","endTimeUnixNano":"2",
         "attributes":[{"key":"ironforge.graph.node_feature_dim","value":{"stringValue":"51"}}]}]}]}]}"#;
    let answer = receiver.post_json(json).await;
    assert_eq!(answer.status, 200);
    assert_eq!(
        answer.json(),
        serde_json::json!({"partialSuccess": {
            "rejectedSpans": "1",
            "errorMessage": "span \"zero\": trace_id is all zeros",
        }})
    );
    let spans = receiver.sink.take();
    assert_eq!(spans.len(), 1);
    assert_eq!(&*spans[0].name, "kept");
    assert_eq!(
        spans[0].facts.attribute_errors,
        vec!["attribute `ironforge.graph.node_feature_dim`: expected int, received string \"51\""]
    );
}

#[tokio::test]
async fn protobuf_refusals_are_a_partial_success() {
    let receiver = Receiver::start(TRACES_PATH, ReceiverLimits::default()).await;
    let mut long_span_id = session_span(2);
    long_span_id.span_id.push(2);
    let answer = receiver
        .post_protobuf(&request(vec![long_span_id, session_span(3)]))
        .await;
    assert_eq!(answer.status, 200);
    let response = ExportTraceServiceResponse::decode(answer.body.as_slice()).unwrap();
    let partial = response.partial_success.unwrap();
    assert_eq!(partial.rejected_spans, 1);
    assert_eq!(
        partial.error_message,
        "span \"session-2\": span_id has 9 bytes; expected 8"
    );
    assert_one_session(&receiver.sink, 3);
    receiver.assert_report(RequestOutcome::PartialSuccess, 1, 1);
}

#[tokio::test]
async fn base64_ids_in_json_are_a_bad_request() {
    let receiver = Receiver::start(TRACES_PATH, ReceiverLimits::default()).await;
    let json = r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{
        "traceId":"W47/95gDgQPSabYzgT/GDA==","spanId":"7uGbfsPBsXQ=","name":"s",
        "startTimeUnixNano":"1","endTimeUnixNano":"2"}]}]}]}"#;
    let answer = receiver.post_json(json).await;
    assert_eq!(answer.status, 400);
    let status = answer.json();
    assert_eq!(status["code"], 3);
    let message = status["message"].as_str().unwrap();
    assert!(message.starts_with("invalid OTLP/JSON body: "), "{message}");
    receiver.assert_refused(RequestOutcome::BadRequest);
    receiver.assert_still_serves().await;
}

#[tokio::test]
async fn a_json_body_that_is_not_utf8_is_a_bad_request() {
    let receiver = Receiver::start(TRACES_PATH, ReceiverLimits::default()).await;
    let mut body = br#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"name":""#.to_vec();
    body.extend_from_slice(&[0xff, 0xfe]);
    body.extend_from_slice(br#""}]}]}]}"#);
    let answer = receiver.post(Some("application/json"), None, body).await;
    assert_eq!(answer.status, 400);
    let status = answer.json();
    assert_eq!(status["code"], 3);
    let message = status["message"].as_str().unwrap();
    assert!(
        message.starts_with("invalid OTLP/JSON body: not UTF-8"),
        "{message}"
    );
    receiver.assert_refused(RequestOutcome::BadRequest);
    receiver.assert_still_serves().await;
}

#[tokio::test]
async fn garbage_truncated_and_too_deep_bodies_are_a_bad_request() {
    let receiver = Receiver::start(TRACES_PATH, ReceiverLimits::default()).await;
    let good = request(vec![session_span(1)]).encode_to_vec();
    let mut nested = AnyValue {
        value: Some(Value::IntValue(1)),
    };
    for _ in 0..200 {
        nested = AnyValue {
            value: Some(Value::ArrayValue(ArrayValue {
                values: vec![nested],
            })),
        };
    }
    let mut deep = session_span(1);
    deep.attributes = vec![kv("deep", nested.value.unwrap())];

    for body in [
        vec![0xff; 64],
        good[..good.len() - 7].to_vec(),
        request(vec![deep]).encode_to_vec(),
    ] {
        let answer = receiver.post(Some(PROTOBUF), None, body).await;
        assert_eq!(answer.status, 400);
        let status = answer.protobuf_status();
        assert_eq!(status.code, 3);
        assert!(
            status.message.starts_with("invalid protobuf body: "),
            "{}",
            status.message
        );
        receiver.assert_still_serves().await;
    }

    let deep_json = format!(
        r#"{{"resourceSpans":[{{"scopeSpans":[{{"spans":[{{"attributes":[{{"key":"deep","value":{}1{}}}]}}]}}]}}]}}"#,
        r#"{"arrayValue":{"values":["#.repeat(200),
        "]}}".repeat(200)
    );
    for body in ["{not json", "", &deep_json] {
        let answer = receiver.post_json(body).await;
        assert_eq!(answer.status, 400, "{body}");
        assert_eq!(answer.json()["code"], 3);
        receiver.assert_still_serves().await;
    }
}

#[tokio::test]
async fn an_unsupported_content_type_or_encoding_is_415() {
    let receiver = Receiver::start(TRACES_PATH, ReceiverLimits::default()).await;
    let body = request(vec![session_span(1)]).encode_to_vec();
    // The client's encoding is unknown, so the error is in JSON.
    for content_type in [Some("text/plain"), None, Some("application/protobuf")] {
        let answer = receiver.post(content_type, None, body.clone()).await;
        assert_eq!(answer.status, 415, "{content_type:?}");
        let status = answer.json();
        assert_eq!(status["code"], 3);
        assert!(
            status["message"]
                .as_str()
                .unwrap()
                .starts_with("unsupported Content-Type"),
            "{status}"
        );
        receiver.assert_report(RequestOutcome::UnsupportedMediaType, 0, 0);
    }
    // A known content type with an unknown content coding: the error is in the request's encoding.
    let answer = receiver.post(Some(PROTOBUF), Some("br"), body).await;
    assert_eq!(answer.status, 415);
    let status = answer.protobuf_status();
    assert_eq!(status.code, 3);
    assert_eq!(
        status.message,
        "unsupported Content-Encoding \"br\"; expected gzip or identity"
    );
    receiver.assert_refused(RequestOutcome::UnsupportedMediaType);
    receiver.assert_still_serves().await;
}

#[tokio::test]
async fn only_post_is_allowed() {
    let receiver = Receiver::start(TRACES_PATH, ReceiverLimits::default()).await;
    for method in [
        reqwest::Method::GET,
        reqwest::Method::PUT,
        reqwest::Method::DELETE,
    ] {
        let response = receiver
            .client
            .request(method.clone(), &receiver.url)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 405, "{method}");
        assert_eq!(response.headers()["allow"], "POST");
    }
    // Refused by the router before any export handling: not an export request.
    assert!(receiver.sink.take_reports().is_empty());
    receiver.assert_still_serves().await;
}

#[tokio::test]
async fn an_oversized_body_is_413() {
    let receiver = Receiver::start(TRACES_PATH, small_limits()).await;
    let answer = receiver.post_protobuf(&padded_request(100 * 1024)).await;
    assert_eq!(answer.content_type, PROTOBUF);
    answer.assert_error(
        413,
        Code::ResourceExhausted,
        "exceeds the limit of 65536 bytes",
    );
    receiver.assert_refused(RequestOutcome::TooLarge);
    receiver.assert_still_serves().await;
}

#[tokio::test]
async fn a_body_past_axums_default_limit_but_within_ours_is_accepted() {
    let receiver = Receiver::start(TRACES_PATH, ReceiverLimits::default()).await;
    let answer = receiver
        .post_protobuf(&padded_request(3 * 1024 * 1024))
        .await;
    answer.assert_status(200);
    let spans = receiver.sink.take();
    assert_eq!(spans.len(), 1);
    assert_eq!(spans[0].span_id.0, [9; 8]);
}

#[tokio::test]
async fn gzip_is_accepted_and_a_gzip_bomb_is_413() {
    let receiver = Receiver::start(TRACES_PATH, small_limits()).await;

    let bomb = gzip(&padded_request(1024 * 1024).encode_to_vec());
    assert!(
        bomb.len() < 16 * 1024,
        "the bomb is small on the wire: {}",
        bomb.len()
    );
    let answer = receiver.post(Some(PROTOBUF), Some("gzip"), bomb).await;
    answer.assert_error(
        413,
        Code::ResourceExhausted,
        "inflates past the limit of 65536 bytes",
    );
    receiver.assert_refused(RequestOutcome::TooLarge);

    let answer = receiver
        .post(Some(PROTOBUF), Some("gzip"), b"not gzip at all".to_vec())
        .await;
    assert_eq!(answer.status, 400);
    assert!(
        answer
            .protobuf_status()
            .message
            .starts_with("invalid gzip body: ")
    );
    receiver.assert_report(RequestOutcome::BadRequest, 0, 0);

    let good = gzip(&request(vec![session_span(5)]).encode_to_vec());
    let answer = receiver.post(Some(PROTOBUF), Some("GZIP"), good).await;
    assert_eq!(answer.status, 200);
    assert_one_session(&receiver.sink, 5);

    let answer = receiver
        .post(Some(JSON), Some("gzip"), gzip(JS_SDK_JSON.as_bytes()))
        .await;
    assert_eq!(answer.status, 200);
    assert_eq!(receiver.sink.take().len(), 2);
}

#[tokio::test]
async fn a_report_times_the_request_from_its_arrival() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let receiver = Receiver::start(TRACES_PATH, ReceiverLimits::default()).await;
    let body = request(vec![session_span(1)]).encode_to_vec();
    let authority = receiver
        .url
        .trim_start_matches("http://")
        .trim_end_matches("/v1/traces");
    let mut stream = tokio::net::TcpStream::connect(authority).await.unwrap();
    let head = format!(
        "POST /v1/traces HTTP/1.1\r\nhost: {authority}\r\ncontent-type: {PROTOBUF}\r\n\
         content-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    // The body lags its headers, as on a slow link: the time spent reading it counts.
    tokio::time::sleep(Duration::from_millis(300)).await;
    stream.write_all(&body).await.unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();

    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert_one_session(&receiver.sink, 1);
    // The clock starts when the handler is entered, a little after the headers were written; half the lag
    // still shows the body's wait was counted (handling alone takes well under a millisecond).
    receiver
        .sink
        .assert_one_accepted_after(Transport::Http, Duration::from_millis(150));
}

#[tokio::test]
async fn empty_requests_succeed() {
    let receiver = Receiver::start(TRACES_PATH, ReceiverLimits::default()).await;
    let answer = receiver.post(Some(PROTOBUF), None, Vec::new()).await;
    assert_eq!(answer.status, 200);
    assert!(answer.body.is_empty());
    let answer = receiver.post_json("{}").await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.json(), serde_json::json!({}));
    assert!(receiver.sink.take().is_empty());
    receiver.assert_still_serves().await;
}

#[tokio::test]
async fn an_overloaded_sink_is_503_with_retry_after() {
    let receiver = Receiver::start(TRACES_PATH, ReceiverLimits::default()).await;
    receiver.sink.overload(Some(Duration::from_millis(1500)));

    let answer = receiver
        .post_protobuf(&request(vec![session_span(1)]))
        .await;
    assert_eq!(answer.status, 503);
    assert_eq!(answer.retry_after.as_deref(), Some("2"));
    let status = answer.protobuf_status();
    assert_eq!(status.code, 14);
    assert_eq!(status.details.len(), 1);
    assert_eq!(
        status.details[0].type_url,
        "type.googleapis.com/google.rpc.RetryInfo"
    );
    let retry = RetryInfo::decode(status.details[0].value.as_slice()).unwrap();
    let delay = retry.retry_delay.unwrap();
    assert_eq!((delay.seconds, delay.nanos), (1, 500_000_000));
    receiver.assert_report(RequestOutcome::Overloaded, 0, 0);

    let answer = receiver.post_json(JS_SDK_JSON).await;
    assert_eq!(answer.status, 503);
    assert_eq!(answer.retry_after.as_deref(), Some("2"));
    assert_eq!(answer.json()["details"][0]["retryDelay"], "1.500000000s");
    assert!(receiver.sink.take().is_empty());

    receiver.sink.overload(None);
    receiver.assert_still_serves().await;
}

async fn assert_sdk_export_arrives(protocol: opentelemetry_otlp::Protocol) {
    use opentelemetry::KeyValue;
    use opentelemetry_otlp::{WithExportConfig, WithHttpConfig};

    let receiver = Receiver::start(TRACES_PATH, ReceiverLimits::default()).await;
    let url = receiver.url.clone();
    let build_exporter = move || {
        opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_protocol(protocol)
            .with_endpoint(url)
            .with_compression(opentelemetry_otlp::Compression::Gzip)
            .build()
            .unwrap()
    };
    export_run_and_session(
        build_exporter,
        vec![
            KeyValue::new(attr::SPAN_KIND, "run"),
            KeyValue::new(attr::INSTRUMENT_OPERATIONS, 4000),
        ],
        vec![
            KeyValue::new(attr::SPAN_KIND, "session"),
            KeyValue::new(attr::STAGE, "validation"),
            KeyValue::new(attr::GRAPH_EDGE_FEATURE_DIM, 20),
            KeyValue::new(attr::MEMORY_PEAK, 9.5e7),
            KeyValue::new(attr::GRAPH_NODE_FEATURE_DIM, "51"),
        ],
    )
    .await;

    let (run, session) = take_run_and_session(&receiver.sink);
    assert_eq!(run.service_name.as_deref(), Some(SDK_SERVICE));
    assert_eq!(run.kind, Some(SpanKind::Run));
    assert_eq!(run.facts.int(attr::INSTRUMENT_OPERATIONS), Some(4000));
    assert_eq!(session.kind, Some(SpanKind::Session));
    assert_eq!(session.stage, Some(Stage::Validation));
    assert_eq!(session.facts.int(attr::GRAPH_EDGE_FEATURE_DIM), Some(20));
    assert_eq!(session.facts.number(attr::MEMORY_PEAK), Some(9.5e7));
    assert_eq!(session.facts.int(attr::GRAPH_NODE_FEATURE_DIM), None);
    assert_eq!(
        session.facts.attribute_errors,
        vec!["attribute `ironforge.graph.node_feature_dim`: expected int, received string \"51\""]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sdk_http_protobuf_exporter_is_accepted() {
    assert_sdk_export_arrives(opentelemetry_otlp::Protocol::HttpBinary).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sdk_http_json_exporter_is_accepted() {
    assert_sdk_export_arrives(opentelemetry_otlp::Protocol::HttpJson).await;
}
