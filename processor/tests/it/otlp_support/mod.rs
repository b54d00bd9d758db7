//! What the OTLP receiver tests share: sinks, request builders and a free loopback port.

pub(crate) mod grpc;
pub(crate) mod http;
pub(crate) mod sdk;

use std::sync::Mutex;
use std::time::Duration;

use ironforge_processor::ingest::{Durable, Overloaded, RequestReport, Reservation, SpanSink};
use ironforge_processor::model::SpanRecord;
use ironforge_processor::otlp::ReceiverLimits;
use ironforge_proto::otlp::common::{AnyValue, ArrayValue, any_value::Value};
use ironforge_proto::otlp::resource::Resource;
use ironforge_proto::otlp::trace::{ResourceSpans, ScopeSpans, Span};
use ironforge_proto::otlp::trace_service::ExportTraceServiceRequest;
use ironforge_proto::semconv::{SpanKind, Stage, attr};
use ironforge_telemetry::{RequestOutcome, Transport};

pub(crate) const TRACE_ID: [u8; 16] = [
    0x5b, 0x8e, 0xff, 0xf7, 0x98, 0x03, 0x81, 0x03, 0xd2, 0x69, 0xb6, 0x33, 0x81, 0x3f, 0xc6, 0x0c,
];

/// Collects every batch, request report and metric point count; while `overloaded` holds a delay, refuses
/// batches instead.
#[derive(Debug, Default)]
pub(crate) struct TestSink {
    spans: Mutex<Vec<SpanRecord>>,
    overloaded: Mutex<Option<Duration>>,
    submit_delay: Mutex<Duration>,
    reports: Mutex<Vec<RequestReport>>,
    metric_points: Mutex<Vec<(Transport, u64)>>,
}

impl TestSink {
    pub(crate) fn overload(&self, retry_after: Option<Duration>) {
        *self.overloaded.lock().unwrap() = retry_after;
    }

    /// Makes each later batch take this long to submit.
    pub(crate) fn slow_down(&self, delay: Duration) {
        *self.submit_delay.lock().unwrap() = delay;
    }

    /// The spans received since the last call.
    pub(crate) fn take(&self) -> Vec<SpanRecord> {
        std::mem::take(&mut *self.spans.lock().unwrap())
    }

    /// The request reports received since the last call.
    pub(crate) fn take_reports(&self) -> Vec<RequestReport> {
        std::mem::take(&mut *self.reports.lock().unwrap())
    }

    /// The metric point counts received since the last call, one per accepted metrics request.
    pub(crate) fn take_metric_points(&self) -> Vec<(Transport, u64)> {
        std::mem::take(&mut *self.metric_points.lock().unwrap())
    }

    /// Asserts that exactly one request was reported since the last call, as given, and returns its report.
    pub(crate) fn assert_report(
        &self,
        transport: Transport,
        outcome: RequestOutcome,
        accepted: u64,
        rejected: u64,
    ) -> RequestReport {
        let reports = self.take_reports();
        let [report] = reports.as_slice() else {
            panic!("expected one report, got {reports:?}");
        };
        assert_eq!(
            (
                report.transport,
                report.outcome,
                report.accepted,
                report.rejected
            ),
            (transport, outcome, accepted, rejected),
            "{report:?}"
        );
        // A loopback request is answered well within this; anything else is a clock read wrong.
        assert!((0.0..10.0).contains(&report.seconds), "{report:?}");
        *report
    }

    /// Asserts that no span arrived and that exactly one request was reported, refused whole as `outcome`.
    pub(crate) fn assert_refused(&self, transport: Transport, outcome: RequestOutcome) {
        assert!(self.take().is_empty());
        self.assert_report(transport, outcome, 0, 0);
    }

    /// Asserts that exactly one request was reported, with one span accepted, `at_least` after it arrived.
    pub(crate) fn assert_one_accepted_after(&self, transport: Transport, at_least: Duration) {
        let report = self.assert_report(transport, RequestOutcome::Ok, 1, 0);
        assert!(report.seconds >= at_least.as_secs_f64(), "{report:?}");
    }
}

impl SpanSink for TestSink {
    fn submit(&self, spans: Vec<SpanRecord>, _: Reservation) -> Result<Durable, Overloaded> {
        std::thread::sleep(*self.submit_delay.lock().unwrap());
        if let Some(retry_after) = *self.overloaded.lock().unwrap() {
            return Err(Overloaded { retry_after });
        }
        self.spans.lock().unwrap().extend(spans);
        Ok(Durable::default())
    }

    fn record_request(&self, report: RequestReport) {
        self.reports.lock().unwrap().push(report);
    }

    fn record_metric_points(&self, transport: Transport, points: u64) {
        self.metric_points.lock().unwrap().push((transport, points));
    }
}

/// A request limit of 64 KiB, so that an oversized request is cheap to build.
pub(crate) fn small_limits() -> ReceiverLimits {
    ReceiverLimits {
        max_request_bytes: 64 * 1024,
    }
}

pub(crate) use crate::e2e_support::kv;

pub(crate) fn text(value: &str) -> Value {
    Value::StringValue(value.to_owned())
}

pub(crate) fn texts(values: &[&str]) -> Value {
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
pub(crate) fn session_span(id: u8) -> Span {
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

pub(crate) fn request(spans: Vec<Span>) -> ExportTraceServiceRequest {
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
pub(crate) fn padded_request(bytes: usize) -> ExportTraceServiceRequest {
    let mut span = session_span(9);
    span.attributes
        .push(kv("padding", text(&"a".repeat(bytes))));
    request(vec![span])
}

/// Asserts the sink holds exactly one good session span with id `[id; 8]`, as [`session_span`] built it.
pub(crate) fn assert_one_session(sink: &TestSink, id: u8) {
    let spans = sink.take();
    assert_eq!(spans.len(), 1, "{spans:?}");
    let span = &spans[0];
    assert_eq!(span.trace_id.0, TRACE_ID);
    assert_eq!(span.span_id.0, [id; 8]);
    assert_eq!(*span.name, *format!("session-{id}"));
    assert_eq!(span.service_name.as_deref(), Some("ironforge"));
    assert_clean_graph_facts(span);
}

/// Asserts `span` decoded as the discovery session NY_AM_2025-08-04 of a 51-feature graph, every attribute
/// of the expected type.
pub(crate) fn assert_discovery_session(span: &SpanRecord) {
    assert_eq!(span.kind, Some(SpanKind::Session));
    assert_eq!(span.stage, Some(Stage::Discovery));
    assert_eq!(span.session_id.as_deref(), Some("NY_AM_2025-08-04"));
    assert_clean_graph_facts(span);
}

/// Asserts the 51-feature graph of a session decoded, and every attribute with it.
fn assert_clean_graph_facts(span: &SpanRecord) {
    assert_eq!(span.facts.int(attr::GRAPH_NODE_FEATURE_DIM), Some(51));
    assert!(
        span.facts.attribute_errors.is_empty(),
        "{:?}",
        span.facts.attribute_errors
    );
}

pub(crate) async fn loopback_listener() -> tokio::net::TcpListener {
    tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap()
}
