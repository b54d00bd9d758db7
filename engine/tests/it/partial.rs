//! Partial traces are never a pass: a run that declares its sessions and lacks a stage, or session spans of
//! a stage, is `incomplete`, saying what is missing.

use std::time::Instant;

use ironforge_engine::Engine;
use ironforge_engine::model::{SpanId, SpanRecord};
use ironforge_engine::verdict::{TraceVerdict, VerdictStatus};
use ironforge_proto::semconv::{SpanKind, Stage, attr};

use crate::support::{at, defaults, span, verdicts};

/// A run declaring `declared` sessions, with `sessions(stage)` session spans under each stage it reaches.
fn run(trace: u8, declared: i64, sessions: impl Fn(Stage) -> Option<u8>) -> Vec<SpanRecord> {
    let mut root = span(trace, 1, None, Some(SpanKind::Run));
    root.facts.set(attr::RUN_SESSION_COUNT, declared);
    let mut spans = vec![root];
    for (index, stage) in Stage::ALL.iter().enumerate() {
        let Some(count) = sessions(*stage) else {
            continue;
        };
        let stage_id = 10 + index as u8;
        let mut stage_span = span(trace, stage_id, Some(1), Some(SpanKind::Stage));
        stage_span.stage = Some(*stage);
        spans.push(stage_span);
        for session in 0..count {
            let mut s = span(trace, 0, Some(stage_id), Some(SpanKind::Session));
            s.span_id = SpanId([stage_id, session, 1, 1, 1, 1, 1, 1]);
            s.stage = Some(*stage);
            s.session_id = Some(format!("S{session}").into());
            spans.push(s);
        }
    }
    spans
}

fn judge(spans: Vec<SpanRecord>) -> TraceVerdict {
    let start = Instant::now();
    let mut engine = Engine::new(defaults());
    let mut events = engine.ingest(spans, at(start, 0)).unwrap();
    events.extend(engine.tick(at(start, 6)));
    verdicts(&events)[0].clone()
}

fn assert_partial(verdict: &TraceVerdict, missing: &str) {
    assert_eq!(verdict.status, VerdictStatus::Incomplete, "{verdict:?}");
    assert!(!verdict.production_ready);
    assert!(!verdict.evicted);
    let reason = verdict.incomplete_reason.as_deref().unwrap();
    assert!(reason.starts_with("partial trace: "), "{reason}");
    assert!(reason.contains(missing), "{reason}");
}

#[test]
fn a_run_declaring_sessions_with_nothing_under_it_is_incomplete() {
    let verdict = judge(run(1, 57, |_| None));
    assert_partial(
        &verdict,
        "no span of stage discovery, confluence, validation, reporting",
    );
}

#[test]
fn a_missing_stage_or_missing_session_spans_make_a_run_incomplete() {
    let no_reporting = judge(run(2, 2, |stage| (stage != Stage::Reporting).then_some(2)));
    assert_partial(&no_reporting, "no span of stage reporting");
    let short = judge(run(3, 2, |stage| {
        Some(if stage == Stage::Validation { 1 } else { 2 })
    }));
    assert_partial(&short, "validation 1 of 2");
}

#[test]
fn a_whole_run_is_judged_on_its_contracts() {
    let verdict = judge(run(4, 2, |_| Some(2)));
    assert_eq!(verdict.status, VerdictStatus::Pass, "{verdict:?}");
    assert_eq!(verdict.incomplete_reason, None);
}

#[test]
fn a_run_whose_sessions_share_an_id_is_whole_but_not_a_pass() {
    let mut spans = run(5, 2, |_| Some(2));
    for span in spans
        .iter_mut()
        .filter(|s| s.kind == Some(SpanKind::Session))
    {
        span.session_id = Some("NY_2025-08-04".into());
    }
    let verdict = judge(spans);
    assert_eq!(verdict.incomplete_reason, None);
    assert_ne!(verdict.status, VerdictStatus::Pass, "{verdict:?}");
    assert!(
        verdict
            .violations
            .iter()
            .any(|v| v.contract_id == "sessions_complete")
    );
}

#[test]
fn a_run_that_declares_no_sessions_is_not_held_to_stages() {
    let mut spans = run(6, 0, |_| None);
    spans[0].facts = Default::default();
    let verdict = judge(spans);
    assert_eq!(verdict.status, VerdictStatus::Pass, "{verdict:?}");
}

#[test]
fn a_trace_past_its_span_limit_is_incomplete_never_a_pass() {
    let contracts = crate::support::contracts(
        "",
        "limits: { max_spans_per_trace: 4 }\n",
        "  - id: session_duration\n    category: timing\n    scope: { kind: session }\n    measure: duration\n    comparison: lt\n    threshold: 5\n    severity: warning\n",
    );
    let start = Instant::now();
    let mut engine = Engine::new(contracts);
    let spans = run(2, 0, |stage| (stage == Stage::Discovery).then_some(5));
    let mut events = engine.ingest(spans, at(start, 0)).unwrap();
    events.extend(engine.tick(at(start, 6)));
    let verdict = verdicts(&events)[0];
    assert_eq!(verdict.status, VerdictStatus::Incomplete, "{verdict:?}");
    assert!(!verdict.production_ready);
    let reason = verdict.incomplete_reason.as_deref().unwrap();
    assert!(
        reason.contains("3 spans over the per-trace limits"),
        "{reason}"
    );
}

/// The contract file with its `completion.stages` replaced by `stages` (YAML flow mapping).
fn with_stages(stages: &str) -> std::sync::Arc<ironforge_engine::ContractSet> {
    let text = ironforge_engine::config::DEFAULT_CONTRACTS_YAML.replace(
        "  stages:\n    discovery: per_session\n    confluence: per_session\n    validation: per_session\n    reporting: per_session\n",
        &format!("  stages: {stages}\n"),
    );
    assert_ne!(text, ironforge_engine::config::DEFAULT_CONTRACTS_YAML);
    std::sync::Arc::new(ironforge_engine::ContractSet::new(
        ironforge_engine::config::ContractFile::parse(&text, "stages.yaml").unwrap(),
        None,
    ))
}

fn judge_under(
    contracts: std::sync::Arc<ironforge_engine::ContractSet>,
    spans: Vec<SpanRecord>,
) -> TraceVerdict {
    let start = Instant::now();
    let mut engine = Engine::new(contracts);
    let mut events = engine.ingest(spans, at(start, 0)).unwrap();
    events.extend(engine.tick(at(start, 6)));
    verdicts(&events)[0].clone()
}

/// Validation and reporting working once over all sessions: a stage span each, no session spans under them.
fn whole_run_tail(trace: u8) -> Vec<SpanRecord> {
    run(trace, 2, |stage| {
        Some(if matches!(stage, Stage::Validation | Stage::Reporting) {
            0
        } else {
            2
        })
    })
}

#[test]
fn stages_declared_whole_run_need_their_stage_span_only() {
    let contracts = with_stages(
        "{ discovery: per_session, confluence: per_session, validation: whole_run, reporting: whole_run }",
    );
    let verdict = judge_under(contracts, whole_run_tail(7));
    assert_eq!(verdict.incomplete_reason, None, "{verdict:?}");
    assert_eq!(verdict.status, VerdictStatus::Pass, "{verdict:?}");
    assert!(verdict.production_ready);
}

#[test]
fn the_default_stages_fan_out_per_session() {
    assert_partial(
        &judge(whole_run_tail(8)),
        "session spans per stage short of the 2 declared: validation 0 of 2, reporting 0 of 2",
    );
}

#[test]
fn a_whole_run_stage_is_still_required() {
    let contracts = with_stages("{ discovery: per_session, reporting: whole_run }");
    let verdict = judge_under(
        contracts,
        run(9, 2, |stage| (stage == Stage::Discovery).then_some(2)),
    );
    assert_partial(&verdict, "no span of stage reporting");
    assert!(
        !verdict
            .incomplete_reason
            .as_deref()
            .unwrap()
            .contains("confluence"),
        "a stage the file does not list is not required: {verdict:?}"
    );
}

#[test]
fn an_unknown_stage_in_the_contract_file_names_its_line() {
    let text = ironforge_engine::config::DEFAULT_CONTRACTS_YAML.replace(
        "    reporting: per_session\n",
        "    reportng: per_session\n",
    );
    let err = ironforge_engine::config::ContractFile::parse(&text, "stages.yaml").unwrap_err();
    let located = err.located().unwrap();
    assert_eq!(located.file, "stages.yaml");
    let line = text.lines().position(|l| l.contains("reportng")).unwrap() + 1;
    assert_eq!(located.line, Some(line), "{err}");
    assert!(err.to_string().contains("completion.stages"), "{err}");
    assert!(
        err.to_string().contains("unknown stage `reportng`"),
        "{err}"
    );
}
