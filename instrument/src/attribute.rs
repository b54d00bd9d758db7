//! The conventions' attributes as OpenTelemetry hands them to the sampler and the span processor,
//! read without allocating.

use std::borrow::Cow;

use ironforge_proto::semconv::{SpanKind, attr};
use opentelemetry::{KeyValue, Value};

/// The text of an attribute value: strings as they are, other types as the OpenTelemetry layer
/// would have written them had they come through `Debug`.
pub(crate) fn text(value: &Value) -> Cow<'_, str> {
    match value {
        Value::String(s) => Cow::Borrowed(s.as_str()),
        other => other.as_str(),
    }
}

/// The span kind an `ironforge.span.kind` value names, if any. Compared against the conventions'
/// spellings rather than parsed, because a failed parse allocates its error message.
pub(crate) fn span_kind(value: &Value) -> Option<SpanKind> {
    let text = text(value);
    SpanKind::ALL.iter().copied().find(|k| k.as_str() == text)
}

/// The span kind the attributes declare, if any.
pub(crate) fn kind_of(attributes: &[KeyValue]) -> Option<SpanKind> {
    attributes
        .iter()
        .find(|kv| kv.key.as_str() == attr::SPAN_KIND)
        .and_then(|kv| span_kind(&kv.value))
}
