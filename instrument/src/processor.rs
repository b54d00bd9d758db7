//! The span processor that turns ended stage and session spans into metrics.
//!
//! It wraps the batch span processor and reads each span as the SDK ends it, before handing it on:
//! the `ironforge.span.kind` and `ironforge.stage` attributes, and the start and end times the span
//! is exported with. Deriving the metrics from the exported span's own data keeps the duration
//! histograms in exact agreement with the spans the monitor receives, and spares the tracing layer
//! any per-span state of its own, which would cost a registry lookup, a formatted field, a boxed
//! extension and two clock reads per span, on the pipeline's thread.
//!
//! `on_end` runs where the span ends: on the pipeline's thread, inside the OpenTelemetry layer's
//! close callback, so its time is part of the self-measurement. Only recorded spans reach a span
//! processor; the sampler records every run, init, stage and session span, and counts the monitored
//! operations it drops itself (see `sampler.rs`).

use std::sync::Arc;
use std::time::Duration;

use ironforge_proto::semconv::{SpanKind, Stage, attr};
use opentelemetry::{Context, Value};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{Span, SpanData, SpanProcessor};

use crate::attribute::{span_kind, text};
use crate::export::FailureLog;
use crate::state::{Shared, StageLabel};

/// Records the stage and session metrics of every ended span, then passes it to `inner`.
#[derive(Debug)]
pub(crate) struct MetricsProcessor<P> {
    inner: P,
    shared: Arc<Shared>,
    /// Counts each span handed on, so a shutdown can tell how many never reached the collector.
    delivery: Arc<FailureLog>,
}

impl<P> MetricsProcessor<P> {
    pub(crate) fn new(inner: P, shared: Arc<Shared>, delivery: Arc<FailureLog>) -> Self {
        MetricsProcessor {
            inner,
            shared,
            delivery,
        }
    }
}

impl<P: SpanProcessor> SpanProcessor for MetricsProcessor<P> {
    fn on_start(&self, span: &mut Span, cx: &Context) {
        self.inner.on_start(span, cx);
    }

    fn on_end(&self, span: SpanData) {
        self.record(&span);
        self.delivery.span_ended();
        self.inner.on_end(span);
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

impl<P> MetricsProcessor<P> {
    fn record(&self, span: &SpanData) {
        let mut kind = None;
        let mut stage = None;
        for kv in &span.attributes {
            match kv.key.as_str() {
                attr::SPAN_KIND => kind = span_kind(&kv.value),
                attr::STAGE => stage = Some(stage_label(&kv.value)),
                _ => continue,
            }
            if kind.is_some() && stage.is_some() {
                break;
            }
        }
        let Some(kind) = kind else {
            return;
        };
        let shared = &self.shared;
        let seconds = || {
            // A wall clock stepped back during the span yields no negative duration.
            span.end_time
                .duration_since(span.start_time)
                .unwrap_or_default()
                .as_secs_f64()
        };
        match kind {
            SpanKind::Stage => shared.stage_duration.record(seconds(), stage.as_ref()),
            SpanKind::Session => {
                shared.session_duration.record(seconds(), stage.as_ref());
                shared.sessions.add(stage.as_ref());
            }
            SpanKind::Run | SpanKind::Init | SpanKind::Pattern => {}
        }
        shared.overhead.count_operation();
        shared.sampler.observe(&shared.overhead);
    }
}

fn stage_label(value: &Value) -> StageLabel {
    let text = text(value);
    match Stage::ALL.iter().find(|s| s.as_str() == text) {
        Some(stage) => StageLabel::Known(*stage),
        None => StageLabel::Other(Arc::from(text.as_ref())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attribute::kind_of;
    use opentelemetry::KeyValue;

    #[test]
    fn kinds_and_stages_are_read_from_strings_and_other_values() {
        assert_eq!(span_kind(&Value::from("session")), Some(SpanKind::Session));
        assert_eq!(span_kind(&Value::from("Session")), None);
        assert_eq!(span_kind(&Value::from(3_i64)), None);
        assert!(matches!(
            stage_label(&Value::from("validation")),
            StageLabel::Known(Stage::Validation)
        ));
        assert!(matches!(
            stage_label(&Value::from(7_i64)),
            StageLabel::Other(s) if &*s == "7"
        ));
        let attributes = [
            KeyValue::new(attr::SESSION_ID, "NY_2025-08-04"),
            KeyValue::new(attr::SPAN_KIND, "stage"),
        ];
        assert_eq!(kind_of(&attributes), Some(SpanKind::Stage));
        assert_eq!(kind_of(&attributes[..1]), None);
    }
}
