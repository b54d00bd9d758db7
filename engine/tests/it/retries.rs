//! Idempotent ingest: an exporter retries a request whose answer it did not get, so the engine must judge a
//! span given twice (before its trace's verdict or after) as if it came once.

use std::collections::BTreeSet;
use std::time::Instant;

use crate::support::{at, defaults, properties, span, verdicts, violations};
use ironforge_engine::model::{SpanId, SpanRecord, TraceId};
use ironforge_engine::verdict::VerdictStatus;
use ironforge_engine::{Engine, EngineEvent};
use ironforge_proto::semconv::{SpanKind, Stage, attr};
use proptest::prelude::*;

/// A run of one stage with `sessions` session spans, each scoring `authenticity`. It declares no session
/// count, so one stage is a whole run.
fn run(trace: u8, sessions: u8, authenticity: f64) -> Vec<SpanRecord> {
    let root = span(trace, 1, None, Some(SpanKind::Run));
    let mut stage = span(trace, 2, Some(1), Some(SpanKind::Stage));
    stage.stage = Some(Stage::Discovery);
    let mut spans = vec![root, stage];
    for index in 0..sessions {
        let mut session = span(trace, 10 + index, Some(2), Some(SpanKind::Session));
        session.stage = Some(Stage::Discovery);
        session.session_id = Some(format!("NY_AM_2025-08-{:02}", index + 1).into());
        session.facts.set(attr::PATTERN_AUTHENTICITY, authenticity);
        spans.push(session);
    }
    spans
}

type ViolationKey = (TraceId, String, Option<SpanId>);

/// What a person reads of a batch's outcome: each trace's status, readiness and span count, and the
/// violations raised, by trace, contract and span.
fn outcome(events: &[EngineEvent]) -> (BTreeSet<String>, BTreeSet<ViolationKey>) {
    let verdicts = verdicts(events)
        .into_iter()
        .map(|v| {
            let mut contracts: Vec<_> = v
                .violations
                .iter()
                .map(|violation| violation.contract_id.clone())
                .collect();
            contracts.sort();
            format!(
                "{} {:?} ready={} spans={} {contracts:?}",
                v.trace_id, v.status, v.production_ready, v.span_count
            )
        })
        .collect();
    let violations = violations(events)
        .into_iter()
        .map(|v| (v.trace_id, v.contract_id.clone(), v.span_id))
        .collect();
    (verdicts, violations)
}

fn judge(requests: &[Vec<SpanRecord>]) -> (Engine, Vec<EngineEvent>) {
    let start = Instant::now();
    let mut engine = Engine::new(defaults());
    let mut events = Vec::new();
    for request in requests {
        events.extend(engine.ingest(request.clone(), at(start, 0)).unwrap());
    }
    events.extend(engine.finish_all(at(start, 1)));
    (engine, events)
}

#[test]
fn a_retried_request_leaves_a_clean_run_clean() {
    let request = run(1, 3, 0.95);
    let (_, once) = judge(std::slice::from_ref(&request));
    let (engine, twice) = judge(&[request.clone(), request.clone()]);
    let verdict = verdicts(&twice)[0];
    assert_eq!(verdict.status, VerdictStatus::Pass, "{verdict:?}");
    assert!(verdict.production_ready);
    assert_eq!(verdict.span_count, 5);
    assert_eq!(outcome(&once), outcome(&twice));
    assert_eq!(engine.stats().spans_duplicate, request.len() as u64);
}

#[test]
fn a_retried_request_does_not_double_a_violation() {
    let mut request = run(2, 3, 0.95);
    request[3].facts.set(attr::PATTERN_AUTHENTICITY, 0.3);
    let (_, twice) = judge(&[request.clone(), request]);
    let authenticity: Vec<_> = violations(&twice)
        .into_iter()
        .filter(|v| v.contract_id == "pattern_authenticity")
        .collect();
    assert_eq!(authenticity.len(), 1, "{authenticity:?}");
    let verdict = verdicts(&twice)[0];
    let kept = verdict
        .violations
        .iter()
        .filter(|v| v.contract_id == "pattern_authenticity")
        .count();
    assert_eq!(kept, 1, "{verdict:?}");
}

#[test]
fn a_request_retried_after_the_verdict_changes_nothing() {
    let start = Instant::now();
    let mut request = run(3, 3, 0.95);
    request[3].facts.set(attr::PATTERN_AUTHENTICITY, 0.3);
    let mut engine = Engine::new(defaults());
    engine.ingest(request.clone(), at(start, 0)).unwrap();
    let decided = engine.finish_all(at(start, 1));
    let before = verdicts(&decided)[0].clone();

    let again = engine.ingest(request.clone(), at(start, 2)).unwrap();
    assert!(again.is_empty(), "{again:?}");
    assert_eq!(engine.verdict(&before.trace_id), Some(&before));
    assert_eq!(engine.stats().spans_duplicate, request.len() as u64);
    assert_eq!(engine.stats().late_spans, 0);

    // A span the trace never had is still late, and still judged.
    let mut late = span(3, 40, Some(2), Some(SpanKind::Session));
    late.stage = Some(Stage::Discovery);
    late.facts.set(attr::PATTERN_AUTHENTICITY, 0.2);
    let revised = engine.ingest(vec![late.clone()], at(start, 3)).unwrap();
    assert_eq!(violations(&revised).len(), 1, "{revised:?}");
    assert_eq!(engine.stats().late_spans, 1);
    // And that one, given again, is a duplicate too.
    assert!(engine.ingest(vec![late], at(start, 4)).unwrap().is_empty());
}

proptest! {
    #![proptest_config(properties::kept_next_to_source(ProptestConfig::with_cases(64)))]

    /// Any split of some runs into requests, each delivered one to three times in any order, is judged as
    /// the requests delivered once in order.
    #[test]
    fn requests_delivered_more_than_once_in_any_order_judge_as_once(
        scores in prop::collection::vec(0.0..1.0f64, 3),
        cuts in prop::collection::vec(1..6usize, 1..8),
        copies in prop::collection::vec(1..=3usize, 8),
        order in Just((0..24usize).collect::<Vec<_>>()).prop_shuffle(),
    ) {
        let spans: Vec<SpanRecord> = scores
            .iter()
            .enumerate()
            .flat_map(|(trace, score)| run(u8::try_from(trace).unwrap() + 1, 4, *score))
            .collect();
        let mut requests = Vec::new();
        let mut rest = spans.as_slice();
        for cut in cuts.iter().cycle() {
            if rest.is_empty() {
                break;
            }
            let (request, after) = rest.split_at((*cut).min(rest.len()));
            requests.push(request.to_vec());
            rest = after;
        }
        let mut deliveries: Vec<Vec<SpanRecord>> = requests
            .iter()
            .enumerate()
            .flat_map(|(index, request)| {
                std::iter::repeat_n(request.clone(), copies[index % copies.len()])
            })
            .collect();
        let mut shuffled = Vec::with_capacity(deliveries.len());
        let delivered = deliveries.len();
        for index in order.iter().filter(|index| **index < delivered) {
            shuffled.push(std::mem::take(&mut deliveries[*index]));
        }
        shuffled.extend(deliveries.into_iter().filter(|d| !d.is_empty()));

        let (_, once) = judge(&requests);
        let (engine, repeated) = judge(&shuffled);
        prop_assert_eq!(outcome(&once), outcome(&repeated));
        let extra: usize = shuffled.iter().map(Vec::len).sum::<usize>() - spans.len();
        prop_assert_eq!(engine.stats().spans_duplicate, extra as u64);
    }
}
