//! The wire decoder against a full prost decode of the same OTLP request: 512 IRONFORGE session spans of
//! 11 attributes each (6 read by the contracts, 5 not), under a resource of 4 attributes.
//!
//! Run with `cargo bench -p ironforge-engine --bench wire`; throughput is in spans per second. Times are
//! the bench thread's CPU time on Linux, so that other work on the machine does not inflate them, and
//! wall-clock time elsewhere.

// A bench that cannot set up has nothing to report: it stops loudly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ironforge_engine::wire::{KeySelector, SpanVisitor, WireSpan, WireValue, decode_trace_request};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, InstrumentationScope, KeyValue, any_value::Value,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};
use prost::Message;

const SPANS: usize = 512;

/// The keys the contracts read, as a read plan would hold them.
const READ: [&str; 7] = [
    "service.name",
    "ironforge.span.kind",
    "ironforge.stage",
    "ironforge.session.id",
    "ironforge.pattern.authenticity",
    "ironforge.graph.event_types",
    "ironforge.graph.node_feature_dim",
];

/// A read plan's selector: a linear scan, which beats hashing for a few dozen keys.
struct Plan(&'static [&'static str]);

impl KeySelector for Plan {
    fn slot(&self, key: &[u8]) -> Option<u16> {
        let index = self.0.iter().position(|k| k.as_bytes() == key)?;
        u16::try_from(index).ok()
    }
}

fn attribute(key: &str, value: Value) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(value) }),
        key_strindex: 0,
    }
}

fn string(s: &str) -> Value {
    Value::StringValue(s.into())
}

fn request() -> ExportTraceServiceRequest {
    let event_types = [
        "fvg",
        "sweep",
        "expansion",
        "consolidation",
        "retracement",
        "reversal",
    ];
    let spans = (0..SPANS)
        .map(|i| Span {
            trace_id: vec![0x9d; 16],
            span_id: (i as u64 + 1).to_be_bytes().to_vec(),
            parent_span_id: vec![0x01; 8],
            name: "session".into(),
            kind: 1,
            flags: 0x101,
            start_time_unix_nano: 1_753_700_000_000_000_000 + i as u64 * 1_000_000,
            end_time_unix_nano: 1_753_700_000_000_000_000 + i as u64 * 1_000_000 + 850_000,
            attributes: vec![
                attribute("ironforge.span.kind", string("session")),
                attribute("ironforge.stage", string("discovery")),
                attribute(
                    "ironforge.session.id",
                    string(&format!("NY_AM_2025-07-{:02}", i % 28 + 1)),
                ),
                attribute("ironforge.pattern.authenticity", Value::DoubleValue(0.91)),
                attribute(
                    "ironforge.graph.event_types",
                    Value::ArrayValue(ArrayValue {
                        values: event_types
                            .iter()
                            .map(|t| AnyValue {
                                value: Some(string(t)),
                            })
                            .collect(),
                    }),
                ),
                attribute("ironforge.graph.node_feature_dim", Value::IntValue(51)),
                attribute("code.filepath", string("ironforge/learning/discovery.py")),
                attribute("code.lineno", Value::IntValue(412)),
                attribute("code.namespace", string("ironforge.learning.discovery")),
                attribute("thread.id", Value::IntValue(7)),
                attribute("busy_ns", Value::IntValue(812_345)),
            ],
            status: Some(Status {
                message: String::new(),
                code: 1,
            }),
            ..Default::default()
        })
        .collect();
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![
                    attribute("service.name", string("ironforge")),
                    attribute("telemetry.sdk.name", string("opentelemetry")),
                    attribute("telemetry.sdk.language", string("rust")),
                    attribute("telemetry.sdk.version", string("0.33.0")),
                ],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: "ironforge-instrument".into(),
                    version: "0.1.0".into(),
                    ..Default::default()
                }),
                spans,
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }],
    }
}

/// Touches what a receiver would use, so that nothing is optimized away.
#[derive(Default)]
struct Count {
    spans: usize,
    attributes: usize,
}

impl<'a> SpanVisitor<'a> for Count {
    fn resource(&mut self, attributes: &[(u16, WireValue<'a>)]) {
        self.attributes += attributes.len();
    }
    fn span(&mut self, span: &WireSpan<'a>, attributes: &[(u16, WireValue<'a>)]) {
        black_box(span);
        self.spans += 1;
        self.attributes += attributes.len();
    }
}

/// The CPU time of the calling thread: unlike wall time, it leaves out the time the thread waits while
/// other processes hold the machine.
#[cfg(target_os = "linux")]
fn thread_cpu_time() -> Option<Duration> {
    nix::time::clock_gettime(nix::time::ClockId::CLOCK_THREAD_CPUTIME_ID)
        .ok()
        .map(Duration::from)
}

#[cfg(not(target_os = "linux"))]
fn thread_cpu_time() -> Option<Duration> {
    None
}

/// Times `iters` runs of `routine` in thread CPU time, or in wall-clock time without it.
fn cpu_time<O>(iters: u64, mut routine: impl FnMut() -> O) -> Duration {
    let (cpu, wall) = (thread_cpu_time(), Instant::now());
    for _ in 0..iters {
        black_box(routine());
    }
    match (cpu, thread_cpu_time()) {
        (Some(start), Some(end)) => end.saturating_sub(start),
        _ => wall.elapsed(),
    }
}

fn bench(c: &mut Criterion) {
    let bytes = request().encode_to_vec();
    let plan = Plan(&READ);

    let mut count = Count::default();
    decode_trace_request(&bytes, &plan, &mut count).unwrap();
    assert_eq!((count.spans, count.attributes), (SPANS, 1 + SPANS * 6));
    println!(
        "request: {} bytes, {SPANS} spans, 11 attributes per span (6 read)",
        bytes.len()
    );

    let mut group = c.benchmark_group("wire");
    group.throughput(Throughput::Elements(SPANS as u64));
    group.bench_function("decode_trace_request", |b| {
        b.iter_custom(|iters| {
            cpu_time(iters, || {
                let mut count = Count::default();
                decode_trace_request(black_box(&bytes), &plan, &mut count).unwrap();
                count.attributes
            })
        })
    });
    group.bench_function("prost_decode", |b| {
        b.iter_custom(|iters| {
            cpu_time(iters, || {
                ExportTraceServiceRequest::decode(black_box(bytes.as_slice())).unwrap()
            })
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
