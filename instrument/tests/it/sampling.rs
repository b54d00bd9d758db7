//! The sampler as pipelines meet it: through `#[tracing::instrument]` spans and the OpenTelemetry
//! layer, which hands the span's initial fields to the sampler.

use std::time::Duration;

use crate::support::{Harness, attr};
use ironforge_instrument::Sampling;
use ironforge_instrument::semconv::{Stage, attr};
use opentelemetry::Value;

#[tracing::instrument(skip_all)]
fn helper(depth: u32) {
    if depth > 0 {
        helper(depth - 1);
    }
}

#[tracing::instrument(skip_all, fields(ironforge.span.kind = "pattern"))]
fn pattern() {}

#[tracing::instrument(skip_all, fields(
    ironforge.span.kind = "session",
    ironforge.stage = %stage,
    ironforge.session.id = %id,
))]
fn session(stage: Stage, id: &str) {
    helper(2);
    pattern();
}

#[tracing::instrument(skip_all, fields(ironforge.span.kind = "stage", ironforge.stage = %stage))]
fn stage(stage: Stage, n: usize) {
    for i in 0..n {
        session(stage, &format!("S{i}"));
    }
}

#[tracing::instrument(skip_all, fields(ironforge.span.kind = "init"))]
fn init_pipeline() {
    helper(0);
}

#[tracing::instrument(skip_all, fields(ironforge.span.kind = "run"))]
fn run(sessions: usize) {
    init_pipeline();
    for s in Stage::ALL {
        stage(*s, sessions);
    }
}

fn kinds(h: &Harness) -> Vec<String> {
    let mut kinds: Vec<String> = h
        .finished_spans()
        .iter()
        .map(|s| match attr(s, attr::SPAN_KIND) {
            Some(Value::String(k)) => k.as_str().to_owned(),
            _ => format!("<{}>", s.name),
        })
        .collect();
    kinds.sort();
    kinds
}

fn count(kinds: &[String], k: &str) -> usize {
    kinds.iter().filter(|x| *x == k).count()
}

#[test]
fn ratio_zero_keeps_every_monitored_span_and_nothing_else() {
    let h = Harness::new(Sampling::Ratio(0.0));
    h.run(|| run(3));
    let kinds = kinds(&h);
    assert_eq!(count(&kinds, "run"), 1);
    assert_eq!(count(&kinds, "init"), 1);
    assert_eq!(count(&kinds, "stage"), 4);
    assert_eq!(count(&kinds, "session"), 12);
    assert_eq!(kinds.len(), 18, "only monitored spans: {kinds:?}");
}

#[test]
fn always_keeps_everything() {
    let h = Harness::new(Sampling::Always);
    h.run(|| run(3));
    let kinds = kinds(&h);
    // Per session: three nested helpers and a pattern; init has one helper.
    assert_eq!(count(&kinds, "<helper>"), 12 * 3 + 1);
    assert_eq!(count(&kinds, "pattern"), 12);
    assert_eq!(kinds.len(), 18 + 37 + 12);
}

#[test]
fn ratio_exports_that_fraction_of_unmonitored_roots() {
    let h = Harness::new(Sampling::Ratio(0.5));
    h.run(|| {
        for _ in 0..100 {
            helper(0);
        }
    });
    assert_eq!(h.finished_spans().len(), 50);
}

#[test]
fn children_of_a_dropped_span_are_dropped_unless_monitored() {
    let h = Harness::new(Sampling::Ratio(0.0));
    h.run(|| {
        let wrapper = tracing::info_span!("wrapper");
        wrapper.in_scope(|| {
            helper(1);
            session(Stage::Discovery, "NY_AM");
        });
    });
    let spans = h.finished_spans();
    let names: Vec<&str> = spans.iter().map(|s| s.name.as_ref()).collect();
    assert_eq!(names, vec!["session"]);
    // The session still names the dropped wrapper as its parent: the monitor sees a gap there.
    assert_ne!(
        spans[0].parent_span_id,
        opentelemetry::trace::SpanId::INVALID
    );
}

#[test]
fn a_kind_recorded_after_the_span_started_is_not_seen_by_the_sampler() {
    let h = Harness::new(Sampling::Ratio(0.0));
    h.run(|| {
        let s = tracing::info_span!("late", ironforge.span.kind = tracing::field::Empty);
        let _entered = s.enter();
        s.record(attr::SPAN_KIND, "session");
    });
    assert!(h.finished_spans().is_empty());
}

#[test]
fn a_kind_recorded_before_the_span_started_is_seen() {
    let h = Harness::new(Sampling::Ratio(0.0));
    h.run(|| {
        let s = tracing::info_span!("early", ironforge.span.kind = tracing::field::Empty);
        // tracing-opentelemetry starts the OpenTelemetry span lazily, on first enter.
        s.record(attr::SPAN_KIND, "session");
        s.in_scope(|| {});
    });
    assert_eq!(h.finished_spans().len(), 1);
}

#[test]
fn an_impossible_budget_lowers_the_ratio_but_keeps_monitored_spans() {
    let h = Harness::new(Sampling::OverheadBudget(Duration::ZERO));
    assert_eq!(h.instrumentation.sampling_ratio(), 1.0);
    h.run(|| run(5));
    // 46 monitored operations (run, init, 4 stages, 20 sessions, 20 patterns): five windows of
    // eight, each over a zero budget, halve the ratio five times.
    let ratio = h.instrumentation.sampling_ratio();
    assert_eq!(ratio, 1.0 / 32.0);
    let kinds = kinds(&h);
    assert_eq!(count(&kinds, "run"), 1);
    assert_eq!(count(&kinds, "stage"), 4);
    assert_eq!(count(&kinds, "session"), 20);
    assert!(
        count(&kinds, "pattern") < 20,
        "later patterns are sampled out: {kinds:?}"
    );
}

#[test]
fn a_generous_budget_keeps_the_ratio_at_one() {
    let h = Harness::new(Sampling::OverheadBudget(Duration::from_secs(1)));
    h.run(|| run(5));
    assert_eq!(h.instrumentation.sampling_ratio(), 1.0);
    assert_eq!(count(&kinds(&h), "pattern"), 20);
}
