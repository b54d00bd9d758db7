//! How the run's values reach OpenTelemetry: counts as the signed integers spans carry, and the trace id of the
//! span being recorded.

use opentelemetry::trace::TraceContextExt;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// A count as a signed integer: OpenTelemetry has no unsigned integers, and the tracing bridge records `u64` and
/// `usize` values as strings.
pub(crate) fn int(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// The trace id of the current span, if an OpenTelemetry layer is recording it.
pub(crate) fn current_trace_id() -> Option<String> {
    let cx = tracing::Span::current().context();
    let span = cx.span();
    let sc = span.span_context();
    sc.is_valid().then(|| sc.trace_id().to_string())
}
