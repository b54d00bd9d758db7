//! What the engine tests share: contract files, spans, times, and the events' verdicts and violations.

pub(crate) mod properties;

use std::sync::Arc;
use std::time::{Duration, Instant};

use ironforge_engine::config::ContractFile;
use ironforge_engine::model::{SpanId, SpanRecord, TraceId};
use ironforge_engine::verdict::{TraceVerdict, Violation};
use ironforge_engine::{ContractSet, EngineEvent, Now};
use ironforge_proto::semconv::SpanKind;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value::Value};

pub(crate) const SECOND: u64 = 1_000_000_000;

/// A contract file of the given contracts (YAML list items), with optional `attributes:` and `limits:`.
pub(crate) fn contracts(attributes: &str, limits: &str, items: &str) -> Arc<ContractSet> {
    let text = format!(
        "version: 1\ncompletion: {{ grace_seconds: 1, idle_timeout_seconds: 10 }}\n{attributes}{limits}contracts:\n{items}"
    );
    Arc::new(ContractSet::new(
        ContractFile::parse(&text, "test.yaml").unwrap(),
        None,
    ))
}

pub(crate) fn defaults() -> Arc<ContractSet> {
    Arc::new(ContractSet::new(
        ContractFile::embedded_default().unwrap(),
        None,
    ))
}

pub(crate) fn at(start: Instant, seconds: u64) -> Now {
    Now {
        instant: start + Duration::from_secs(seconds),
        unix_nano: 1_700_000_000 * SECOND + seconds * SECOND,
    }
}

pub(crate) fn span(trace: u8, id: u8, parent: Option<u8>, kind: Option<SpanKind>) -> SpanRecord {
    let mut span = SpanRecord::new(
        TraceId([trace; 16]),
        SpanId([id; 8]),
        kind.map_or("GET /health", |k| k.as_str()),
    );
    span.parent_span_id = parent.map(|p| SpanId([p; 8]));
    span.kind = kind;
    span.start_unix_nano = 1_700_000_000 * SECOND;
    span.end_unix_nano = span.start_unix_nano + SECOND;
    span
}

pub(crate) fn verdicts(events: &[EngineEvent]) -> Vec<&TraceVerdict> {
    events
        .iter()
        .filter_map(|event| match event {
            EngineEvent::Verdict(verdict) => Some(&**verdict),
            _ => None,
        })
        .collect()
}

pub(crate) fn violations(events: &[EngineEvent]) -> Vec<&Violation> {
    events
        .iter()
        .filter_map(|event| match event {
            EngineEvent::Violation(violation) => Some(violation),
            _ => None,
        })
        .collect()
}

pub(crate) fn kv(key: &str, value: Value) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue { value: Some(value) }),
        ..KeyValue::default()
    }
}
