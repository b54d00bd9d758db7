//! A compact binary form of spans for the log: fixed-width ids and times, length-prefixed strings, kinds
//! and stages by their index. Spans are the bulk of the log, so they are not spelled as JSON.

use std::sync::Arc;

use ironforge_proto::semconv::{SpanKind, Stage};

use ironforge_engine::model::{FactValue, Facts, SpanId, SpanRecord, TraceId};

pub(crate) fn put_u8(out: &mut Vec<u8>, value: u8) {
    out.push(value);
}

pub(crate) fn put_u32(out: &mut Vec<u8>, value: u32) {
    out.extend_from_slice(&value.to_le_bytes());
}

pub(crate) fn put_u64(out: &mut Vec<u8>, value: u64) {
    out.extend_from_slice(&value.to_le_bytes());
}

pub(crate) fn put_str(out: &mut Vec<u8>, value: &str) {
    put_u32(out, u32::try_from(value.len()).unwrap_or(u32::MAX));
    out.extend_from_slice(value.as_bytes());
}

fn put_opt_str(out: &mut Vec<u8>, value: Option<&str>) {
    match value {
        Some(value) => {
            put_u8(out, 1);
            put_str(out, value);
        }
        None => put_u8(out, 0),
    }
}

fn put_len(out: &mut Vec<u8>, len: usize) {
    put_u32(out, u32::try_from(len).unwrap_or(u32::MAX));
}

/// Position of a member in its enum's `ALL`, 0 for none.
fn put_member<T: PartialEq>(out: &mut Vec<u8>, all: &[T], value: Option<&T>) {
    let index = value
        .and_then(|value| all.iter().position(|member| member == value))
        .map_or(0, |index| index + 1);
    put_u8(out, u8::try_from(index).unwrap_or(0));
}

pub(crate) fn put_span(out: &mut Vec<u8>, span: &SpanRecord) {
    out.extend_from_slice(&span.trace_id.0);
    out.extend_from_slice(&span.span_id.0);
    out.extend_from_slice(&span.parent_span_id.map_or([0; 8], |id| id.0));
    put_str(out, &span.name);
    put_opt_str(out, span.service_name.as_deref());
    put_u64(out, span.start_unix_nano);
    put_u64(out, span.end_unix_nano);
    put_member(out, SpanKind::ALL, span.kind.as_ref());
    put_member(out, Stage::ALL, span.stage.as_ref());
    put_opt_str(out, span.session_id.as_deref());
    put_len(out, span.facts.len());
    for (key, value) in span.facts.iter() {
        put_str(out, key);
        match value {
            FactValue::Int(value) => {
                put_u8(out, 0);
                put_u64(out, u64::from_le_bytes(value.to_le_bytes()));
            }
            FactValue::Double(value) => {
                put_u8(out, 1);
                put_u64(out, value.to_bits());
            }
            FactValue::String(value) => {
                put_u8(out, 2);
                put_str(out, value);
            }
            FactValue::Strings(values) => {
                put_u8(out, 3);
                put_len(out, values.len());
                for value in values.iter() {
                    put_str(out, value);
                }
            }
        }
    }
    put_len(out, span.facts.attribute_errors.len());
    for error in &span.facts.attribute_errors {
        put_str(out, error);
    }
}

/// Reads what the `put_*` functions wrote; `None` at the first thing that does not fit.
#[derive(Debug)]
pub(crate) struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Self { bytes }
    }

    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    fn take(&mut self, len: usize) -> Option<&'a [u8]> {
        let (head, rest) = self.bytes.split_at_checked(len)?;
        self.bytes = rest;
        Some(head)
    }

    fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N)?.try_into().ok()
    }

    pub(crate) fn u8(&mut self) -> Option<u8> {
        Some(self.array::<1>()?[0])
    }

    pub(crate) fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.array()?))
    }

    pub(crate) fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.array()?))
    }

    pub(crate) fn str(&mut self) -> Option<&'a str> {
        let len = self.u32()? as usize;
        std::str::from_utf8(self.take(len)?).ok()
    }

    fn opt_str(&mut self) -> Option<Option<Arc<str>>> {
        match self.u8()? {
            0 => Some(None),
            _ => Some(Some(Arc::from(self.str()?))),
        }
    }

    fn member<T: Copy>(&mut self, all: &[T]) -> Option<Option<T>> {
        match self.u8()? {
            0 => Some(None),
            index => all.get(usize::from(index) - 1).copied().map(Some),
        }
    }

    /// A count of items each at least `min_bytes` long, refused when the rest cannot hold them, so a
    /// corrupt count never allocates.
    fn count(&mut self, min_bytes: usize) -> Option<usize> {
        let count = self.u32()? as usize;
        (count.saturating_mul(min_bytes) <= self.bytes.len()).then_some(count)
    }

    pub(crate) fn trace_id(&mut self) -> Option<TraceId> {
        TraceId::from_bytes(self.take(16)?)
    }

    pub(crate) fn span_id(&mut self) -> Option<Option<SpanId>> {
        Some(SpanId::from_bytes(self.take(8)?))
    }

    pub(crate) fn span(&mut self) -> Option<SpanRecord> {
        let trace_id = self.trace_id()?;
        let span_id = self.span_id()??;
        let parent_span_id = self.span_id()?;
        let mut span = SpanRecord::new(trace_id, span_id, self.str()?);
        span.parent_span_id = parent_span_id;
        span.service_name = self.opt_str()?;
        span.start_unix_nano = self.u64()?;
        span.end_unix_nano = self.u64()?;
        span.kind = self.member(SpanKind::ALL)?;
        span.stage = self.member(Stage::ALL)?;
        span.session_id = self.opt_str()?;
        span.facts = self.facts()?;
        Some(span)
    }

    fn facts(&mut self) -> Option<Facts> {
        let mut facts = Facts::default();
        for _ in 0..self.count(5)? {
            let key = self.str()?;
            let value = match self.u8()? {
                0 => FactValue::Int(i64::from_le_bytes(self.u64()?.to_le_bytes())),
                1 => FactValue::Double(f64::from_bits(self.u64()?)),
                2 => FactValue::String(Arc::from(self.str()?)),
                3 => {
                    let count = self.count(4)?;
                    let values: Option<Vec<Arc<str>>> =
                        (0..count).map(|_| self.str().map(Arc::from)).collect();
                    FactValue::Strings(values?.into())
                }
                _ => return None,
            };
            facts.set(key, value);
        }
        for _ in 0..self.count(4)? {
            facts.attribute_errors.push(self.str()?.to_owned());
        }
        Some(facts)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_span_reads_back_as_written() {
        let mut span = SpanRecord::new(TraceId([7; 16]), SpanId([3; 8]), "session");
        span.parent_span_id = Some(SpanId([1; 8]));
        span.service_name = Some(Arc::from("pipeline"));
        span.start_unix_nano = 10;
        span.end_unix_nano = 20;
        span.kind = Some(SpanKind::Session);
        span.stage = Some(Stage::ALL[1]);
        span.session_id = Some(Arc::from("s-1"));
        span.facts.set("n", 3);
        span.facts.set("x", 1.5);
        span.facts.set("s", "text");
        span.facts.set("list", vec!["a", "b"]);
        span.facts.attribute_errors.push("bad".to_owned());
        let mut out = Vec::new();
        put_span(&mut out, &span);
        let mut reader = Reader::new(&out);
        assert_eq!(reader.span().unwrap(), span);
        assert!(reader.is_empty());
        for cut in 0..out.len() {
            assert!(Reader::new(&out[..cut]).span().is_none());
        }
    }
}
