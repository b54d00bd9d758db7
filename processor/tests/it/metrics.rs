//! The processor's metrics as a scraper sees them: exact exposition lines, exemplars naming the trace, and the
//! text accepted by Prometheus's own linter.

// Helpers outside `#[test]` functions fail the test loudly, as the tests themselves do.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Instant;

use crate::violation_support::slow_session;
use ironforge_engine::{ContractSet, EngineStats};
use ironforge_processor::config::ContractFile;
use ironforge_processor::model::{Facts, SpanId, SpanRecord, TraceId};
use ironforge_processor::verdict::{
    Category, Severity, StageDuration, TraceVerdict, VerdictStatus, Violation,
};
use ironforge_proto::semconv::attr;
use ironforge_proto::semconv::{SpanKind, Stage};
use ironforge_telemetry::names::{metric, value};
use ironforge_telemetry::{MemoryScope, MemoryUsage, Metrics, RequestOutcome, Transport};
use ironforge_wal::WalUsage;

const TRACE: TraceId = TraceId([0x4b; 16]);
const OTHER_TRACE: TraceId = TraceId([
    0x0a, 0xf7, 0x65, 0x19, 0x16, 0xcd, 0x43, 0xdd, 0x84, 0x48, 0xeb, 0x21, 0x1c, 0x80, 0x31, 0x9c,
]);
/// 2025-08-04T09:33:20.5Z
const DECIDED_AT: u64 = 1_754_300_000_500_000_000;

fn violation(trace_id: TraceId) -> Violation {
    Violation {
        pipeline: Some("ironforge".into()),
        ..slow_session(trace_id, SpanId([7; 8]), DECIDED_AT)
    }
}

/// A span lasting `tenths` tenths of a second.
fn span(kind: Option<SpanKind>, stage: Option<Stage>, tenths: u64, facts: Facts) -> SpanRecord {
    SpanRecord {
        trace_id: TRACE,
        span_id: SpanId([9; 8]),
        parent_span_id: None,
        name: "span".into(),
        service_name: Some("ironforge".into()),
        start_unix_nano: DECIDED_AT,
        end_unix_nano: DECIDED_AT + tenths * 100_000_000,
        kind,
        stage,
        session_id: Some("NY_AM_2025-08-04".into()),
        facts,
    }
}

/// A session span in `stage` with a memory peak and an authenticity.
fn session_span(
    stage: Stage,
    tenths: u64,
    memory_peak_bytes: f64,
    authenticity: f64,
) -> SpanRecord {
    let mut facts = Facts::default();
    facts.set(attr::MEMORY_PEAK, memory_peak_bytes);
    facts.set(attr::PATTERN_AUTHENTICITY, authenticity);
    span(Some(SpanKind::Session), Some(stage), tenths, facts)
}

fn encoded(metrics: &Metrics) -> String {
    metrics.encode().expect("metrics encode")
}

#[track_caller]
fn assert_line(text: &str, line: &str) {
    assert!(
        text.lines().any(|candidate| candidate == line),
        "missing line\n  {line}\nin\n{text}"
    );
}

#[track_caller]
fn assert_line_starting(text: &str, prefix: &str) {
    assert!(
        text.lines().any(|candidate| candidate.starts_with(prefix)),
        "no line starts with\n  {prefix}\nin\n{text}"
    );
}

#[test]
fn violations_are_counted_by_contract_with_the_latest_trace_as_exemplar() {
    let metrics = Metrics::new();
    metrics.violation(&violation(TRACE));
    let text = encoded(&metrics);
    assert_line(&text, "# TYPE ironforge_violations counter");
    assert_line(
        &text,
        "ironforge_violations_total{pipeline=\"ironforge\",contract=\"single_session_processing\",category=\"timing\",severity=\"critical\"} 1 \
         # {trace_id=\"4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b\"} 1.0 1754300000.5",
    );

    metrics.violation(&violation(OTHER_TRACE));
    assert_line(
        &encoded(&metrics),
        "ironforge_violations_total{pipeline=\"ironforge\",contract=\"single_session_processing\",category=\"timing\",severity=\"critical\"} 2 \
         # {trace_id=\"0af7651916cd43dd8448eb211c80319c\"} 1.0 1754300000.5",
    );
}

#[test]
fn verdicts_are_counted_by_status_and_readiness_and_time_their_stages() {
    let metrics = Metrics::new();
    metrics.verdict(&TraceVerdict {
        trace_id: TRACE,
        status: VerdictStatus::Fail,
        production_ready: false,
        violations: vec![violation(TRACE)],
        violations_over_limit: 0,
        stage_durations: vec![
            StageDuration {
                stage: "discovery".to_owned(),
                seconds: 150.0,
            },
            StageDuration {
                stage: "reporting".to_owned(),
                seconds: 0.2,
            },
        ],
        span_count: 60,
        incomplete_reason: None,
        decided_unix_nano: DECIDED_AT,
        service_name: Some("ironforge".to_owned()),
        evicted: false,
        attributes_truncated: 0,
    });
    let text = encoded(&metrics);
    let exemplar = "# {trace_id=\"4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b\"}";
    assert_line(
        &text,
        &format!(
            "ironforge_traces_total{{pipeline=\"ironforge\",status=\"fail\",production_ready=\"false\"}} 1 {exemplar} 1.0 1754300000.5"
        ),
    );
    // The pipeline's other statuses read 0 from its first verdict, not nothing.
    assert_line(
        &text,
        "ironforge_traces_total{pipeline=\"ironforge\",status=\"pass\",production_ready=\"true\"} 0",
    );
    assert_line(&text, "# TYPE ironforge_stage_duration_seconds histogram");
    assert_line(&text, "# UNIT ironforge_stage_duration_seconds seconds");
    assert_line(
        &text,
        "ironforge_stage_duration_seconds_bucket{le=\"120.0\",pipeline=\"ironforge\",stage=\"discovery\"} 0",
    );
    assert_line(
        &text,
        &format!(
            "ironforge_stage_duration_seconds_bucket{{le=\"180.0\",pipeline=\"ironforge\",stage=\"discovery\"}} 1 {exemplar} 150.0 1754300000.5"
        ),
    );
    assert_line(
        &text,
        "ironforge_stage_duration_seconds_sum{pipeline=\"ironforge\",stage=\"discovery\"} 150.0",
    );
    assert_line(
        &text,
        "ironforge_stage_duration_seconds_count{pipeline=\"ironforge\",stage=\"discovery\"} 1",
    );
    assert_line(
        &text,
        &format!(
            "ironforge_stage_duration_seconds_bucket{{le=\"0.25\",pipeline=\"ironforge\",stage=\"reporting\"}} 1 {exemplar} 0.2 1754300000.5"
        ),
    );
}

#[test]
fn each_pipeline_has_its_own_series_and_every_contract_starts_at_zero() {
    let now = Instant::now();
    let metrics = Metrics::new();
    let contracts = ContractSet::new(ContractFile::embedded_default().unwrap(), None);
    metrics.contracts(&contracts);
    metrics.violation(&violation(TRACE));
    let mut other = span(Some(SpanKind::Run), None, 2, Facts::default());
    other.service_name = Some("ironforge-nightly".into());
    metrics.span(&other, now);
    metrics.span(
        &span(Some(SpanKind::Run), None, 2000, Facts::default()),
        now,
    );
    let text = encoded(&metrics);
    for contract in contracts.contracts() {
        let prefix = format!(
            "ironforge_violations_total{{pipeline=\"ironforge\",contract=\"{}\",",
            contract.id
        );
        assert_line_starting(&text, &prefix);
    }
    assert_line(
        &text,
        "ironforge_violations_total{pipeline=\"ironforge\",contract=\"pattern_authenticity\",category=\"quality\",severity=\"critical\"} 0",
    );
    assert_line(
        &text,
        "ironforge_run_duration_seconds_count{pipeline=\"ironforge-nightly\"} 1",
    );
    assert_line(
        &text,
        "ironforge_run_duration_seconds_count{pipeline=\"ironforge\"} 1",
    );
}

#[test]
fn monitored_spans_feed_durations_memory_and_authenticity() {
    let now = Instant::now();
    let metrics = Metrics::new();
    // 3 s: on the bucket edge, which counts as inside it.
    metrics.span(&session_span(Stage::Discovery, 30, 52_428_800.0, 0.86), now);
    metrics.span(
        &span(Some(SpanKind::Session), None, 5, Facts::default()),
        now,
    );
    metrics.span(
        &span(Some(SpanKind::Run), None, 2000, Facts::default()),
        now,
    );
    let mut pattern_facts = Facts::default();
    pattern_facts.set(attr::PATTERN_AUTHENTICITY, 0.95);
    metrics.span(&span(Some(SpanKind::Pattern), None, 1, pattern_facts), now);
    let text = encoded(&metrics);
    let exemplar = "# {trace_id=\"4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b\"}";

    assert_line(
        &text,
        "ironforge_session_duration_seconds_bucket{le=\"2.0\",pipeline=\"ironforge\",stage=\"discovery\"} 0",
    );
    assert_line_starting(
        &text,
        &format!(
            "ironforge_session_duration_seconds_bucket{{le=\"3.0\",pipeline=\"ironforge\",stage=\"discovery\"}} 1 {exemplar} 3.0 "
        ),
    );
    assert_line(
        &text,
        "ironforge_session_duration_seconds_count{pipeline=\"ironforge\",stage=\"unknown\"} 1",
    );
    assert_line(&text, "# UNIT ironforge_run_duration_seconds seconds");
    assert_line(
        &text,
        "ironforge_run_duration_seconds_bucket{le=\"180.0\",pipeline=\"ironforge\"} 0",
    );
    assert_line_starting(
        &text,
        &format!(
            "ironforge_run_duration_seconds_bucket{{le=\"300.0\",pipeline=\"ironforge\"}} 1 {exemplar} 200.0 "
        ),
    );
    assert_line(&text, "# UNIT ironforge_memory_peak_bytes bytes");
    assert_line(
        &text,
        "ironforge_memory_peak_bytes{pipeline=\"ironforge\",kind=\"session\"} 52428800.0",
    );
    // Every peak counts in the histogram too: 50 MiB is under the 64 MiB bound, over the 32 MiB one.
    assert_line(
        &text,
        "ironforge_span_memory_peak_bytes_count{pipeline=\"ironforge\",kind=\"session\"} 1",
    );
    assert_line(
        &text,
        "ironforge_pattern_authenticity_bucket{le=\"0.85\",pipeline=\"ironforge\",kind=\"session\"} 0",
    );
    assert_line_starting(
        &text,
        &format!(
            "ironforge_pattern_authenticity_bucket{{le=\"0.87\",pipeline=\"ironforge\",kind=\"session\"}} 1 {exemplar} 0.86 "
        ),
    );
    assert_line(
        &text,
        "ironforge_pattern_authenticity_bucket{le=\"0.9\",pipeline=\"ironforge\",kind=\"pattern\"} 0",
    );
    assert_line(
        &text,
        "ironforge_pattern_authenticity_count{pipeline=\"ironforge\",kind=\"pattern\"} 1",
    );
}

#[test]
fn unmonitored_spans_and_unusable_facts_leave_no_samples() {
    let now = Instant::now();
    let metrics = Metrics::new();
    let mut facts = Facts::default();
    facts.set(attr::MEMORY_PEAK, f64::INFINITY);
    facts.set(attr::PATTERN_AUTHENTICITY, f64::NAN);
    metrics.span(&span(None, Some(Stage::Discovery), 10, facts.clone()), now);
    metrics.span(&span(Some(SpanKind::Init), None, 10, facts), now);
    let text = encoded(&metrics);
    assert!(
        !text
            .lines()
            .any(|line| line.starts_with("ironforge_pattern_authenticity_")
                || line.starts_with("ironforge_memory_peak_bytes{")
                || line.starts_with("ironforge_session_duration_seconds_")),
        "no span sample expected in\n{text}"
    );
}

#[test]
fn receiver_metrics_count_spans_and_requests_by_transport() {
    let metrics = Metrics::new();
    metrics.spans_received(Transport::Grpc, 10, 2);
    metrics.spans_received(Transport::Http, 3, 0);
    metrics.request(Transport::Http, RequestOutcome::TooLarge, 0.003);
    metrics.request(Transport::Http, RequestOutcome::Ok, 0.0004);
    metrics.request(Transport::Http, RequestOutcome::Ok, f64::NAN);
    let text = encoded(&metrics);
    assert_line(
        &text,
        "ironforge_processor_spans_received_total{transport=\"grpc\",outcome=\"accepted\"} 10",
    );
    assert_line(
        &text,
        "ironforge_processor_spans_received_total{transport=\"grpc\",outcome=\"rejected\"} 2",
    );
    assert_line(
        &text,
        "ironforge_processor_spans_received_total{transport=\"http\",outcome=\"accepted\"} 3",
    );
    assert!(!text.contains("transport=\"http\",outcome=\"rejected\""));
    assert_line(
        &text,
        "ironforge_processor_requests_total{transport=\"http\",outcome=\"too_large\"} 1",
    );
    assert_line(
        &text,
        "ironforge_processor_requests_total{transport=\"http\",outcome=\"ok\"} 2",
    );
    // The NaN duration is counted as a request but not observed.
    assert_line(
        &text,
        "ironforge_processor_request_duration_seconds_count{transport=\"http\"} 2",
    );
    assert_line(
        &text,
        "ironforge_processor_request_duration_seconds_bucket{le=\"0.0005\",transport=\"http\"} 1",
    );
}

#[test]
fn request_outcomes_are_distinct_snake_case_labels() {
    let mut seen = std::collections::HashSet::new();
    for outcome in RequestOutcome::ALL {
        let label = outcome.as_str();
        assert!(
            label.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
            "{label}"
        );
        assert!(seen.insert(label), "duplicate {label}");
    }
    assert_eq!(Transport::Grpc.as_str(), "grpc");
    assert_eq!(Transport::Http.as_str(), "http");
}

#[test]
fn engine_counters_add_what_each_shard_reports() {
    let metrics = Metrics::new();
    let delta = |late_spans, spans_over_limit| EngineStats {
        spans_accepted: 100,
        late_spans,
        spans_over_limit,
        batches_refused: 1,
        ..EngineStats::default()
    };
    metrics.engine_stats(&delta(3, 1), 12);
    metrics.engine_stats(&delta(5, 0), 4);
    let text = encoded(&metrics);
    assert_line(&text, "ironforge_processor_late_spans_total 8");
    assert_line(&text, "ironforge_processor_spans_over_limit_total 1");
    assert_line(&text, "ironforge_processor_batches_refused_total 2");
    assert_line(&text, "ironforge_processor_verdicts_forgotten_total 0");
    assert_line(&text, "ironforge_processor_traces_in_flight 4");
}

#[test]
fn the_memory_gauges_show_each_part_against_the_budget_in_force() {
    let metrics = Metrics::new();
    let contracts = ContractSet::new(ContractFile::embedded_default().unwrap(), None);
    metrics.contracts(&contracts);
    metrics.memory(MemoryUsage {
        engine: 7_000_000,
        requests: 4_000_000,
    });
    metrics.memory(MemoryUsage {
        engine: 5_000_000,
        requests: 0,
    });
    let text = encoded(&metrics);
    assert_line(&text, "ironforge_processor_memory_budget_bytes 268435456");
    assert_line(
        &text,
        r#"ironforge_processor_memory_bytes{part="engine"} 5000000"#,
    );
    assert_line(
        &text,
        r#"ironforge_processor_memory_bytes{part="requests"} 0"#,
    );
}

#[test]
fn output_reload_and_health_metrics_carry_their_labels() {
    let metrics = Metrics::new();
    metrics.events_suppressed("memory_footprint", 4);
    metrics.output_dropped(value::OTLP_LOGS, 2);
    metrics.output_dropped(value::WATCH_STREAM, 1);
    metrics.output_exported(value::OTLP_LOGS, 9);
    metrics.queue_depth(value::OTLP_LOGS, 17);
    metrics.config_reload(true);
    metrics.config_reload(false);
    metrics.config_reload(false);
    metrics.health(250.0);
    let text = encoded(&metrics);
    assert_line(
        &text,
        "ironforge_processor_events_suppressed_total{contract=\"memory_footprint\"} 4",
    );
    assert_line(
        &text,
        "ironforge_processor_output_dropped_total{output=\"otlp_logs\"} 2",
    );
    assert_line(
        &text,
        "ironforge_processor_output_dropped_total{output=\"watch_stream\"} 1",
    );
    assert_line(
        &text,
        "ironforge_processor_output_exported_total{output=\"otlp_logs\"} 9",
    );
    assert_line(
        &text,
        "ironforge_processor_queue_depth{output=\"otlp_logs\"} 17",
    );
    assert_line(
        &text,
        "ironforge_processor_config_reloads_total{outcome=\"success\"} 1",
    );
    assert_line(
        &text,
        "ironforge_processor_config_reloads_total{outcome=\"failure\"} 2",
    );
    // Clamped to the documented 0..100.
    assert_line(&text, "ironforge_pipeline_health_score 100.0");
    metrics.health(f64::NAN);
    assert_line(&encoded(&metrics), "ironforge_pipeline_health_score 100.0");
    metrics.health(42.5);
    assert_line(&encoded(&metrics), "ironforge_pipeline_health_score 42.5");
}

#[test]
fn pipeline_health_is_its_own_family_and_forgotten_pipelines_leave_it() {
    let metrics = Metrics::new();
    metrics.health(80.0);
    metrics.pipeline_health("alpha", 70.0);
    metrics.pipeline_health("beta", -5.0);
    metrics.pipeline_health("beta", f64::NAN);
    let text = encoded(&metrics);
    assert_line(&text, "# TYPE ironforge_pipeline_health_score gauge");
    assert_line(&text, "ironforge_pipeline_health_score 80.0");
    assert_line(
        &text,
        "# TYPE ironforge_pipeline_health_score_by_pipeline gauge",
    );
    assert_line(
        &text,
        "ironforge_pipeline_health_score_by_pipeline{pipeline=\"alpha\"} 70.0",
    );
    // Clamped to the documented 0..100; NaN ignored.
    assert_line(
        &text,
        "ironforge_pipeline_health_score_by_pipeline{pipeline=\"beta\"} 0.0",
    );
    metrics.pipeline_forgotten("alpha");
    let text = encoded(&metrics);
    assert!(!text.contains("pipeline=\"alpha\""), "{text}");
    assert_line(&text, "ironforge_processor_pipelines_forgotten_total 1");
}

#[test]
fn traces_dropped_without_a_run_root_are_counted() {
    let metrics = Metrics::new();
    let text = encoded(&metrics);
    assert_line(
        &text,
        "# TYPE ironforge_processor_traces_unmonitored counter",
    );
    assert_line(&text, "ironforge_processor_traces_unmonitored_total 0");
    metrics.trace_unmonitored();
    metrics.trace_unmonitored();
    assert_line(
        &encoded(&metrics),
        "ironforge_processor_traces_unmonitored_total 2",
    );
}

/// Feeds every method, so the exposition holds a sample of every metric.
fn fully_fed() -> Metrics {
    let now = Instant::now();
    let metrics = Metrics::new();
    metrics.violation(&violation(TRACE));
    metrics.verdict(&TraceVerdict {
        trace_id: OTHER_TRACE,
        status: VerdictStatus::Pass,
        production_ready: true,
        violations: Vec::new(),
        violations_over_limit: 0,
        stage_durations: vec![StageDuration {
            stage: "discovery".to_owned(),
            seconds: 90.0,
        }],
        span_count: 3,
        incomplete_reason: None,
        decided_unix_nano: DECIDED_AT,
        service_name: None,
        evicted: false,
        attributes_truncated: 0,
    });
    metrics.span(&session_span(Stage::Validation, 12, 1e8, 0.9), now);
    metrics.span(
        &span(Some(SpanKind::Run), None, 1000, Facts::default()),
        now,
    );
    metrics.spans_received(Transport::Grpc, 5, 1);
    metrics.request(Transport::Grpc, RequestOutcome::PartialSuccess, 0.01);
    metrics.engine_stats(
        &EngineStats {
            late_spans: 1,
            ..EngineStats::default()
        },
        2,
    );
    metrics.events_suppressed("memory_footprint", 1);
    metrics.output_dropped(value::OTLP_LOGS, 1);
    metrics.output_exported(value::OTLP_LOGS, 1);
    metrics.queue_depth(value::OTLP_LOGS, 1);
    metrics.config_reload(true);
    metrics.health(99.0);
    metrics.pipeline_health("ironforge-replay", 99.0);
    metrics.pipeline_forgotten("an-old-pipeline");
    metrics.trace_unmonitored();
    metrics.decision_delay(0.001);
    let wal = WalUsage::default();
    wal.synced(std::time::Duration::from_micros(300));
    wal.failed();
    metrics.wal().observe(&wal);
    let analysis = metrics.analysis();
    analysis.critical_path_share("ironforge-replay", "discovery", 0.8);
    analysis.regression("ironforge-replay", "run.duration_seconds", true);
    analysis.memory_trend("ironforge-replay", MemoryScope::Run, false, 12.5);
    analysis.analysed(0.001);
    analysis.dropped();
    analysis.history_error();
    metrics
}

#[test]
fn every_documented_name_is_exposed_and_the_exposition_ends_with_eof() {
    let text = encoded(&fully_fed());
    assert!(text.ends_with("# EOF\n"), "{text}");
    let names = [
        (metric::VIOLATIONS, "counter"),
        (metric::TRACES, "counter"),
        (metric::STAGE_DURATION, "histogram"),
        (metric::SESSION_DURATION, "histogram"),
        (metric::RUN_DURATION, "histogram"),
        (metric::MEMORY_PEAK, "gauge"),
        (metric::MEMORY_PEAKS, "histogram"),
        (metric::PATTERN_AUTHENTICITY, "histogram"),
        (metric::SPANS_RECEIVED, "counter"),
        (metric::REQUESTS, "counter"),
        (metric::REQUEST_DURATION, "histogram"),
        (metric::LATE_SPANS, "counter"),
        (metric::SPANS_DUPLICATE, "counter"),
        (metric::SPANS_OVER_LIMIT, "counter"),
        (metric::BATCHES_REFUSED, "counter"),
        (metric::TRACES_EVICTED, "counter"),
        (metric::VERDICTS_FORGOTTEN, "counter"),
        (metric::TRACES_IN_FLIGHT, "gauge"),
        (metric::MEMORY_BYTES, "gauge"),
        (metric::MEMORY_BUDGET, "gauge"),
        (metric::RESIDENT_MEMORY, "gauge"),
        (metric::EVENTS_SUPPRESSED, "counter"),
        (metric::OUTPUT_EXPORTED, "counter"),
        (metric::OUTPUT_DROPPED, "counter"),
        (metric::QUEUE_DEPTH, "gauge"),
        (metric::CONFIG_RELOADS, "counter"),
        (metric::HEALTH_SCORE, "gauge"),
        (metric::PIPELINE_HEALTH_SCORE, "gauge"),
        (metric::PIPELINES_FORGOTTEN, "counter"),
        (metric::TRACES_UNMONITORED, "counter"),
        (metric::DECISION_DELAY, "histogram"),
        (metric::WAL_BYTES, "gauge"),
        (metric::WAL_SEGMENTS, "gauge"),
        (metric::WAL_FSYNC_DURATION, "histogram"),
        (metric::WAL_REPLAYED_SPANS, "gauge"),
        (metric::WAL_ERRORS, "counter"),
        (metric::WAL_CORRUPT_RECORDS, "counter"),
        (metric::WAL_AT_CAP, "gauge"),
        (metric::CRITICAL_PATH_SHARE, "gauge"),
        (metric::REGRESSION, "gauge"),
        (metric::MEMORY_LEAK, "gauge"),
        (metric::MEMORY_GROWTH, "gauge"),
        (metric::TRACES_ANALYSED, "counter"),
        (metric::ANALYSIS_DROPPED, "counter"),
        (metric::ANALYSIS_DURATION, "histogram"),
        (metric::HISTORY_ERRORS, "counter"),
    ];
    let type_lines = text
        .lines()
        .filter(|line| line.starts_with("# TYPE "))
        .count();
    assert_eq!(
        type_lines,
        names.len(),
        "a registered metric is missing from the list:\n{text}"
    );
    for (name, kind) in names {
        assert_line(&text, &format!("# TYPE {name} {kind}"));
        let sample = match kind {
            "counter" => format!("{name}_total"),
            "histogram" => format!("{name}_count"),
            _ => name.to_owned(),
        };
        assert_line_starting(&text, &sample);
    }
}

#[test]
fn trace_ids_appear_only_in_exemplars_never_in_labels() {
    let text = encoded(&fully_fed());
    let mut seen = 0;
    for line in text.lines() {
        for trace in [TRACE, OTHER_TRACE] {
            if let Some(at) = line.find(&trace.to_hex()) {
                let exemplar_at = line.find(" # {").expect("trace id outside an exemplar");
                assert!(exemplar_at < at, "trace id in a label: {line}");
                seen += 1;
            }
        }
    }
    assert!(
        seen >= 5,
        "expected exemplars on violations, traces and histograms:\n{text}"
    );
}

#[test]
fn label_values_match_the_json_spelling_of_the_verdict_enums() {
    for category in [
        Category::Timing,
        Category::Memory,
        Category::Quality,
        Category::System,
        Category::Invariant,
    ] {
        assert_eq!(
            serde_json::to_value(category).unwrap(),
            value::category(category),
        );
    }
    for severity in [Severity::Warning, Severity::Critical] {
        assert_eq!(
            serde_json::to_value(severity).unwrap(),
            value::severity(severity)
        );
    }
    for status in [
        VerdictStatus::Pass,
        VerdictStatus::Warn,
        VerdictStatus::Fail,
        VerdictStatus::Incomplete,
    ] {
        assert_eq!(serde_json::to_value(status).unwrap(), value::status(status));
    }
}

/// The first of `candidates` that runs `probe` successfully, or `None`. Under CI (`CI` set) a missing tool fails
/// the test instead of skipping it.
fn required_tool(
    candidates: &[&'static str],
    probe: &[&str],
    install_hint: &str,
) -> Option<&'static str> {
    let found = candidates.iter().copied().find(|program| {
        Command::new(program)
            .args(probe)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success())
    });
    if found.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "`{}` is required under CI: {install_hint}",
            candidates[0]
        );
        eprintln!("skipped: `{}` not found ({install_hint})", candidates[0]);
    }
    found
}

fn run_with_stdin(program: &str, args: &[&str], input: &str) -> std::process::Output {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write stdin");
    child.wait_with_output().expect("wait")
}

/// `promtool check metrics` parses only the Prometheus text format: an OpenMetrics exemplar is a parse error
/// to it. So it lints the same registry in that format, which carries every name, type, help and label.
#[test]
fn promtool_accepts_the_prometheus_text_exposition() {
    let Some(promtool) = required_tool(&["promtool"], &["--version"], "apt-get install prometheus")
    else {
        return;
    };
    let text = fully_fed()
        .encode_prometheus_text()
        .expect("prometheus text encode");
    assert!(
        !text.contains(" # {"),
        "the Prometheus text format has no exemplars"
    );
    let output = run_with_stdin(promtool, &["check", "metrics"], &text);
    assert!(
        output.status.success() && output.stdout.is_empty() && output.stderr.is_empty(),
        "promtool check metrics failed:\nstdout: {}\nstderr: {}\ninput:\n{text}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    );
}

/// The OpenMetrics text, exemplars included, through the reference client's OpenMetrics parser.
#[test]
fn openmetrics_parser_accepts_the_exposition_with_exemplars() {
    const PARSE: &str = "import sys\n\
        from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse\n\
        exemplars = sum(1 for family in parse(sys.stdin.read()) for sample in family.samples if sample.exemplar)\n\
        print(exemplars)\n";
    let Some(python) = required_tool(
        &["python3", "/usr/bin/python3"],
        &["-c", "import prometheus_client.openmetrics.parser"],
        "apt-get install python3-prometheus-client",
    ) else {
        return;
    };
    let text = encoded(&fully_fed());
    let output = run_with_stdin(python, &["-c", PARSE], &text);
    assert!(
        output.status.success(),
        "OpenMetrics parse failed:\n{}\ninput:\n{text}",
        String::from_utf8_lossy(&output.stderr),
    );
    let exemplars: usize = String::from_utf8_lossy(&output.stdout)
        .trim()
        .parse()
        .expect("count");
    // violation, trace, stage duration, session duration, run duration, authenticity.
    assert_eq!(exemplars, 6, "{text}");
}
