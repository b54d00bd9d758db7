//! OTLP trace request bytes → [`SpanRecord`]s, reading only what the [`ReadPlan`] names.
//!
//! Spans the OTLP specification calls invalid (trace or span id of the wrong length or all zeros, a
//! non-empty parent id that is not a valid span id, an end before the start) are refused and counted; the
//! rest are kept even when a read attribute is unusable, with the reason in
//! [`Facts::attribute_errors`](crate::model::Facts::attribute_errors). OTLP/gRPC, OTLP/HTTP protobuf and
//! OTLP/JSON (through [`crate::json`], which hands the same visitor the same spans) all come through here,
//! so every transport reads a span the same way.

use std::fmt::{Display, Write as _};
use std::str::FromStr;
use std::sync::Arc;

use ironforge_proto::semconv::{SpanKind, Stage, attr};

use crate::config::AttributeType;
use crate::evaluate::prefix;
use crate::intern::{ReadArray, intern, string_array};
use crate::json::{JsonError, decode_json_trace_request};
use crate::model::{FactValue, Facts, SpanId, SpanRecord, TraceId};
use crate::plan::{AttributeLimits, ReadPlan, SLOT_KIND, SLOT_SERVICE, SLOT_SESSION, SLOT_STAGE};
use crate::wire::{SpanVisitor, WireArray, WireError, WireSpan, WireValue, decode_trace_request};

/// At most this many refusals are spelled out; the rest are only counted, so a request of a million bad
/// spans costs no more than a few lines of text.
pub const MAX_ERROR_MESSAGES: usize = 8;

/// Longest span name or attribute value quoted in an explanation, in bytes.
const MAX_QUOTED: usize = 64;

/// The outcome of decoding one request.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Decoded {
    /// The spans that passed validation, in request order.
    pub spans: Vec<SpanRecord>,
    /// How many spans were refused.
    pub rejected: u64,
    /// Why, for the first [`MAX_ERROR_MESSAGES`] refused spans.
    pub errors: Vec<String>,
}

impl Decoded {
    /// The refusals as one line, ending with how many more were refused than are listed.
    pub fn error_message(&self) -> String {
        let mut message = self.errors.join("; ");
        let unlisted = self.rejected.saturating_sub(self.errors.len() as u64);
        if unlisted > 0 {
            let _ = write!(message, "; and {unlisted} more rejected span(s)");
        }
        message
    }

    fn reject(&mut self, reason: String) {
        self.rejected += 1;
        if self.errors.len() < MAX_ERROR_MESSAGES {
            self.errors.push(reason);
        }
    }
}

/// Decodes an `ExportTraceServiceRequest`, refusing invalid spans and keeping the rest. Fails only when
/// the bytes are not a valid request, and then keeps nothing.
pub fn decode_request(bytes: &[u8], plan: &ReadPlan) -> Result<Decoded, WireError> {
    let mut visitor = Visitor::new(plan);
    decode_trace_request(bytes, plan, &mut visitor)?;
    Ok(visitor.decoded)
}

/// Decodes an OTLP/JSON `ExportTraceServiceRequest` document as [`decode_request`] decodes the same
/// request in protobuf.
pub fn decode_json_request(text: &str, plan: &ReadPlan) -> Result<Decoded, JsonError> {
    let mut visitor = Visitor::new(plan);
    decode_json_trace_request(text, plan, &mut visitor)?;
    Ok(visitor.decoded)
}

struct Visitor<'p> {
    plan: &'p ReadPlan,
    decoded: Decoded,
    service_name: Option<Arc<str>>,
    resource_error: Option<String>,
}

impl<'p> Visitor<'p> {
    fn new(plan: &'p ReadPlan) -> Self {
        Visitor {
            plan,
            decoded: Decoded::default(),
            service_name: None,
            resource_error: None,
        }
    }
}

impl<'a> SpanVisitor<'a> for Visitor<'_> {
    fn resource(&mut self, attributes: &[(u16, WireValue<'a>)]) {
        self.service_name = None;
        self.resource_error = None;
        // The last occurrence wins, as it does for span attributes.
        if let Some((_, value)) = attributes.iter().rfind(|(slot, _)| *slot == SLOT_SERVICE) {
            match value {
                WireValue::String(name) => self.service_name = Some(intern(name)),
                other => {
                    self.resource_error = Some(type_error(attr::SERVICE_NAME, "string", other));
                }
            }
        }
    }

    fn span(&mut self, span: &WireSpan<'a>, attributes: &[(u16, WireValue<'a>)]) {
        match self.record(span, attributes) {
            Ok(record) => self.decoded.spans.push(record),
            Err(reason) => self.decoded.reject(reason),
        }
    }
}

impl Visitor<'_> {
    /// Validates one span and reads its planned attributes.
    fn record(
        &self,
        span: &WireSpan<'_>,
        attributes: &[(u16, WireValue<'_>)],
    ) -> Result<SpanRecord, String> {
        let trace_id = TraceId::from_bytes(span.trace_id)
            .ok_or_else(|| id_error(span.name, "trace_id", span.trace_id, 16))?;
        let span_id = SpanId::from_bytes(span.span_id)
            .ok_or_else(|| id_error(span.name, "span_id", span.span_id, 8))?;
        let parent_span_id = if span.parent_span_id.is_empty() {
            None
        } else {
            Some(
                SpanId::from_bytes(span.parent_span_id)
                    .ok_or_else(|| id_error(span.name, "parent_span_id", span.parent_span_id, 8))?,
            )
        };
        if span.end_time_unix_nano < span.start_time_unix_nano {
            return Err(format!(
                "span {} (span_id {span_id}): end_time_unix_nano {} is before start_time_unix_nano {}",
                quote(span.name),
                span.end_time_unix_nano,
                span.start_time_unix_nano
            ));
        }
        let limits = &self.plan.limits;
        let mut truncated = span.attributes_dropped;
        let mut record = SpanRecord {
            trace_id,
            span_id,
            parent_span_id,
            name: intern(cut(span.name, limits, &mut truncated)),
            service_name: self.service_name.clone(),
            start_unix_nano: span.start_time_unix_nano,
            end_unix_nano: span.end_time_unix_nano,
            kind: None,
            stage: None,
            session_id: None,
            facts: Facts::with_capacity(attributes.len()),
        };
        if let Some(error) = &self.resource_error {
            record.facts.attribute_errors.push(error.clone());
        }
        for (slot, value) in attributes {
            self.apply(&mut record, *slot, value, &mut truncated);
        }
        record.facts.truncated = truncated;
        Ok(record)
    }

    /// Applies one planned attribute; a later occurrence of a key replaces an earlier one, and an unusable
    /// one clears it and is explained.
    fn apply(
        &self,
        record: &mut SpanRecord,
        slot: u16,
        value: &WireValue<'_>,
        truncated: &mut u32,
    ) {
        let Some((key, ty)) = self.plan.get(slot) else {
            return;
        };
        let limits = &self.plan.limits;
        let errors = &mut record.facts.attribute_errors;
        match slot {
            SLOT_KIND => record.kind = keep(errors, one_of(key, value, SpanKind::ALL)),
            SLOT_STAGE => record.stage = keep(errors, one_of(key, value, Stage::ALL)),
            SLOT_SESSION => {
                let session = string(key, value).map(|text| intern(cut(text, limits, truncated)));
                record.session_id = keep(errors, session);
            }
            // `service.name` belongs on the resource; on a span it is not what names the pipeline.
            SLOT_SERVICE => {}
            _ => match typed(key, ty, value, limits, truncated) {
                Ok(fact) => record.facts.set_planned(key, fact),
                Err(error) => {
                    record.facts.remove_planned(key);
                    record.facts.attribute_errors.push(error);
                }
            },
        }
    }
}

fn keep<T>(errors: &mut Vec<String>, read: Result<T, String>) -> Option<T> {
    read.map_err(|error| errors.push(error)).ok()
}

/// A value checked against the type the plan expects, within the attribute limits.
fn typed(
    key: &str,
    ty: AttributeType,
    value: &WireValue<'_>,
    limits: &AttributeLimits,
    truncated: &mut u32,
) -> Result<FactValue, String> {
    match ty {
        AttributeType::Int => integer(key, value).map(FactValue::Int),
        AttributeType::Double => number(key, value).map(FactValue::Double),
        AttributeType::String => {
            string(key, value).map(|text| FactValue::String(intern(cut(text, limits, truncated))))
        }
        AttributeType::StringArray => {
            strings(key, value, limits, truncated).map(FactValue::Strings)
        }
    }
}

/// `text` cut to the value length limit on a character boundary; a cut is counted in `truncated`.
fn cut<'t>(text: &'t str, limits: &AttributeLimits, truncated: &mut u32) -> &'t str {
    match prefix(text, limits.max_value_length) {
        Some(kept) => {
            *truncated = truncated.saturating_add(1);
            kept
        }
        None => text,
    }
}

fn string<'a>(key: &str, value: &WireValue<'a>) -> Result<&'a str, String> {
    match value {
        WireValue::String(text) => Ok(text),
        other => Err(type_error(key, "string", other)),
    }
}

/// A string naming one member of a convention enum.
fn one_of<T: FromStr + Display>(key: &str, value: &WireValue<'_>, all: &[T]) -> Result<T, String> {
    let text = string(key, value)?;
    text.parse().map_err(|_| {
        let expected: Vec<String> = all.iter().map(ToString::to_string).collect();
        format!(
            "attribute `{key}`: expected one of {}, received string {}",
            expected.join(", "),
            quote(text)
        )
    })
}

/// A measurement: an int is as good as a double (SDKs of dynamic languages send whole numbers as ints).
fn number(key: &str, value: &WireValue<'_>) -> Result<f64, String> {
    match value {
        WireValue::Int(int) => Ok(*int as f64),
        WireValue::Double(double) if double.is_finite() => Ok(*double),
        WireValue::Double(double) => Err(format!(
            "attribute `{key}`: expected a finite double, received double {double}"
        )),
        other => Err(type_error(key, "double or int", other)),
    }
}

/// A count or dimension: a double is accepted only when it holds a whole number that fits an i64.
fn integer(key: &str, value: &WireValue<'_>) -> Result<i64, String> {
    match value {
        WireValue::Int(int) => Ok(*int),
        // `i64::MAX as f64` rounds up to 2^63, which is out of range, hence the strict upper bound.
        WireValue::Double(double)
            if double.fract() == 0.0 && *double >= i64::MIN as f64 && *double < i64::MAX as f64 =>
        {
            Ok(*double as i64)
        }
        other => Err(type_error(key, "int", other)),
    }
}

/// The members of a string array up to the array length limit, each within the value length limit. Members
/// past the limit are dropped unread (and counted once, as one value cut).
fn strings(
    key: &str,
    value: &WireValue<'_>,
    limits: &AttributeLimits,
    truncated: &mut u32,
) -> Result<Arc<[Arc<str>]>, String> {
    let WireValue::Array(array) = value else {
        return Err(type_error(key, "array of strings", value));
    };
    let read = || read_strings(key, array, limits);
    let (texts, cut) = match array.encoded() {
        Some(encoded) => string_array(encoded, limits, read)?,
        None => read()?,
    };
    *truncated = truncated.saturating_add(cut);
    Ok(texts)
}

/// [`strings`] of one array, with the number of values the limits cut.
fn read_strings(
    key: &str,
    array: &WireArray<'_>,
    limits: &AttributeLimits,
) -> Result<ReadArray, String> {
    let kept = array.len().min(limits.max_array_length);
    let mut cut_values = u32::from(kept < array.len());
    let mut texts = Vec::with_capacity(kept);
    for (index, element) in array.iter().take(kept).enumerate() {
        match element {
            WireValue::String(text) => texts.push(intern(cut(text, limits, &mut cut_values))),
            other => {
                return Err(format!(
                    "attribute `{key}`: expected array of strings, received array with {} at index {index}",
                    describe(&other)
                ));
            }
        }
    }
    Ok((texts.into(), cut_values))
}

/// The explanation of an attribute that arrived with the wrong type.
fn type_error(key: &str, expected: &str, received: &WireValue<'_>) -> String {
    format!(
        "attribute `{key}`: expected {expected}, received {}",
        describe(received)
    )
}

fn describe(value: &WireValue<'_>) -> String {
    match value {
        WireValue::Empty => "an empty value".to_owned(),
        WireValue::String(text) => format!("string {}", quote(text)),
        WireValue::Bool(flag) => format!("bool {flag}"),
        WireValue::Int(int) => format!("int {int}"),
        WireValue::Double(double) => format!("double {double}"),
        WireValue::Array(array) => format!("array of {} value(s)", array.len()),
        WireValue::KvList { len } => format!("key-value list of {len} entries"),
        WireValue::Bytes(bytes) => format!("bytes ({} bytes)", bytes.len()),
    }
}

fn id_error(name: &str, field: &str, id: &[u8], expected_len: usize) -> String {
    let problem = if id.len() != expected_len {
        format!("has {} bytes; expected {expected_len}", id.len())
    } else {
        "is all zeros".to_owned()
    };
    format!("span {}: {field} {problem}", quote(name))
}

/// `text` in double quotes, cut at `MAX_QUOTED` bytes (on a character boundary) so that one huge value
/// cannot bloat an error message.
pub fn quote(text: &str) -> String {
    match prefix(text, MAX_QUOTED) {
        Some(cut) => format!("{cut:?}… ({} bytes)", text.len()),
        None => format!("{text:?}"),
    }
}
