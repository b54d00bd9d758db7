//! What the OTLP receiver tests share: sinks, request builders and a free loopback port.

#![allow(dead_code)]

use std::sync::Mutex;
use std::time::Duration;

use ironforge_processor::ingest::{Overloaded, SpanSink};
use ironforge_processor::model::SpanRecord;
use ironforge_proto::otlp::common::{AnyValue, ArrayValue, KeyValue, any_value::Value};
use ironforge_proto::otlp::resource::Resource;
use ironforge_proto::otlp::trace::{ResourceSpans, ScopeSpans, Span};
use ironforge_proto::otlp::trace_service::ExportTraceServiceRequest;
use ironforge_proto::semconv::attr;

pub const TRACE_ID: [u8; 16] = [
    0x5b, 0x8e, 0xff, 0xf7, 0x98, 0x03, 0x81, 0x03, 0xd2, 0x69, 0xb6, 0x33, 0x81, 0x3f, 0xc6, 0x0c,
];

/// Collects every batch; while `overloaded` holds a delay, refuses instead.
#[derive(Debug, Default)]
pub struct TestSink {
    spans: Mutex<Vec<SpanRecord>>,
    overloaded: Mutex<Option<Duration>>,
}

impl TestSink {
    pub fn overload(&self, retry_after: Option<Duration>) {
        *self.overloaded.lock().unwrap() = retry_after;
    }

    /// The spans received since the last call.
    pub fn take(&self) -> Vec<SpanRecord> {
        std::mem::take(&mut *self.spans.lock().unwrap())
    }
}

impl SpanSink for TestSink {
    fn submit(&self, spans: Vec<SpanRecord>) -> Result<(), Overloaded> {
        if let Some(retry_after) = *self.overloaded.lock().unwrap() {
            return Err(Overloaded { retry_after });
        }
        self.spans.lock().unwrap().extend(spans);
        Ok(())
    }
}

pub fn kv(key: &str, value: Value) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue { value: Some(value) }),
        ..KeyValue::default()
    }
}

pub fn text(value: &str) -> Value {
    Value::StringValue(value.to_owned())
}

pub fn texts(values: &[&str]) -> Value {
    Value::ArrayValue(ArrayValue {
        values: values
            .iter()
            .map(|value| AnyValue {
                value: Some(text(value)),
            })
            .collect(),
    })
}

/// A valid session span with span id `[id; 8]`.
pub fn session_span(id: u8) -> Span {
    Span {
        trace_id: TRACE_ID.to_vec(),
        span_id: vec![id; 8],
        parent_span_id: vec![0xee; 8],
        name: format!("session-{id}"),
        start_time_unix_nano: 1_700_000_000_000_000_000,
        end_time_unix_nano: 1_700_000_001_500_000_000,
        attributes: vec![
            kv(attr::SPAN_KIND, text("session")),
            kv(attr::STAGE, text("discovery")),
            kv(attr::SESSION_ID, text("NY_AM_2025-08-04")),
            kv(attr::GRAPH_NODE_FEATURE_DIM, Value::IntValue(51)),
            kv(attr::GRAPH_EVENT_TYPES, texts(&["Expansion", "Reversal"])),
        ],
        ..Span::default()
    }
}

pub fn request(spans: Vec<Span>) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![kv(attr::SERVICE_NAME, text("ironforge"))],
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

/// One session span carrying a string attribute of `bytes` bytes: compresses to almost nothing.
pub fn padded_request(bytes: usize) -> ExportTraceServiceRequest {
    let mut span = session_span(9);
    span.attributes
        .push(kv("padding", text(&"a".repeat(bytes))));
    request(vec![span])
}

/// Asserts the sink holds exactly one good session span with id `[id; 8]`, as [`session_span`] built it.
pub fn assert_one_session(sink: &TestSink, id: u8) {
    let spans = sink.take();
    assert_eq!(spans.len(), 1, "{spans:?}");
    let span = &spans[0];
    assert_eq!(span.trace_id.0, TRACE_ID);
    assert_eq!(span.span_id.0, [id; 8]);
    assert_eq!(span.name, format!("session-{id}"));
    assert_eq!(span.service_name.as_deref(), Some("ironforge"));
    assert_eq!(span.facts.node_feature_dim, Some(51));
    assert!(
        span.facts.attribute_errors.is_empty(),
        "{:?}",
        span.facts.attribute_errors
    );
}

pub async fn loopback_listener() -> tokio::net::TcpListener {
    tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap()
}
