//! The crate's tracing layers: the self-timing around the OpenTelemetry layer.
//!
//! [`Instrumentation::layer`](crate::Instrumentation::layer) stacks them as
//! `TimerStart → OpenTelemetryLayer → MetricsLayer`. `Layered` runs its inner layer first for every
//! callback, so `TimerStart` stamps the clock, the OpenTelemetry layer does its work (including the
//! span processor's metrics when it ends a span), and `MetricsLayer` adds the elapsed time to the
//! overhead: one pair of clock reads per measured callback covers the whole instrumentation.
//! (Wrapping the OpenTelemetry layer in one struct would need an `unsafe fn downcast_raw` to keep
//! `OpenTelemetrySpanExt` working, and the workspace forbids unsafe code.)

use std::sync::Arc;

use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::Context;

use crate::overhead::{stamp, take_stamp};
use crate::state::Shared;

/// Opens the measurement of each callback; must run before the OpenTelemetry layer.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct TimerStart;

impl<S: Subscriber> Layer<S> for TimerStart {
    fn on_new_span(&self, _: &Attributes<'_>, _: &Id, _: Context<'_, S>) {
        stamp();
    }
    fn on_record(&self, _: &Id, _: &Record<'_>, _: Context<'_, S>) {
        stamp();
    }
    fn on_follows_from(&self, _: &Id, _: &Id, _: Context<'_, S>) {
        stamp();
    }
    fn on_event(&self, _: &Event<'_>, _: Context<'_, S>) {
        stamp();
    }
    fn on_enter(&self, _: &Id, _: Context<'_, S>) {
        stamp();
    }
    fn on_exit(&self, _: &Id, _: Context<'_, S>) {
        stamp();
    }
    fn on_close(&self, _: Id, _: Context<'_, S>) {
        stamp();
    }
}

/// Closes each callback's measurement; must run after the OpenTelemetry layer. The stage and
/// session metrics are recorded by the span processor (`processor.rs`) as the OpenTelemetry layer
/// ends each span, inside this measurement. Helpers find the instrumentation through
/// `Dispatch::downcast_ref`, so this layer is not generic.
#[derive(Debug, Clone)]
pub(crate) struct MetricsLayer {
    pub(crate) shared: Arc<Shared>,
}

impl MetricsLayer {
    fn finish(&self) {
        self.shared.overhead.add_sample(take_stamp());
    }
}

impl<S: Subscriber> Layer<S> for MetricsLayer {
    fn on_new_span(&self, _: &Attributes<'_>, _: &Id, _: Context<'_, S>) {
        self.finish();
    }
    fn on_record(&self, _: &Id, _: &Record<'_>, _: Context<'_, S>) {
        self.finish();
    }
    fn on_follows_from(&self, _: &Id, _: &Id, _: Context<'_, S>) {
        self.finish();
    }
    fn on_event(&self, _: &Event<'_>, _: Context<'_, S>) {
        self.finish();
    }
    fn on_enter(&self, _: &Id, _: Context<'_, S>) {
        self.finish();
    }
    fn on_exit(&self, _: &Id, _: Context<'_, S>) {
        self.finish();
    }
    fn on_close(&self, _: Id, _: Context<'_, S>) {
        self.finish();
    }
}
