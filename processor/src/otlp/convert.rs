//! OTLP `ExportTraceServiceRequest` → [`SpanRecord`]s.
//!
//! The request is consumed so that names, session ids and string arrays move into the records instead of
//! being copied; only the resource's `service.name` is allocated once and shared by its spans.
//!
//! Spans the OTLP specification calls invalid (trace or span id of the wrong length or all zeros, a
//! non-empty parent id that is not a valid span id, an end before the start) are refused and counted; the
//! rest are kept even when a monitored attribute is unusable, with the reason in
//! [`Facts::attribute_errors`](crate::model::Facts::attribute_errors).

mod attributes;
#[cfg(test)]
mod tests;

use std::fmt::Write as _;
use std::sync::Arc;

use ironforge_proto::otlp::common::KeyValue;
use ironforge_proto::otlp::common::any_value::Value;
use ironforge_proto::otlp::trace::Span;
use ironforge_proto::otlp::trace_service::{ExportTracePartialSuccess, ExportTraceServiceRequest};
use ironforge_proto::semconv::attr;

use crate::model::{Facts, SpanId, SpanRecord, TraceId};

/// At most this many refusals are spelled out; the rest are only counted, so a request of a million bad
/// spans costs no more than a few lines of text.
pub const MAX_ERROR_MESSAGES: usize = 8;

/// Longest span name or attribute value quoted in an explanation, in bytes.
const MAX_QUOTED: usize = 64;

/// The outcome of converting one request.
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
    /// The OTLP `partial_success` to answer with: `None` when every span was accepted.
    pub fn partial_success(&self) -> Option<ExportTracePartialSuccess> {
        (self.rejected > 0).then(|| ExportTracePartialSuccess {
            rejected_spans: i64::try_from(self.rejected).unwrap_or(i64::MAX),
            error_message: self.error_message(),
        })
    }

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

/// Converts a whole request, refusing invalid spans and keeping the rest.
pub fn convert_request(request: ExportTraceServiceRequest) -> Decoded {
    let total: usize = request
        .resource_spans
        .iter()
        .flat_map(|resource| &resource.scope_spans)
        .map(|scope| scope.spans.len())
        .sum();
    let mut decoded = Decoded {
        spans: Vec::with_capacity(total),
        ..Decoded::default()
    };
    for resource_spans in request.resource_spans {
        let (service_name, resource_error) =
            service_name(resource_spans.resource.map(|resource| resource.attributes));
        for span in resource_spans
            .scope_spans
            .into_iter()
            .flat_map(|scope| scope.spans)
        {
            match convert_span(span, &service_name) {
                Ok(mut record) => {
                    if let Some(error) = &resource_error {
                        record.facts.attribute_errors.push(error.clone());
                    }
                    decoded.spans.push(record);
                }
                Err(reason) => decoded.reject(reason),
            }
        }
    }
    decoded
}

/// The resource's `service.name`, or the explanation of why it is unusable.
fn service_name(attributes: Option<Vec<KeyValue>>) -> (Option<Arc<str>>, Option<String>) {
    let value = attributes
        .into_iter()
        .flatten()
        .rfind(|kv| kv.key == attr::SERVICE_NAME)
        .and_then(|kv| kv.value)
        .and_then(|value| value.value);
    match value {
        None => (None, None),
        Some(Value::StringValue(name)) => (Some(Arc::from(name)), None),
        Some(other) => (
            None,
            Some(attributes::type_error(
                attr::SERVICE_NAME,
                "string",
                Some(&other),
            )),
        ),
    }
}

/// Validates one span and moves what the engine reads into a record.
fn convert_span(span: Span, service_name: &Option<Arc<str>>) -> Result<SpanRecord, String> {
    let trace_id = TraceId::from_bytes(&span.trace_id)
        .ok_or_else(|| id_error(&span, "trace_id", &span.trace_id, 16))?;
    let span_id = SpanId::from_bytes(&span.span_id)
        .ok_or_else(|| id_error(&span, "span_id", &span.span_id, 8))?;
    let parent_span_id = if span.parent_span_id.is_empty() {
        None
    } else {
        Some(
            SpanId::from_bytes(&span.parent_span_id)
                .ok_or_else(|| id_error(&span, "parent_span_id", &span.parent_span_id, 8))?,
        )
    };
    if span.end_time_unix_nano < span.start_time_unix_nano {
        return Err(format!(
            "span {} (span_id {span_id}): end_time_unix_nano {} is before start_time_unix_nano {}",
            quote(&span.name),
            span.end_time_unix_nano,
            span.start_time_unix_nano
        ));
    }

    let mut record = SpanRecord {
        trace_id,
        span_id,
        parent_span_id,
        name: span.name,
        service_name: service_name.clone(),
        start_unix_nano: span.start_time_unix_nano,
        end_unix_nano: span.end_time_unix_nano,
        kind: None,
        stage: None,
        session_id: None,
        facts: Facts::default(),
    };
    for kv in span.attributes {
        attributes::apply(&mut record, &kv.key, kv.value.and_then(|value| value.value));
    }
    Ok(record)
}

fn id_error(span: &Span, field: &str, id: &[u8], expected_len: usize) -> String {
    let problem = if id.len() != expected_len {
        format!("has {} bytes; expected {expected_len}", id.len())
    } else {
        "is all zeros".to_owned()
    };
    format!("span {}: {field} {problem}", quote(&span.name))
}

/// `text` in double quotes, cut at [`MAX_QUOTED`] bytes (on a character boundary) so that one huge value
/// cannot bloat an error message.
pub(crate) fn quote(text: &str) -> String {
    if text.len() <= MAX_QUOTED {
        return format!("{text:?}");
    }
    let mut end = MAX_QUOTED;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{:?}… ({} bytes)", &text[..end], text.len())
}
