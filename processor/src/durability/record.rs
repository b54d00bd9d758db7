//! What the log holds: batches of accepted spans in the segments; decisions in each shard's decision file.

use crate::model::{SpanId, SpanRecord, TraceId};
use crate::verdict::{TraceVerdict, Violation};

use super::codec::{Reader, put_span, put_str, put_u8, put_u32};

const SPANS: u8 = 1;
const VERDICT: u8 = 2;
const EMITTED: u8 = 3;
const DECIDED: u8 = 4;

/// A violation as the exactly-once rule knows it: one per trace, contract and span (none for a
/// trace-scoped contract).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ViolationKey {
    pub trace_id: TraceId,
    pub contract_id: String,
    pub span_id: Option<SpanId>,
}

impl ViolationKey {
    pub fn of(violation: &Violation) -> Self {
        Self {
            trace_id: violation.trace_id,
            contract_id: violation.contract_id.clone(),
            span_id: violation.span_id,
        }
    }
}

/// One record of the log.
#[derive(Debug)]
pub enum Record {
    /// Spans accepted together for one shard, in the order they were accepted.
    Spans(Vec<SpanRecord>),
    /// A trace was decided (or its verdict revised; the last record wins).
    Verdict(Box<TraceVerdict>),
    /// A violation was handed to the outputs.
    Emitted(ViolationKey),
    /// A trace left the engine whose verdict is no longer kept, but whose spans are still in the log.
    Decided(TraceId),
}

pub fn put_spans(out: &mut Vec<u8>, spans: &[SpanRecord]) {
    put_u8(out, SPANS);
    put_u32(out, u32::try_from(spans.len()).unwrap_or(u32::MAX));
    for span in spans {
        put_span(out, span);
    }
}

/// Verdicts are rare next to spans and change shape with the engine: they are kept as their API JSON.
pub fn put_verdict(out: &mut Vec<u8>, verdict: &TraceVerdict) -> Result<(), serde_json::Error> {
    put_u8(out, VERDICT);
    serde_json::to_writer(&mut *out, verdict)
}

pub fn put_emitted(out: &mut Vec<u8>, key: &ViolationKey) {
    put_u8(out, EMITTED);
    out.extend_from_slice(&key.trace_id.0);
    out.extend_from_slice(&key.span_id.map_or([0; 8], |id| id.0));
    put_str(out, &key.contract_id);
}

pub fn put_decided(out: &mut Vec<u8>, trace_id: &TraceId) {
    put_u8(out, DECIDED);
    out.extend_from_slice(&trace_id.0);
}

/// Reads one record; `None` when it is not one this log writes.
pub fn read(payload: &[u8]) -> Option<Record> {
    let (&tag, body) = payload.split_first()?;
    let mut reader = Reader::new(body);
    match tag {
        SPANS => {
            let count = reader.u32()? as usize;
            // Each span takes at least its ids: a corrupt count never allocates past the payload.
            let mut spans = Vec::with_capacity(count.min(body.len() / 32));
            for _ in 0..count {
                spans.push(reader.span()?);
            }
            Some(Record::Spans(spans))
        }
        VERDICT => serde_json::from_slice(body)
            .ok()
            .map(|verdict| Record::Verdict(Box::new(verdict))),
        EMITTED => {
            let trace_id = reader.trace_id()?;
            let span_id = reader.span_id()?;
            let contract_id = reader.str()?.to_owned();
            Some(Record::Emitted(ViolationKey {
                trace_id,
                contract_id,
                span_id,
            }))
        }
        DECIDED => reader.trace_id().map(Record::Decided),
        _ => None,
    }
}
