//! The exposition as a whole, held against a recorded copy: a metric's name, help, unit, type, label names
//! and their order are a contract with the alert rules and dashboards, so any change to them shows up here as
//! a failing diff rather than a silently broken panel.
//!
//! The library writes a family's series in hash order, which differs between runs, so both sides are compared
//! with each family's series sorted by their labels (a series' own lines keep their order).

use std::time::{Duration, Instant};

use ironforge_proto::semconv::{SpanKind, Stage, attr};

use super::names::value;
use super::{MemoryScope, MemoryUsage, Metrics, RequestOutcome, Transport};
use ironforge_engine::EngineStats;
use ironforge_engine::model::{SpanId, SpanRecord, TraceId};
use ironforge_engine::verdict::{
    Category, Severity, StageDuration, TraceVerdict, VerdictStatus, Violation,
};
use ironforge_wal::WalUsage;

const OPENMETRICS: &str = include_str!("testdata/exposition.openmetrics.txt");
const PROMETHEUS_TEXT: &str = include_str!("testdata/exposition.prometheus.txt");

/// 2025-08-04T09:33:20.5Z
const AT: u64 = 1_754_300_000_500_000_000;

/// Span histograms stamp their exemplars with the time of recording, not of the span.
const STAMPED_NOW: [&str; 3] = [
    "ironforge_session_duration_seconds_bucket",
    "ironforge_run_duration_seconds_bucket",
    "ironforge_pattern_authenticity_bucket",
];

fn violation(trace: u8) -> Violation {
    Violation {
        trace_id: TraceId([trace; 16]),
        span_id: Some(SpanId([trace; 8])),
        contract_id: "session_duration".to_owned(),
        pipeline: None,
        category: Category::Timing,
        severity: Severity::Critical,
        blocks_production: true,
        observed: 2.0,
        threshold: 1.0,
        unit: "s".to_owned(),
        stage: None,
        session_id: None,
        message: String::new(),
        time_unix_nano: AT + u64::from(trace),
    }
}

fn verdict(trace: u8, status: VerdictStatus, stages: &[(&str, f64)]) -> TraceVerdict {
    TraceVerdict {
        trace_id: TraceId([trace; 16]),
        status,
        production_ready: status == VerdictStatus::Pass,
        violations: Vec::new(),
        violations_over_limit: 0,
        stage_durations: stages
            .iter()
            .map(|&(stage, seconds)| StageDuration {
                stage: stage.to_owned(),
                seconds,
            })
            .collect(),
        span_count: 1,
        incomplete_reason: None,
        decided_unix_nano: if trace == 0 { 0 } else { AT },
        service_name: None,
        evicted: false,
        attributes_truncated: 0,
    }
}

fn span(
    kind: Option<SpanKind>,
    stage: Option<Stage>,
    millis: u64,
    facts: &[(&str, f64)],
) -> SpanRecord {
    let mut span = SpanRecord::new(TraceId([0x5c; 16]), SpanId([3; 8]), "span");
    span.kind = kind;
    span.stage = stage;
    span.start_unix_nano = AT;
    span.end_unix_nano = AT + millis * 1_000_000;
    for &(key, number) in facts {
        span.facts.set(key, number);
    }
    span
}

/// What the pipelines' traces leave: violations, verdicts and monitored spans. Each span histogram is given
/// one exemplar-taking span only, since later ones within a second take none.
fn record_pipelines(metrics: &Metrics) {
    for trace in [1, 3] {
        metrics.violation(&violation(trace));
    }
    metrics.verdict(&verdict(
        4,
        VerdictStatus::Pass,
        &[("discovery", 42.0), ("validation", f64::NAN)],
    ));
    metrics.verdict(&verdict(0, VerdictStatus::Pass, &[("discovery", 700.0)]));
    let session = [
        (attr::MEMORY_PEAK, 2.5e8),
        (attr::PATTERN_AUTHENTICITY, 0.91),
    ];
    let spans = [
        span(
            Some(SpanKind::Session),
            Some(Stage::Validation),
            1_200,
            &session,
        ),
        span(
            Some(SpanKind::Run),
            None,
            95_000,
            &[(attr::MEMORY_PEAK, f64::NAN)],
        ),
        span(
            Some(SpanKind::Pattern),
            None,
            10,
            &[(attr::PATTERN_AUTHENTICITY, f64::NAN)],
        ),
        span(None, None, 10, &[(attr::MEMORY_PEAK, 9.0)]),
    ];
    // One batch: the spans share its time, as a shard worker gives it.
    let now = Instant::now();
    for span in &spans {
        metrics.span(span, now);
    }
    metrics.decision_delay(0.003);
    metrics.health(120.0);
    metrics.health(f64::NAN);
    metrics.pipeline_health("ironforge", 87.5);
    metrics.pipeline_health("ironforge-replay", -3.0);
    metrics.pipeline_forgotten("ironforge-replay");
    metrics.trace_unmonitored();
}

/// What the receivers, the engine shards and the listeners report.
fn record_ingest(metrics: &Metrics) {
    metrics.spans_received(Transport::Grpc, 7, 0);
    metrics.spans_received(Transport::Grpc, 2, 0);
    metrics.request(Transport::Grpc, RequestOutcome::Ok, 0.004);
    metrics.request(Transport::Grpc, RequestOutcome::Ok, f64::NAN);
    metrics.metric_points_received(Transport::Http, 11);
    metrics.traces_evicted(2);
    let stats = EngineStats {
        late_spans: 1,
        spans_duplicate: 2,
        spans_over_limit: 3,
        batches_refused: 4,
        verdicts_forgotten: 5,
        ..EngineStats::default()
    };
    metrics.engine_stats(&stats, 6);
    metrics.memory(MemoryUsage {
        engine: 7_000_000,
        requests: 4_000_000,
    });
    metrics.resident_memory(52_000_000);
    metrics.transport().auth_refused("otlp_grpc", "missing");
    metrics.transport().tls_handshake_failed("admin");
}

/// What the outputs, the contract reloads, the write-ahead log and the analysis thread report.
fn record_outputs_wal_and_analysis(metrics: &Metrics) {
    metrics.events_suppressed("memory_footprint", 4);
    metrics.output_exported(value::OTLP_LOGS, 9);
    metrics.output_dropped(value::OTLP_LOGS, 2);
    metrics.output_overflow(value::OTLP_LOGS, 1);
    metrics.output_retry("webhook");
    metrics.queue_depth("webhook", 3);
    metrics.queue_bytes("webhook", 4096);
    metrics.config_reload(false);
    let wal = WalUsage::default();
    wal.synced(Duration::from_micros(700));
    wal.failed();
    wal.set_full(true);
    metrics.wal().observe(&wal);
    let analysis = metrics.analysis();
    analysis.critical_path_share("ironforge", "discovery", 0.75);
    analysis.regression("ironforge", "run.duration_seconds", false);
    analysis.memory_trend("ironforge", MemoryScope::History, true, f64::INFINITY);
    analysis.analysed(0.0004);
    analysis.dropped();
    analysis.history_error();
}

fn recorded() -> Metrics {
    let metrics = Metrics::new();
    record_pipelines(&metrics);
    record_ingest(&metrics);
    record_outputs_wal_and_analysis(&metrics);
    metrics
}

/// Replaces the wall-clock timestamp of the span histograms' exemplars, the one part of the text that differs
/// from run to run, and puts each family's series in the order of their labels.
fn normalised(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut samples: Vec<String> = Vec::new();
    let flush = |samples: &mut Vec<String>, out: &mut String| {
        samples.sort_by_key(|line| series_key(line));
        for line in samples.drain(..) {
            out.push_str(&line);
            out.push('\n');
        }
    };
    for line in text.lines() {
        if line.starts_with('#') {
            flush(&mut samples, &mut out);
            out.push_str(line);
            out.push('\n');
            continue;
        }
        let stamped = STAMPED_NOW.iter().any(|name| line.starts_with(name));
        samples.push(match line.rsplit_once(' ') {
            Some((rest, _)) if stamped && line.contains(" # {") => format!("{rest} <now>"),
            _ => line.to_owned(),
        });
    }
    flush(&mut samples, &mut out);
    out
}

/// A sample line's series: its labels without the bucket bound, so a histogram's lines stay together and in
/// the order the library wrote them (the sort is stable).
fn series_key(line: &str) -> String {
    let labels = line
        .split_once('{')
        .and_then(|(_, rest)| rest.split_once('}'))
        .map_or("", |(labels, _)| labels);
    labels
        .split(',')
        .filter(|pair| !pair.starts_with("le="))
        .collect::<Vec<_>>()
        .join(",")
}

#[test]
fn openmetrics_text_matches_the_recorded_exposition() {
    let text = recorded().encode().expect("encode");
    assert_eq!(normalised(&text), OPENMETRICS);
}

#[test]
fn prometheus_text_matches_the_recorded_exposition() {
    let text = recorded().encode_prometheus_text().expect("encode");
    assert_eq!(normalised(&text), PROMETHEUS_TEXT);
}
