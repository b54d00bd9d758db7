//! IRONFORGE runs as OTLP spans, and the export requests that carry them.
//!
//! A run is one trace: the `run` root, an `init` span, the four `stage` spans and, under each stage, one
//! `session` span per session (and optionally `pattern` spans under each session). Spans are listed in the
//! order they end, which is the order an SDK's batch processor queues them, so the root comes last.
//!
//! Every span is encoded once, up front. A request is then the spans of consecutive traces, packed across
//! trace boundaries like a batch span processor packs them, framed by hand around the pre-encoded bytes with
//! each trace's id written over the template's: building one costs a copy, not an encode.

use std::ops::Range;
use std::time::{SystemTime, UNIX_EPOCH};

use ironforge_proto::otlp::common::{
    AnyValue, ArrayValue, InstrumentationScope, KeyValue, any_value::Value,
};
use ironforge_proto::otlp::resource::Resource;
use ironforge_proto::otlp::trace::{Span, span::SpanKind as OtlpSpanKind};
use ironforge_proto::semconv::{EdgeIntent, EventType, SpanKind, Stage, attr};
use prost::Message;
use prost::encoding::{WireType, encode_key, encode_varint, encoded_len_varint, key_len};

/// Sessions one run is given, as IRONFORGE processes them.
pub const SESSION_COUNT: usize = 57;

/// Distinct trace templates; traces cycle through them so the slow sessions of `--violations` move around.
const VARIANTS: u64 = 16;

const NANOS_PER_SEC: u64 = 1_000_000_000;
const MIB: i64 = 1024 * 1024;

// Field numbers of the OTLP messages framed by hand (opentelemetry/proto/collector/trace/v1 and trace/v1).
const REQUEST_RESOURCE_SPANS: u32 = 1;
const RESOURCE_SPANS_RESOURCE: u32 = 1;
const RESOURCE_SPANS_SCOPE_SPANS: u32 = 2;
const SCOPE_SPANS_SCOPE: u32 = 1;
const SCOPE_SPANS_SPANS: u32 = 2;
const SPAN_TRACE_ID: u32 = 1;

/// Session kinds in IRONFORGE's naming; with a date they make a session id such as `NY_AM_2025-08-04`.
const SESSION_KINDS: [&str; 7] = [
    "ASIA",
    "LONDON",
    "LUNCH",
    "MIDNIGHT",
    "NY_AM",
    "NY_PM",
    "PREMARKET",
];

/// What each trace looks like.
#[derive(Debug, Clone, PartialEq)]
pub struct ShapeOptions {
    /// `pattern` spans under each session span.
    pub patterns_per_session: u32,
    /// Share of session spans (0 to 1) that take longer than the 3 s session contract allows.
    pub slow_session_share: f64,
    /// `service.name` of the resource.
    pub service_name: String,
}

impl Default for ShapeOptions {
    fn default() -> Self {
        Self {
            patterns_per_session: 0,
            slow_session_share: 0.0,
            service_name: "ironforge-pipeline".to_owned(),
        }
    }
}

impl ShapeOptions {
    /// Spans in one trace: run, init, 4 stages, and per stage 57 sessions with their patterns.
    pub fn spans_per_trace(&self) -> u64 {
        let per_session = 1 + u64::from(self.patterns_per_session);
        2 + Stage::ALL.len() as u64 * (1 + SESSION_COUNT as u64 * per_session)
    }
}

/// Error building the trace templates.
#[derive(Debug, thiserror::Error)]
pub enum ShapeError {
    #[error("the slow-session share must lie in 0..=1, not {0}")]
    SlowShare(f64),
    #[error("an encoded span does not start with its trace id")]
    TraceIdNotFound,
}

/// One span, encoded, and where its trace id lies in the encoding.
#[derive(Debug)]
struct EncodedSpan {
    bytes: Vec<u8>,
    trace_id_at: usize,
}

/// Every span of every trace variant, pre-encoded, and the framing shared by all requests.
#[derive(Debug)]
pub struct TraceSet {
    variants: Vec<Vec<EncodedSpan>>,
    spans_per_trace: u64,
    /// `resource` field of the one `ResourceSpans`, key and length included.
    resource_field: Vec<u8>,
    /// `scope` field of the one `ScopeSpans`, key and length included.
    scope_field: Vec<u8>,
    /// First half of every trace id: tells apart the traces of two load runs against one receiver.
    run_nonce: [u8; 8],
}

impl TraceSet {
    /// Encodes the trace variants, timed as if the runs had just finished.
    pub fn new(options: &ShapeOptions) -> Result<Self, ShapeError> {
        if !(0.0..=1.0).contains(&options.slow_session_share) {
            return Err(ShapeError::SlowShare(options.slow_session_share));
        }
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| since.as_nanos() as u64);
        let mut nonce = SplitMix(now ^ u64::from(std::process::id()).rotate_left(32));
        let run_nonce = nonce.next().to_be_bytes();
        let placeholder = trace_id(run_nonce, 0);
        let variants = (0..VARIANTS)
            .map(|variant| {
                trace_spans(options, variant, now, placeholder)
                    .iter()
                    .map(|span| encode_span(span, &placeholder))
                    .collect::<Result<Vec<_>, _>>()
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut resource_field = Vec::new();
        prost::encoding::message::encode(
            RESOURCE_SPANS_RESOURCE,
            &resource(&options.service_name),
            &mut resource_field,
        );
        let mut scope_field = Vec::new();
        prost::encoding::message::encode(SCOPE_SPANS_SCOPE, &scope(), &mut scope_field);
        Ok(Self {
            variants,
            spans_per_trace: options.spans_per_trace(),
            resource_field,
            scope_field,
            run_nonce,
        })
    }

    /// Spans in each trace.
    pub fn spans_per_trace(&self) -> u64 {
        self.spans_per_trace
    }

    /// The id of the `trace`-th trace of this set.
    pub fn trace_id(&self, trace: u64) -> [u8; 16] {
        trace_id(self.run_nonce, trace)
    }

    /// An encoded `ExportTraceServiceRequest` holding the spans `spans` of the endless sequence of traces
    /// (span `g` is span `g % spans_per_trace` of trace `g / spans_per_trace`).
    pub fn encode_request(&self, spans: Range<u64>) -> Vec<u8> {
        let spans_len: usize = spans
            .clone()
            .map(|global| field_len(SCOPE_SPANS_SPANS, self.span(global).bytes.len()))
            .sum();
        let scope_spans_len = self.scope_field.len() + spans_len;
        let resource_spans_len =
            self.resource_field.len() + field_len(RESOURCE_SPANS_SCOPE_SPANS, scope_spans_len);
        let mut buf = Vec::with_capacity(field_len(REQUEST_RESOURCE_SPANS, resource_spans_len));
        open_field(REQUEST_RESOURCE_SPANS, resource_spans_len, &mut buf);
        buf.extend_from_slice(&self.resource_field);
        open_field(RESOURCE_SPANS_SCOPE_SPANS, scope_spans_len, &mut buf);
        buf.extend_from_slice(&self.scope_field);
        for global in spans {
            let span = self.span(global);
            open_field(SCOPE_SPANS_SPANS, span.bytes.len(), &mut buf);
            let start = buf.len() + span.trace_id_at;
            buf.extend_from_slice(&span.bytes);
            let id = self.trace_id(global / self.spans_per_trace);
            buf[start..start + id.len()].copy_from_slice(&id);
        }
        buf
    }

    fn span(&self, global: u64) -> &EncodedSpan {
        let trace = global / self.spans_per_trace;
        let variant = &self.variants[(trace % VARIANTS) as usize];
        &variant[(global % self.spans_per_trace) as usize]
    }
}

/// Bytes a length-delimited field of `len` bytes takes, key and length included.
fn field_len(tag: u32, len: usize) -> usize {
    key_len(tag) + encoded_len_varint(len as u64) + len
}

fn open_field(tag: u32, len: usize, buf: &mut Vec<u8>) {
    encode_key(tag, WireType::LengthDelimited, buf);
    encode_varint(len as u64, buf);
}

fn trace_id(run_nonce: [u8; 8], trace: u64) -> [u8; 16] {
    let mut id = [0; 16];
    id[..8].copy_from_slice(&run_nonce);
    id[8..].copy_from_slice(&trace.to_be_bytes());
    id
}

/// Encodes `span` and finds its trace id field, which prost writes first as the lowest field number.
fn encode_span(span: &Span, trace_id: &[u8; 16]) -> Result<EncodedSpan, ShapeError> {
    let bytes = span.encode_to_vec();
    let mut field = Vec::with_capacity(field_len(SPAN_TRACE_ID, trace_id.len()));
    open_field(SPAN_TRACE_ID, trace_id.len(), &mut field);
    field.extend_from_slice(trace_id);
    if !bytes.starts_with(&field) {
        return Err(ShapeError::TraceIdNotFound);
    }
    Ok(EncodedSpan {
        bytes,
        trace_id_at: field.len() - trace_id.len(),
    })
}

fn resource(service_name: &str) -> Resource {
    Resource {
        attributes: vec![
            string(attr::SERVICE_NAME, service_name),
            // What an OpenTelemetry SDK adds to every resource.
            string("telemetry.sdk.name", "opentelemetry"),
            string("telemetry.sdk.language", "rust"),
            string("telemetry.sdk.version", "0.33.0"),
        ],
        ..Resource::default()
    }
}

fn scope() -> InstrumentationScope {
    InstrumentationScope {
        name: "ironforge".to_owned(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        ..InstrumentationScope::default()
    }
}

/// The id of the `index`-th session of a run, unique within the run.
pub fn session_id(index: usize) -> String {
    let kind = SESSION_KINDS[index % SESSION_KINDS.len()];
    format!("{kind}_2025-08-{:02}", 1 + index / SESSION_KINDS.len())
}

/// Builds the spans of one trace, in the order they end.
fn trace_spans(options: &ShapeOptions, variant: u64, now_nanos: u64, id: [u8; 16]) -> Vec<Span> {
    let mut tree = TraceBuilder {
        id,
        spans: Vec::with_capacity(options.spans_per_trace() as usize),
        span_ids: 0,
        random: SplitMix(variant.wrapping_add(1)),
    };
    let run_id = tree.next_span_id();
    let init = secs(0.3);
    let mut clock = init + secs(0.01);
    let init_id = tree.next_span_id();
    tree.push(
        Span {
            span_id: init_id,
            parent_span_id: run_id.clone(),
            name: "init".to_owned(),
            start_time_unix_nano: 0,
            end_time_unix_nano: init,
            ..Span::default()
        },
        vec![kind(SpanKind::Init), memory_usage(40 * MIB)],
    );
    let mut operations = 0;
    for stage in Stage::ALL {
        let stage_id = tree.next_span_id();
        let stage_start = clock;
        for index in 0..SESSION_COUNT {
            clock = tree.session(options, &stage_id, *stage, index, clock);
            operations += 1 + i64::from(options.patterns_per_session);
        }
        tree.push(
            Span {
                span_id: stage_id,
                parent_span_id: run_id.clone(),
                name: stage.as_str().to_owned(),
                start_time_unix_nano: stage_start,
                end_time_unix_nano: clock,
                ..Span::default()
            },
            vec![
                kind(SpanKind::Stage),
                string(attr::STAGE, stage.as_str()),
                memory_usage(64 * MIB),
                int(attr::MEMORY_PEAK, 72 * MIB),
            ],
        );
        clock += secs(0.01);
        operations += 1;
    }
    tree.push(
        Span {
            span_id: run_id,
            name: "run".to_owned(),
            start_time_unix_nano: 0,
            end_time_unix_nano: clock,
            ..Span::default()
        },
        vec![
            kind(SpanKind::Run),
            int(attr::RUN_SESSION_COUNT, SESSION_COUNT as i64),
            // 20 µs per operation, well under the 1 ms the instrumentation is allowed.
            double(attr::INSTRUMENT_OVERHEAD, operations as f64 * 20e-6),
            int(attr::INSTRUMENT_OPERATIONS, operations),
            memory_usage(64 * MIB),
            int(attr::MEMORY_PEAK, 80 * MIB),
        ],
    );
    // The runs ended a moment ago: shift the relative times onto the clock.
    let start = now_nanos.saturating_sub(clock + secs(1.0));
    for span in &mut tree.spans {
        span.start_time_unix_nano += start;
        span.end_time_unix_nano += start;
    }
    tree.spans
}

struct TraceBuilder {
    id: [u8; 16],
    spans: Vec<Span>,
    span_ids: u64,
    random: SplitMix,
}

impl TraceBuilder {
    /// Span ids number the spans of a trace in the order they start; only the trace id differs between
    /// traces.
    fn next_span_id(&mut self) -> Vec<u8> {
        self.span_ids += 1;
        (0x1000_0000_0000_0000 + self.span_ids)
            .to_be_bytes()
            .to_vec()
    }

    fn push(&mut self, mut span: Span, attributes: Vec<KeyValue>) {
        span.trace_id = self.id.to_vec();
        span.kind = OtlpSpanKind::Internal as i32;
        span.attributes = attributes;
        span.attributes.extend(sdk_attributes(&span.name));
        self.spans.push(span);
    }

    /// Pushes one session span (and its patterns) starting at `start`; returns when it ends.
    fn session(
        &mut self,
        options: &ShapeOptions,
        stage_id: &[u8],
        stage: Stage,
        index: usize,
        start: u64,
    ) -> u64 {
        let slow = self.random.unit() < options.slow_session_share;
        let seconds = if slow {
            3.5 + self.random.unit()
        } else {
            0.3 + 0.2 * self.random.unit()
        };
        let end = start + secs(seconds);
        let span_id = self.next_span_id();
        let patterns = u64::from(options.patterns_per_session);
        for pattern in 0..patterns {
            let slot = (end - start) / (patterns + 1);
            let pattern_start = start + slot * pattern;
            let pattern_id = self.next_span_id();
            let authenticity = self.authenticity();
            self.push(
                Span {
                    span_id: pattern_id,
                    parent_span_id: span_id.clone(),
                    name: "score_pattern".to_owned(),
                    start_time_unix_nano: pattern_start,
                    end_time_unix_nano: pattern_start + slot / 2,
                    ..Span::default()
                },
                vec![
                    kind(SpanKind::Pattern),
                    double(attr::PATTERN_AUTHENTICITY, authenticity),
                ],
            );
        }
        let memory = 48 * MIB + (self.random.unit() * 16.0) as i64 * MIB;
        let attributes = vec![
            kind(SpanKind::Session),
            string(attr::STAGE, stage.as_str()),
            string(attr::SESSION_ID, &session_id(index)),
            double(attr::PATTERN_AUTHENTICITY, self.authenticity()),
            memory_usage(memory),
            int(attr::MEMORY_PEAK, memory + 8 * MIB),
            strings(
                attr::GRAPH_EVENT_TYPES,
                EventType::ALL.iter().map(|event| event.as_str()),
            ),
            strings(
                attr::GRAPH_EDGE_INTENTS,
                EdgeIntent::ALL.iter().map(|intent| intent.as_str()),
            ),
            int(attr::GRAPH_NODE_FEATURE_DIM, 51),
            int(attr::GRAPH_EDGE_FEATURE_DIM, 20),
            int(attr::GRAPH_CROSS_SESSION_EDGES, 0),
            int(attr::HTF_OPEN_CANDLE_READS, 0),
        ];
        self.push(
            Span {
                span_id,
                parent_span_id: stage_id.to_vec(),
                name: "process_session".to_owned(),
                start_time_unix_nano: start,
                end_time_unix_nano: end,
                ..Span::default()
            },
            attributes,
        );
        end + secs(0.002)
    }

    fn authenticity(&mut self) -> f64 {
        0.90 + 0.08 * self.random.unit()
    }
}

/// Attributes no contract reads, as an instrumented program's spans carry them.
fn sdk_attributes(function: &str) -> [KeyValue; 3] {
    [
        string("code.function", function),
        string("thread.name", "ironforge-worker"),
        int("thread.id", 7),
    ]
}

fn secs(seconds: f64) -> u64 {
    (seconds * NANOS_PER_SEC as f64) as u64
}

fn kind(kind: SpanKind) -> KeyValue {
    string(attr::SPAN_KIND, kind.as_str())
}

fn memory_usage(bytes: i64) -> KeyValue {
    int(attr::PROCESS_MEMORY_USAGE, bytes)
}

fn key_value(key: &str, value: Value) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue { value: Some(value) }),
        ..KeyValue::default()
    }
}

fn string(key: &str, value: &str) -> KeyValue {
    key_value(key, Value::StringValue(value.to_owned()))
}

fn int(key: &str, value: i64) -> KeyValue {
    key_value(key, Value::IntValue(value))
}

fn double(key: &str, value: f64) -> KeyValue {
    key_value(key, Value::DoubleValue(value))
}

fn strings<'a>(key: &str, values: impl Iterator<Item = &'a str>) -> KeyValue {
    let values = values
        .map(|value| AnyValue {
            value: Some(Value::StringValue(value.to_owned())),
        })
        .collect();
    key_value(key, Value::ArrayValue(ArrayValue { values }))
}

/// A small deterministic generator: the same variant always has the same slow sessions and scores.
#[derive(Debug)]
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..1`.
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::collections::{BTreeMap, BTreeSet};

    use ironforge_proto::otlp::trace_service::ExportTraceServiceRequest;

    use super::*;

    fn decode(set: &TraceSet, spans: Range<u64>) -> Vec<Span> {
        let request =
            ExportTraceServiceRequest::decode(set.encode_request(spans).as_slice()).unwrap();
        assert_eq!(request.resource_spans.len(), 1);
        let resource = &request.resource_spans[0];
        let service = &resource.resource.as_ref().unwrap().attributes[0];
        assert_eq!(service.key, attr::SERVICE_NAME);
        assert_eq!(resource.scope_spans.len(), 1);
        resource.scope_spans[0].spans.clone()
    }

    fn text(span: &Span, key: &str) -> Option<String> {
        span.attributes
            .iter()
            .find(|kv| kv.key == key)
            .and_then(|kv| match kv.value.as_ref()?.value.as_ref()? {
                Value::StringValue(text) => Some(text.clone()),
                _ => None,
            })
    }

    fn of_kind(spans: &[Span], kind: SpanKind) -> Vec<&Span> {
        spans
            .iter()
            .filter(|span| text(span, attr::SPAN_KIND).as_deref() == Some(kind.as_str()))
            .collect()
    }

    #[test]
    fn a_trace_is_a_run_of_57_sessions_through_four_stages() {
        let set = TraceSet::new(&ShapeOptions::default()).unwrap();
        assert_eq!(set.spans_per_trace(), 234);
        let spans = decode(&set, 0..234);
        assert_eq!(spans.len(), 234);
        assert!(spans.iter().all(|span| span.trace_id == set.trace_id(0)));
        let ids: BTreeSet<_> = spans.iter().map(|span| span.span_id.clone()).collect();
        assert_eq!(ids.len(), 234, "span ids are unique within the trace");

        let root = spans.last().unwrap();
        assert_eq!(text(root, attr::SPAN_KIND).as_deref(), Some("run"));
        assert!(root.parent_span_id.is_empty());
        let mut kinds = BTreeMap::new();
        let mut sessions: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for span in &spans {
            *kinds
                .entry(text(span, attr::SPAN_KIND).unwrap())
                .or_insert(0) += 1;
            assert!(span.end_time_unix_nano > span.start_time_unix_nano);
            if let Some(session) = text(span, attr::SESSION_ID) {
                let stage = text(span, attr::STAGE).unwrap();
                sessions.entry(stage).or_default().insert(session);
                assert!(span.end_time_unix_nano - span.start_time_unix_nano < secs(3.0));
            } else if span.span_id != root.span_id {
                assert_eq!(span.parent_span_id, root.span_id);
            }
        }
        let expected: BTreeMap<_, _> = [("init", 1), ("run", 1), ("session", 228), ("stage", 4)]
            .into_iter()
            .map(|(kind, count)| (kind.to_owned(), count))
            .collect();
        assert_eq!(kinds, expected);
        assert_eq!(sessions.len(), 4);
        assert!(sessions.values().all(|ids| ids.len() == SESSION_COUNT));
        assert!(root.end_time_unix_nano - root.start_time_unix_nano < secs(180.0));
    }

    #[test]
    fn requests_pack_consecutive_traces_each_with_its_own_id() {
        let options = ShapeOptions {
            patterns_per_session: 2,
            ..ShapeOptions::default()
        };
        let set = TraceSet::new(&options).unwrap();
        assert_eq!(set.spans_per_trace(), 2 + 4 * (1 + 57 * 3));
        let per_trace = set.spans_per_trace();
        let spans = decode(&set, per_trace - 10..2 * per_trace + 5);
        assert_eq!(spans.len() as u64, per_trace + 15);
        let whole = 10..10 + per_trace as usize;
        for (trace, range) in [
            (0, 0..whole.start),
            (1, whole.clone()),
            (2, whole.end..spans.len()),
        ] {
            assert!(
                spans[range]
                    .iter()
                    .all(|span| span.trace_id == set.trace_id(trace))
            );
        }
        let patterns = of_kind(&spans[whole], SpanKind::Pattern).len();
        assert_eq!(patterns, 57 * 4 * 2);
    }

    #[test]
    fn a_share_of_sessions_can_be_made_slow() {
        let options = ShapeOptions {
            slow_session_share: 0.25,
            ..ShapeOptions::default()
        };
        let set = TraceSet::new(&options).unwrap();
        let spans = decode(&set, 0..set.spans_per_trace() * VARIANTS);
        let sessions = of_kind(&spans, SpanKind::Session);
        let slow = sessions
            .iter()
            .filter(|span| span.end_time_unix_nano - span.start_time_unix_nano > secs(3.0))
            .count();
        let share = slow as f64 / sessions.len() as f64;
        assert!((0.2..0.3).contains(&share), "slow share {share}");
        assert!(
            TraceSet::new(&ShapeOptions {
                slow_session_share: 1.5,
                ..ShapeOptions::default()
            })
            .is_err()
        );
    }
}
