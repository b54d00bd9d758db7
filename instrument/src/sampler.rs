//! The sampler: monitored spans always, the rest by a fixed or adaptive ratio.
//!
//! `tracing-opentelemetry` starts the OpenTelemetry span lazily (on first enter, first child, or
//! close) from a `SpanBuilder` that holds the fields the tracing span was created with, and the SDK
//! hands those attributes to `ShouldSample`. So `ironforge.span.kind` given at creation (as
//! `#[tracing::instrument(fields(ironforge.span.kind = "stage"))]` does) is visible here; a kind
//! recorded later with `Span::record` after the span was entered is not.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use ironforge_proto::semconv::SpanKind as IfSpanKind;
use opentelemetry::trace::{Link, SpanKind, TraceContextExt, TraceId};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::trace::{SamplingDecision, SamplingResult, ShouldSample};

use crate::attribute::kind_of;
use crate::config::Sampling;
use crate::export::on_export_thread;
use crate::overhead::OverheadStats;

/// Multiplicative decrease and additive increase of the adaptive ratio: quick to back off when the
/// budget is exceeded, slow to return.
const DECREASE_FACTOR: f64 = 0.5;
const INCREASE_STEP: f64 = 0.05;
/// Monitored operations per adjustment. The overhead is timed on a sample of callbacks (see
/// `overhead.rs`), so a window must span enough of them to hold some samples.
const WINDOW_OPERATIONS: u64 = 8;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Mode {
    Always,
    Ratio,
    Adaptive { budget_nanos: u64 },
}

#[derive(Debug, Default)]
struct Window {
    nanos: u64,
    operations: u64,
}

/// The sampler's state, shared with the layer that feeds the adaptive ratio.
#[derive(Debug)]
pub(crate) struct SamplerState {
    mode: Mode,
    ratio_bits: AtomicU64,
    decisions: AtomicU64,
    window: Mutex<Window>,
}

impl SamplerState {
    pub(crate) fn new(sampling: Sampling) -> Self {
        let (mode, ratio) = match sampling {
            Sampling::Always => (Mode::Always, 1.0),
            Sampling::Ratio(r) => (Mode::Ratio, r.clamp(0.0, 1.0)),
            Sampling::OverheadBudget(budget) => (
                Mode::Adaptive {
                    budget_nanos: crate::overhead::nanos(budget),
                },
                1.0,
            ),
        };
        SamplerState {
            mode,
            ratio_bits: AtomicU64::new(ratio.to_bits()),
            decisions: AtomicU64::new(0),
            window: Mutex::new(Window::default()),
        }
    }

    /// The fraction of unmonitored spans currently sampled.
    pub(crate) fn ratio(&self) -> f64 {
        f64::from_bits(self.ratio_bits.load(Ordering::Relaxed))
    }

    fn set_ratio(&self, r: f64) {
        self.ratio_bits.store(r.to_bits(), Ordering::Relaxed);
    }

    /// Called when a monitored operation ends: compares the cost per operation since the last
    /// adjustment with the budget and moves the ratio.
    pub(crate) fn observe(&self, stats: &OverheadStats) {
        let Mode::Adaptive { budget_nanos } = self.mode else {
            return;
        };
        // A contended window means another thread is adjusting right now; skipping one
        // observation costs nothing, waiting would put a lock on the caller's path.
        let Ok(mut window) = self.window.try_lock() else {
            return;
        };
        let (nanos, ops) = (stats.total_nanos(), stats.operations());
        let d_ops = ops.saturating_sub(window.operations);
        if d_ops < WINDOW_OPERATIONS {
            return;
        }
        let per_op = nanos.saturating_sub(window.nanos) / d_ops;
        *window = Window {
            nanos,
            operations: ops,
        };
        let r = self.ratio();
        let next = if per_op > budget_nanos {
            r * DECREASE_FACTOR
        } else {
            (r + INCREASE_STEP).min(1.0)
        };
        self.set_ratio(next);
    }

    /// Deterministic ratio sampling: the n-th unmonitored decision samples when `floor(n * ratio)`
    /// steps, which exports exactly `ratio` of them over any run of decisions, without a random
    /// number generator on the hot path.
    fn by_ratio(&self) -> bool {
        let r = self.ratio();
        if r >= 1.0 {
            return true;
        }
        if r <= 0.0 {
            return false;
        }
        let n = self.decisions.fetch_add(1, Ordering::Relaxed) as f64;
        ((n + 1.0) * r).floor() > (n * r).floor()
    }
}

/// The `ShouldSample` the tracer provider is built with.
///
/// Monitored operations are counted as their spans end (`processor.rs`); a span this sampler drops
/// never ends in the SDK, so the sampler counts those itself, when it drops them.
#[derive(Debug, Clone)]
pub(crate) struct IronforgeSampler {
    state: Arc<SamplerState>,
    overhead: Arc<OverheadStats>,
}

impl IronforgeSampler {
    pub(crate) fn new(state: Arc<SamplerState>, overhead: Arc<OverheadStats>) -> Self {
        IronforgeSampler { state, overhead }
    }
}

/// Whether the kind marks a span the monitor's contracts read: run, init, stage, session.
fn is_always_sampled(kind: Option<IfSpanKind>) -> bool {
    matches!(
        kind,
        Some(IfSpanKind::Run | IfSpanKind::Init | IfSpanKind::Stage | IfSpanKind::Session)
    )
}

impl ShouldSample for IronforgeSampler {
    fn should_sample(
        &self,
        parent_context: Option<&Context>,
        _trace_id: TraceId,
        _name: &str,
        _span_kind: &SpanKind,
        attributes: &[KeyValue],
        _links: &[Link],
    ) -> SamplingResult {
        let parent = parent_context
            .filter(|cx| cx.has_active_span())
            .map(|cx| cx.span().span_context().clone())
            .filter(|sc| sc.is_valid());
        let trace_state = parent
            .as_ref()
            .map(|sc| sc.trace_state().clone())
            .unwrap_or_default();

        let sampled = if on_export_thread() {
            // Neither sampled nor counted: the export path is not the pipeline's work.
            false
        } else if self.state.mode == Mode::Always {
            true
        } else {
            let kind = kind_of(attributes);
            let sampled = if is_always_sampled(kind) {
                true
            } else if parent.as_ref().is_some_and(|sc| !sc.is_sampled()) {
                // Keeps the exported part of an unmonitored subtree connected to its root.
                false
            } else {
                self.state.by_ratio()
            };
            if !sampled && kind.is_some() {
                self.overhead.count_operation();
                self.state.observe(&self.overhead);
            }
            sampled
        };
        SamplingResult {
            decision: if sampled {
                SamplingDecision::RecordAndSample
            } else {
                SamplingDecision::Drop
            },
            attributes: Vec::new(),
            trace_state,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::mark_export_thread;
    use ironforge_proto::semconv::attr;
    use opentelemetry::trace::{SpanContext, SpanId, TraceFlags, TraceState};
    use std::time::Duration;

    fn sampler(sampling: Sampling) -> IronforgeSampler {
        IronforgeSampler::new(
            Arc::new(SamplerState::new(sampling)),
            Arc::new(OverheadStats::default()),
        )
    }

    fn decide(sampler: &IronforgeSampler, attrs: &[KeyValue], parent: Option<&Context>) -> bool {
        let result = sampler.should_sample(
            parent,
            TraceId::from(1u128),
            "span",
            &SpanKind::Internal,
            attrs,
            &[],
        );
        result.decision == SamplingDecision::RecordAndSample
    }

    fn kind(k: &'static str) -> Vec<KeyValue> {
        vec![KeyValue::new(attr::SPAN_KIND, k)]
    }

    fn parent(sampled: bool) -> Context {
        let flags = if sampled {
            TraceFlags::SAMPLED
        } else {
            TraceFlags::default()
        };
        let sc = SpanContext::new(
            TraceId::from(7u128),
            SpanId::from(9u64),
            flags,
            false,
            TraceState::default(),
        );
        Context::new().with_remote_span_context(sc)
    }

    #[test]
    fn monitored_kinds_are_always_sampled_even_at_ratio_zero() {
        let s = sampler(Sampling::Ratio(0.0));
        for k in ["run", "init", "stage", "session"] {
            assert!(decide(&s, &kind(k), None), "{k}");
            assert!(
                decide(&s, &kind(k), Some(&parent(false))),
                "{k} under dropped parent"
            );
        }
        assert!(!decide(&s, &kind("pattern"), None));
        assert!(!decide(&s, &[], None));
        assert!(!decide(&s, &kind("unknown"), None));
    }

    #[test]
    fn dropped_spans_with_a_kind_are_counted_as_operations() {
        let s = sampler(Sampling::Ratio(0.0));
        assert!(!decide(&s, &kind("pattern"), None));
        assert!(!decide(&s, &kind("unknown"), None));
        assert!(!decide(&s, &[], None));
        // Sampled spans are counted when they end, by the span processor.
        assert!(decide(&s, &kind("session"), None));
        {
            let _marked = mark_export_thread();
            assert!(!decide(&s, &kind("pattern"), None));
        }
        assert_eq!(s.overhead.operations(), 1);
    }

    #[test]
    fn ratio_samples_exactly_that_fraction() {
        let s = sampler(Sampling::Ratio(0.25));
        let sampled = (0..1000).filter(|_| decide(&s, &[], None)).count();
        assert_eq!(sampled, 250);
    }

    #[test]
    fn unmonitored_children_follow_a_dropped_parent() {
        let s = sampler(Sampling::Ratio(1.0));
        assert!(!decide(&s, &[], Some(&parent(false))));
        assert!(decide(&s, &[], Some(&parent(true))));
    }

    #[test]
    fn nothing_started_on_the_export_path_is_sampled() {
        let s = sampler(Sampling::Always);
        {
            let _marked = mark_export_thread();
            assert!(!decide(&s, &kind("session"), None));
        }
        assert!(decide(&s, &kind("session"), None));
    }

    #[test]
    fn always_samples_everything() {
        let s = sampler(Sampling::Always);
        assert!(decide(&s, &[], Some(&parent(false))));
    }

    #[test]
    fn adaptive_ratio_backs_off_over_budget_and_recovers_under_it() {
        let state = SamplerState::new(Sampling::OverheadBudget(Duration::from_micros(100)));
        let stats = OverheadStats::default();
        let operations = |n: u64, nanos_each: u64| {
            for _ in 0..n {
                stats.add_nanos(nanos_each);
                stats.count_operation();
                state.observe(&stats);
            }
        };
        assert_eq!(state.ratio(), 1.0);

        // Fewer operations than a window: no adjustment yet.
        operations(WINDOW_OPERATIONS - 1, 300_000);
        assert_eq!(state.ratio(), 1.0);

        // Three windows at 300 µs per operation, three times the budget.
        operations(1 + 2 * WINDOW_OPERATIONS, 300_000);
        assert_eq!(state.ratio(), 0.125);

        // Four windows at 10 µs per operation, well under.
        operations(4 * WINDOW_OPERATIONS, 10_000);
        assert!((state.ratio() - 0.325).abs() < 1e-9, "{}", state.ratio());

        operations(100 * WINDOW_OPERATIONS, 10_000);
        assert_eq!(state.ratio(), 1.0);
    }

    #[test]
    fn fixed_modes_ignore_overhead() {
        let state = SamplerState::new(Sampling::Ratio(0.5));
        let stats = OverheadStats::default();
        stats.add_nanos(u64::MAX / 2);
        for _ in 0..WINDOW_OPERATIONS {
            stats.count_operation();
            state.observe(&stats);
        }
        assert_eq!(state.ratio(), 0.5);
    }
}
