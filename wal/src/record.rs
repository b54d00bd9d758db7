//! What the log holds: batches of accepted spans in the segments; decisions in each shard's decision file.

use ironforge_engine::model::{SpanId, SpanRecord, TraceId};
use ironforge_engine::verdict::{TraceVerdict, Violation};

use crate::codec::{Reader, put_tabled_spans, put_u8, put_u64};

/// Spans with their fact keys spelled out in each; still read, no longer written.
const SPANS: u8 = 1;
const VERDICT: u8 = 2;
/// An emitted violation with its contract id spelled out; still read, no longer written.
const EMITTED: u8 = 3;
const DECIDED: u8 = 4;
const EMITTED_FINGERPRINT: u8 = 5;
const TABLED_SPANS: u8 = 6;

/// A violation as the emitted-once rule knows it: one per trace, contract and span (none for a
/// trace-scoped contract), the contract and span folded into a 64-bit fingerprint. A trace in flight may
/// raise thousands of violations, each remembered until its verdict; 24 bytes each instead of a copy of the
/// contract id keeps that within reach. Two of one trace's violations share a fingerprint with odds of
/// about one in 10^13 at a thousand violations, and then the second is taken as already emitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ViolationKey {
    pub trace_id: TraceId,
    pub fingerprint: u64,
}

impl ViolationKey {
    /// The key of an emitted violation.
    pub fn of(violation: &Violation) -> Self {
        Self::new(
            violation.trace_id,
            &violation.contract_id,
            violation.span_id,
        )
    }

    fn new(trace_id: TraceId, contract_id: &str, span_id: Option<SpanId>) -> Self {
        Self {
            trace_id,
            fingerprint: fingerprint(contract_id, span_id),
        }
    }
}

/// FNV-1a over the contract id and the span id: stable across builds and versions, so a log written by one
/// is read alike by the next.
fn fingerprint(contract_id: &str, span_id: Option<SpanId>) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0100_0000_01b3;
    let span = span_id.map_or([0; 8], |id| id.0);
    contract_id
        .bytes()
        .chain([0xff])
        .chain(span)
        .fold(OFFSET, |hash, byte| {
            (hash ^ u64::from(byte)).wrapping_mul(PRIME)
        })
}

/// One record of the log.
#[derive(Debug)]
pub(crate) enum Record {
    /// Spans accepted together for one shard, in the order they were accepted.
    Spans(Vec<SpanRecord>),
    /// A trace was decided (or its verdict revised; the last record wins).
    Verdict(Box<TraceVerdict>),
    /// A violation was handed to the outputs.
    Emitted(ViolationKey),
    /// A trace left the engine whose verdict is no longer kept, but whose spans are still in the log.
    Decided(TraceId),
}

pub(crate) fn put_spans(out: &mut Vec<u8>, spans: &[SpanRecord]) {
    put_u8(out, TABLED_SPANS);
    put_tabled_spans(out, spans);
}

/// Verdicts are rare next to spans and change shape with the engine: they are kept as their API JSON.
pub(crate) fn put_verdict(
    out: &mut Vec<u8>,
    verdict: &TraceVerdict,
) -> Result<(), serde_json::Error> {
    put_u8(out, VERDICT);
    serde_json::to_writer(&mut *out, verdict)
}

pub(crate) fn put_emitted(out: &mut Vec<u8>, key: &ViolationKey) {
    put_u8(out, EMITTED_FINGERPRINT);
    out.extend_from_slice(&key.trace_id.0);
    put_u64(out, key.fingerprint);
}

pub(crate) fn put_decided(out: &mut Vec<u8>, trace_id: &TraceId) {
    put_u8(out, DECIDED);
    out.extend_from_slice(&trace_id.0);
}

/// Reads one record; `None` when it is not one this log writes.
pub(crate) fn read(payload: &[u8]) -> Option<Record> {
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
        TABLED_SPANS => reader.tabled_spans().map(Record::Spans),
        VERDICT => serde_json::from_slice(body)
            .ok()
            .map(|verdict| Record::Verdict(Box::new(verdict))),
        EMITTED => {
            let trace_id = reader.trace_id()?;
            let span_id = reader.span_id()?;
            let contract_id = reader.str()?;
            Some(Record::Emitted(ViolationKey::new(
                trace_id,
                contract_id,
                span_id,
            )))
        }
        EMITTED_FINGERPRINT => {
            let trace_id = reader.trace_id()?;
            let fingerprint = reader.u64()?;
            Some(Record::Emitted(ViolationKey {
                trace_id,
                fingerprint,
            }))
        }
        DECIDED => reader.trace_id().map(Record::Decided),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_emitted_violation_of_the_old_form_reads_as_the_new() {
        let trace_id = TraceId([3; 16]);
        let span_id = Some(SpanId([4; 8]));
        let mut old = vec![EMITTED];
        old.extend_from_slice(&trace_id.0);
        old.extend_from_slice(&[4; 8]);
        crate::codec::put_str(&mut old, "session_duration");
        let mut new = Vec::new();
        put_emitted(
            &mut new,
            &ViolationKey::new(trace_id, "session_duration", span_id),
        );
        let (Some(Record::Emitted(from_old)), Some(Record::Emitted(from_new))) =
            (read(&old), read(&new))
        else {
            panic!("not read back");
        };
        assert_eq!(from_old, from_new);
        assert_ne!(
            from_new,
            ViolationKey::new(trace_id, "session_duration", None),
            "the span counts"
        );
    }
}
