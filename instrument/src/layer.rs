//! The crate's tracing layers: the stage/session metrics and the self-timing around the
//! OpenTelemetry layer.
//!
//! [`Instrumentation::layer`](crate::Instrumentation::layer) stacks them as
//! `TimerStart → OpenTelemetryLayer → MetricsLayer`. `Layered` runs its inner layer first for every
//! callback, so `TimerStart` stamps the clock, the OpenTelemetry layer does its work, and
//! `MetricsLayer` does its own and adds the elapsed time to the overhead: one pair of clock reads
//! per callback covers the whole instrumentation. (Wrapping the OpenTelemetry layer in one struct
//! would need an `unsafe fn downcast_raw` to keep `OpenTelemetrySpanExt` working, and the
//! workspace forbids unsafe code.)

use std::fmt::{self, Write as _};
use std::sync::Arc;
use std::time::Instant;

use ironforge_proto::semconv::{SpanKind, Stage, attr};
use opentelemetry::KeyValue;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

use crate::overhead::{stamp, take_stamp};
use crate::state::{Shared, StageLabel};

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

/// What the layer keeps about a monitored span, in the span's extensions.
#[derive(Debug)]
struct SpanFacts {
    kind: Option<SpanKind>,
    stage: Option<StageLabel>,
    start: Instant,
}

/// Records the stage and session metrics and closes each callback's measurement; must run after
/// the OpenTelemetry layer. Helpers find it through `Dispatch::downcast_ref`, so it is not generic.
#[derive(Debug, Clone)]
pub(crate) struct MetricsLayer {
    pub(crate) shared: Arc<Shared>,
}

impl MetricsLayer {
    fn finish(&self, start: Option<Instant>) {
        self.shared.overhead.add_sample(start);
    }

    fn span_closed(&self, facts: SpanFacts) {
        let Some(kind) = facts.kind else {
            return;
        };
        let seconds = facts.start.elapsed().as_secs_f64();
        let stage = facts.stage.as_ref().map(|s| [s.key_value()]);
        let attributes: &[KeyValue] = stage.as_ref().map_or(&[], |a| a.as_slice());
        match kind {
            SpanKind::Stage => self.shared.stage_duration.record(seconds, attributes),
            SpanKind::Session => {
                self.shared.session_duration.record(seconds, attributes);
                self.shared.sessions.add(facts.stage.as_ref());
            }
            SpanKind::Run | SpanKind::Init | SpanKind::Pattern => {}
        }
        self.shared.overhead.count_operation();
        self.shared.sampler.observe(&self.shared.overhead);
    }
}

impl<S> Layer<S> for MetricsLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let start = take_stamp();
        // Only spans that declare a kind are monitored; the rest cost this one field lookup.
        if attrs.metadata().fields().field(attr::SPAN_KIND).is_some()
            && let Some(span) = ctx.span(id)
        {
            let mut facts = SpanFacts {
                kind: None,
                stage: None,
                // Not the sampled stamp: durations must be exact for every span.
                start: Instant::now(),
            };
            attrs.record(&mut FactVisitor { facts: &mut facts });
            span.extensions_mut().insert(facts);
        }
        self.finish(start);
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let start = take_stamp();
        if let Some(span) = ctx.span(id)
            && let Some(facts) = span.extensions_mut().get_mut::<SpanFacts>()
        {
            values.record(&mut FactVisitor { facts });
        }
        self.finish(start);
    }

    fn on_follows_from(&self, _: &Id, _: &Id, _: Context<'_, S>) {
        self.finish(take_stamp());
    }

    fn on_event(&self, _: &Event<'_>, _: Context<'_, S>) {
        self.finish(take_stamp());
    }

    fn on_enter(&self, _: &Id, _: Context<'_, S>) {
        self.finish(take_stamp());
    }

    fn on_exit(&self, _: &Id, _: Context<'_, S>) {
        self.finish(take_stamp());
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        let start = take_stamp();
        let facts = ctx
            .span(&id)
            .and_then(|span| span.extensions_mut().remove::<SpanFacts>());
        if let Some(facts) = facts {
            self.span_closed(facts);
        }
        self.finish(start);
    }
}

struct FactVisitor<'a> {
    facts: &'a mut SpanFacts,
}

impl FactVisitor<'_> {
    fn take(&mut self, name: &str, value: &str) {
        if name == attr::SPAN_KIND {
            self.facts.kind = value.parse().ok();
        } else if name == attr::STAGE {
            self.facts.stage = Some(match value.parse::<Stage>() {
                Ok(stage) => StageLabel::Known(stage),
                Err(_) => StageLabel::Other(Arc::from(value)),
            });
        }
    }
}

impl Visit for FactVisitor<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.take(field.name(), value);
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        let name = field.name();
        if name != attr::SPAN_KIND && name != attr::STAGE {
            return;
        }
        // `%stage` arrives here as a Display wrapper; formatting it on the stack keeps the common
        // case free of allocation.
        let mut buf = StackStr::default();
        if write!(buf, "{value:?}").is_ok() {
            self.take(name, buf.as_str());
        } else {
            self.take(name, &format!("{value:?}"));
        }
    }
}

/// A fixed-capacity string for short field values.
struct StackStr {
    buf: [u8; 64],
    len: usize,
}

impl Default for StackStr {
    fn default() -> Self {
        StackStr {
            buf: [0; 64],
            len: 0,
        }
    }
}

impl StackStr {
    fn as_str(&self) -> &str {
        // Only whole `&str`s are copied in, so the bytes are valid UTF-8.
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or_default()
    }
}

impl fmt::Write for StackStr {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let end = self.len + s.len();
        let dest = self.buf.get_mut(self.len..end).ok_or(fmt::Error)?;
        dest.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stack_str_holds_short_values_and_refuses_long_ones() {
        let mut s = StackStr::default();
        write!(s, "{}", Stage::Discovery).unwrap();
        assert_eq!(s.as_str(), "discovery");
        let mut s = StackStr::default();
        assert!(write!(s, "{}", "x".repeat(65)).is_err());
    }
}
