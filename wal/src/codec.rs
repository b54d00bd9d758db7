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

/// What both forms of a span begin with: ids, name, service, times, kind, stage and session.
fn put_span_head(out: &mut Vec<u8>, span: &SpanRecord) {
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
}

const INT: u8 = 0;
const DOUBLE: u8 = 1;
const STRING: u8 = 2;
const STRINGS: u8 = 3;

/// A fact's value; string arrays as `put_strings` writes them.
fn put_value<'v>(
    out: &mut Vec<u8>,
    value: &'v FactValue,
    put_strings: impl FnOnce(&mut Vec<u8>, &'v [Arc<str>]),
) {
    match value {
        FactValue::Int(value) => {
            put_u8(out, INT);
            put_u64(out, u64::from_le_bytes(value.to_le_bytes()));
        }
        FactValue::Double(value) => {
            put_u8(out, DOUBLE);
            put_u64(out, value.to_bits());
        }
        FactValue::String(value) => {
            put_u8(out, STRING);
            put_str(out, value);
        }
        FactValue::Strings(values) => {
            put_u8(out, STRINGS);
            put_strings(out, values);
        }
    }
}

fn put_texts<'t>(out: &mut Vec<u8>, texts: impl ExactSizeIterator<Item = &'t str>) {
    put_len(out, texts.len());
    for text in texts {
        put_str(out, text);
    }
}

/// A span with its fact keys spelled out: the form logs written before [`put_tabled_spans`] hold.
#[cfg(test)]
pub(crate) fn put_span(out: &mut Vec<u8>, span: &SpanRecord) {
    put_span_head(out, span);
    put_len(out, span.facts.len());
    for (key, value) in span.facts.iter() {
        put_str(out, key);
        put_value(out, value, |out, values| {
            put_texts(out, values.iter().map(|value| &**value));
        });
    }
    put_texts(out, span.facts.attribute_errors.iter().map(String::as_str));
}

/// Table entries searched for a match, newest first, before a new one is added: spans of a batch come
/// in runs of a few kinds, and a batch of all-different facts costs no more than spelling each out.
const SEARCHED: usize = 16;

/// The key lists and string arrays of one record's spans, each written once.
#[derive(Default)]
struct Tables<'s> {
    /// Facts whose keys, in order, stand for each key list.
    key_lists: Vec<&'s Facts>,
    arrays: Vec<&'s [Arc<str>]>,
}

/// The index of the newest of the last [`SEARCHED`] `items` that `same` takes for `item`, or of `item` added.
fn index_in<T: Copy>(items: &mut Vec<T>, item: T, same: impl Fn(T, T) -> bool) -> u32 {
    let searched = items.len().saturating_sub(SEARCHED);
    let found = items[searched..]
        .iter()
        .rposition(|candidate| same(*candidate, item))
        .map(|at| searched + at);
    let index = found.unwrap_or_else(|| {
        items.push(item);
        items.len() - 1
    });
    u32::try_from(index).unwrap_or(u32::MAX)
}

impl<'s> Tables<'s> {
    /// Fact keys are [`fact_key`](ironforge_engine::model::fact_key)s, one address a text: lists compare
    /// by address.
    fn key_list(&mut self, facts: &'s Facts) -> u32 {
        index_in(&mut self.key_lists, facts, |a, b| {
            a.len() == b.len()
                && a.iter()
                    .zip(b.iter())
                    .all(|((a, _), (b, _))| std::ptr::eq(a, b))
        })
    }

    /// Members are interned per decoding thread, so equal arrays decoded on two threads differ in address:
    /// members compare by text when their addresses differ.
    fn array(&mut self, array: &'s [Arc<str>]) -> u32 {
        index_in(&mut self.arrays, array, |a, b| {
            std::ptr::eq(a, b)
                || (a.len() == b.len() && a.iter().zip(b).all(|(a, b)| Arc::ptr_eq(a, b) || a == b))
        })
    }

    fn put(&self, out: &mut Vec<u8>) {
        put_len(out, self.key_lists.len());
        for facts in &self.key_lists {
            put_texts(out, facts.iter().map(|(key, _)| key));
        }
        put_len(out, self.arrays.len());
        for array in &self.arrays {
            put_texts(out, array.iter().map(|text| &**text));
        }
    }
}

/// Spans as one record body: each span's fact keys as the index of their list, each string array as its
/// index, the tables after the spans (their offset first, so the writer passes over the spans once).
/// Spans of one kind carry the same keys, and IRONFORGE's event types and edge intents repeat on every
/// session span: written once a record instead of once a span, they were most of a span's bytes.
pub(crate) fn put_tabled_spans(out: &mut Vec<u8>, spans: &[SpanRecord]) {
    put_len(out, spans.len());
    let offset_at = out.len();
    put_u32(out, 0);
    let start = out.len();
    let mut tables = Tables::default();
    for span in spans {
        put_span_head(out, span);
        let facts = &span.facts;
        put_u32(out, tables.key_list(facts));
        for (_, value) in facts.iter() {
            put_value(out, value, |out, values| put_u32(out, tables.array(values)));
        }
        put_texts(out, facts.attribute_errors.iter().map(String::as_str));
        put_u32(out, facts.truncated);
    }
    let offset = u32::try_from(out.len() - start).unwrap_or(u32::MAX);
    out[offset_at..start].copy_from_slice(&offset.to_le_bytes());
    tables.put(out);
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

    fn span_head(&mut self) -> Option<SpanRecord> {
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
        Some(span)
    }

    /// A fact's value; string arrays as `strings` reads them.
    fn value(
        &mut self,
        strings: impl FnOnce(&mut Self) -> Option<Arc<[Arc<str>]>>,
    ) -> Option<FactValue> {
        Some(match self.u8()? {
            INT => FactValue::Int(i64::from_le_bytes(self.u64()?.to_le_bytes())),
            DOUBLE => FactValue::Double(f64::from_bits(self.u64()?)),
            STRING => FactValue::String(Arc::from(self.str()?)),
            STRINGS => FactValue::Strings(strings(self)?),
            _ => return None,
        })
    }

    fn texts(&mut self) -> Option<Vec<Arc<str>>> {
        let count = self.count(4)?;
        (0..count).map(|_| self.str().map(Arc::from)).collect()
    }

    fn errors(&mut self) -> Option<Vec<String>> {
        let count = self.count(4)?;
        (0..count).map(|_| self.str().map(str::to_owned)).collect()
    }

    /// A span as [`put_span`] wrote it (the form of logs written before [`put_tabled_spans`]).
    pub(crate) fn span(&mut self) -> Option<SpanRecord> {
        let mut span = self.span_head()?;
        for _ in 0..self.count(5)? {
            let key = self.str()?;
            let value = self.value(|reader| Some(reader.texts()?.into()))?;
            span.facts.set(key, value);
        }
        span.facts.attribute_errors = self.errors()?;
        Some(span)
    }

    /// The spans of a record body [`put_tabled_spans`] wrote; `None` unless it reads to the end.
    pub(crate) fn tabled_spans(mut self) -> Option<Vec<SpanRecord>> {
        let count = self.u32()? as usize;
        let offset = self.u32()? as usize;
        let mut spans_reader = Reader::new(self.take(offset)?);
        let mut key_lists = Vec::new();
        for _ in 0..self.count(4)? {
            key_lists.push(self.texts()?);
        }
        let mut arrays: Vec<Arc<[Arc<str>]>> = Vec::new();
        for _ in 0..self.count(4)? {
            arrays.push(self.texts()?.into());
        }
        // Each span takes at least its ids: a corrupt count never allocates past the record.
        let mut spans = Vec::with_capacity(count.min(spans_reader.bytes.len() / 32));
        for _ in 0..count {
            spans.push(spans_reader.tabled_span(&key_lists, &arrays)?);
        }
        (self.bytes.is_empty() && spans_reader.bytes.is_empty()).then_some(spans)
    }

    fn tabled_span(
        &mut self,
        key_lists: &[Vec<Arc<str>>],
        arrays: &[Arc<[Arc<str>]>],
    ) -> Option<SpanRecord> {
        let mut span = self.span_head()?;
        let keys = key_lists.get(self.u32()? as usize)?;
        for key in keys {
            let value = self.value(|reader| arrays.get(reader.u32()? as usize).cloned())?;
            span.facts.set(Arc::clone(key), value);
        }
        span.facts.attribute_errors = self.errors()?;
        span.facts.truncated = self.u32()?;
        Some(span)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn session_span(id: u8) -> SpanRecord {
        let mut span = SpanRecord::new(TraceId([7; 16]), SpanId([id; 8]), "session");
        span.parent_span_id = Some(SpanId([1; 8]));
        span.service_name = Some(Arc::from("pipeline"));
        span.start_unix_nano = 10;
        span.end_unix_nano = 20;
        span.kind = Some(SpanKind::Session);
        span.stage = Some(Stage::ALL[1]);
        span.session_id = Some(Arc::from(format!("s-{id}")));
        span.facts.set("n", i64::from(id));
        span.facts.set("x", 1.5);
        span.facts.set("s", "text");
        span.facts.set("list", vec!["a", "b"]);
        span.facts.attribute_errors.push("bad".to_owned());
        span.facts.truncated = 2;
        span
    }

    #[test]
    fn a_span_of_the_old_form_reads_back_as_written() {
        let mut span = session_span(3);
        span.facts.truncated = 0; // not part of the old form
        let mut out = Vec::new();
        put_span(&mut out, &span);
        let mut reader = Reader::new(&out);
        assert_eq!(reader.span().unwrap(), span);
        assert!(reader.is_empty());
        for cut in 0..out.len() {
            assert!(Reader::new(&out[..cut]).span().is_none());
        }
    }

    #[test]
    fn tabled_spans_read_back_as_written_with_keys_and_arrays_once() {
        let mut spans: Vec<SpanRecord> = (2..40).map(session_span).collect();
        let mut run = SpanRecord::new(TraceId([8; 16]), SpanId([9; 8]), "run");
        run.kind = Some(SpanKind::Run);
        run.facts.set("list", vec!["c"]);
        run.facts.set("n", 1);
        spans.insert(5, run);
        spans.push(SpanRecord::new(TraceId([8; 16]), SpanId([10; 8]), "bare"));
        let mut tabled = Vec::new();
        put_tabled_spans(&mut tabled, &spans);
        assert_eq!(Reader::new(&tabled).tabled_spans().unwrap(), spans);

        let mut spelled = Vec::new();
        for span in &spans {
            put_span(&mut spelled, span);
        }
        let occurrences =
            |bytes: &[u8], text: &[u8]| bytes.windows(text.len()).filter(|w| *w == text).count();
        assert_eq!(occurrences(&tabled, b"list"), 2, "one per key list");
        assert_eq!(occurrences(&spelled, b"list"), spans.len() - 1);
        assert!(tabled.len() < spelled.len());

        for cut in 0..tabled.len() {
            assert!(
                Reader::new(&tabled[..cut]).tabled_spans().is_none(),
                "cut at {cut}"
            );
        }
        let mut longer = tabled.clone();
        longer.push(0);
        assert!(
            Reader::new(&longer).tabled_spans().is_none(),
            "trailing bytes"
        );
    }
}
