//! Admission that cannot be starved, partial traces, and inputs that would bloat the state, end to end over
//! real OTLP: a flood of traces that never complete, a trace split between two replicas, a root with a
//! million-member array.

use crate::e2e_support::{TestProcessor, kv, replay, request, test_contracts, trace_hex};
use ironforge_instrument::Protocol;
use ironforge_processor::otlp::ReceiverLimits;
use ironforge_proto::monitor::v1 as pb;
use ironforge_proto::otlp::common::{AnyValue, ArrayValue, KeyValue, any_value};
use ironforge_proto::otlp::trace::Span;
use ironforge_proto::otlp::trace_service::trace_service_client::TraceServiceClient;
use ironforge_proto::semconv::{Stage, attr};
use ironforge_replay::ReplayOptions;

const T0: u64 = 1_754_300_000_000_000_000;
const MS: u64 = 1_000_000;

fn text(key: &str, value: &str) -> KeyValue {
    kv(key, any_value::Value::StringValue(value.to_owned()))
}

/// A span of the trace `trace` (its low bytes spread traces over the shards), lasting 100 ms.
fn span(trace: u32, id: u32, parent: Option<u32>, attributes: Vec<KeyValue>) -> Span {
    let mut trace_id = vec![0xab; 16];
    trace_id[12..].copy_from_slice(&trace.to_le_bytes());
    let span_id = |id: u32| [&[1u8; 4][..], &id.to_le_bytes()].concat();
    Span {
        trace_id,
        span_id: span_id(id),
        parent_span_id: parent.map(span_id).unwrap_or_default(),
        name: "span".to_owned(),
        start_time_unix_nano: T0,
        end_time_unix_nano: T0 + 100 * MS,
        attributes,
        ..Span::default()
    }
}

fn trace_hex_of(trace: u32) -> String {
    hex::encode(&span(trace, 1, None, Vec::new()).trace_id)
}

/// A whole run declaring two sessions: run → a stage span per stage → two session spans under each.
fn whole_run(trace: u32) -> Vec<Span> {
    let mut spans = vec![span(
        trace,
        1,
        None,
        vec![
            text(attr::SPAN_KIND, "run"),
            kv(attr::RUN_SESSION_COUNT, any_value::Value::IntValue(2)),
        ],
    )];
    for (index, stage) in (0u32..).zip(Stage::ALL) {
        let stage_id = 10 + index * 10;
        spans.push(span(
            trace,
            stage_id,
            Some(1),
            vec![
                text(attr::SPAN_KIND, "stage"),
                text(attr::STAGE, stage.as_str()),
            ],
        ));
        for session in 1..=2 {
            spans.push(span(
                trace,
                stage_id + session,
                Some(stage_id),
                vec![
                    text(attr::SPAN_KIND, "session"),
                    text(attr::STAGE, stage.as_str()),
                    text(attr::SESSION_ID, &format!("ASIA_2025-08-0{session}")),
                ],
            ));
        }
    }
    spans
}

async fn export(processor: &TestProcessor, spans: Vec<Span>) {
    TraceServiceClient::connect(processor.grpc_endpoint())
        .await
        .unwrap()
        .export(request(spans))
        .await
        .unwrap_or_else(|status| panic!("export refused: {status}"));
}

fn status(verdict: &pb::TraceVerdict) -> pb::VerdictStatus {
    pb::VerdictStatus::try_from(verdict.status).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_rootless_traces_does_not_starve_a_real_run() {
    // Flood traces would wait out a 300 s idle timeout: only eviction can make room for the replay.
    let contracts = test_contracts()
        .replace("idle_timeout_seconds: 3", "idle_timeout_seconds: 300")
        .replace("max_traces_in_flight: 10000", "max_traces_in_flight: 1000");
    let processor = TestProcessor::start_with(&contracts, ReceiverLimits::default()).await;
    let mut client = TraceServiceClient::connect(processor.grpc_endpoint())
        .await
        .unwrap();
    // 10,000 traces × 5 spans, none with a root, as fast as the client sends them.
    let flood_started = std::time::Instant::now();
    for batch in 0..100u32 {
        let spans = (0..100u32)
            .flat_map(|n| {
                let trace = batch * 100 + n;
                (2..7)
                    .map(move |id| span(trace, id, Some(1), vec![text(attr::SPAN_KIND, "session")]))
            })
            .collect();
        client
            .export(request(spans))
            .await
            .unwrap_or_else(|status| panic!("flood batch {batch} refused: {status}"));
    }

    let flood_took = flood_started.elapsed();
    let options = ReplayOptions {
        sessions_limit: Some(4),
        ..ReplayOptions::default()
    };
    let summary = replay(processor.grpc_endpoint(), Protocol::Grpc, options).await;
    let verdict = processor.verdict(&trace_hex(&summary)).await;
    assert!(!verdict.evicted, "{verdict:?}");
    assert_ne!(
        status(&verdict),
        pb::VerdictStatus::Incomplete,
        "{}",
        verdict.incomplete_reason
    );
    assert!(verdict.span_count > 4);

    // The oldest flood traces were decided, each with its own verdict, and counted.
    let oldest = processor.verdict(&trace_hex_of(0)).await;
    assert!(oldest.evicted);
    assert_eq!(status(&oldest), pb::VerdictStatus::Incomplete);
    assert!(
        oldest
            .incomplete_reason
            .starts_with("evicted under memory pressure")
    );
    let (_, compliance) = processor.get("/api/v1/compliance").await;
    let compliance: serde_json::Value = serde_json::from_str(&compliance).unwrap();
    assert!(
        compliance["traces_evicted"].as_u64().unwrap() >= 9_000,
        "{compliance}"
    );
    let (_, metrics) = processor.get("/metrics").await;
    let evicted_line = metrics
        .lines()
        .find(|line| line.starts_with("ironforge_processor_traces_evicted_total "))
        .unwrap_or_else(|| panic!("no eviction counter in\n{metrics}"));
    let evicted: f64 = evicted_line.split(' ').nth(1).unwrap().parse().unwrap();
    assert!(evicted >= 9_000.0, "{evicted_line}");
    println!(
        "flood of 10,000 rootless traces accepted in {flood_took:.1?}; {evicted} traces evicted; the replay's \
         trace judged {:?} over {} spans",
        status(&verdict),
        verdict.span_count
    );
    processor.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trace_split_between_two_replicas_passes_on_neither() {
    let (first, second) = tokio::join!(TestProcessor::start(), TestProcessor::start());
    // The run itself is clean: whole, it passes.
    export(&first, whole_run(1)).await;
    assert_eq!(
        status(&first.verdict(&trace_hex_of(1)).await),
        pb::VerdictStatus::Pass
    );

    // Split as a load balancer keyed on anything but the trace id would: the root to one replica, the rest
    // to the other.
    let mut spans = whole_run(2);
    let rest = spans.split_off(1);
    export(&first, spans).await;
    export(&second, rest).await;
    let with_root = first.verdict(&trace_hex_of(2)).await;
    assert_eq!(status(&with_root), pb::VerdictStatus::Incomplete);
    assert!(!with_root.production_ready);
    assert!(
        with_root
            .incomplete_reason
            .contains("no span of stage discovery, confluence, validation, reporting"),
        "{}",
        with_root.incomplete_reason
    );
    let without_root = second.verdict(&trace_hex_of(2)).await;
    assert_eq!(status(&without_root), pb::VerdictStatus::Incomplete);
    assert!(without_root.incomplete_reason.contains("no root span"));
    tokio::join!(first.stop(), second.stop());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_root_with_a_million_member_array_is_kept_and_judged() {
    let limits = ReceiverLimits {
        max_request_bytes: 32 * 1024 * 1024,
    };
    let processor = TestProcessor::start_with(&test_contracts(), limits).await;
    let members = (0..1_000_000)
        .map(|i| AnyValue {
            value: Some(any_value::Value::StringValue(format!("E{i}"))),
        })
        .collect();
    let root = span(
        3,
        1,
        None,
        vec![
            text(attr::SPAN_KIND, "run"),
            kv(
                attr::GRAPH_EVENT_TYPES,
                any_value::Value::ArrayValue(ArrayValue { values: members }),
            ),
        ],
    );
    let mut spans = vec![root];
    spans.extend(whole_run(3).into_iter().skip(1));
    export(&processor, spans).await;
    let verdict = processor.verdict(&trace_hex_of(3)).await;
    assert!(
        matches!(
            status(&verdict),
            pb::VerdictStatus::Pass | pb::VerdictStatus::Warn | pb::VerdictStatus::Fail
        ),
        "{verdict:?}"
    );
    assert_eq!(verdict.attributes_truncated, 1);
    // The run never saw most of the required event types: decided, with the array cut to its limit.
    let (_, body) = processor
        .get(&format!("/api/v1/traces/{}/verdict", trace_hex_of(3)))
        .await;
    assert!(body.contains("\"attributes_truncated\":1"), "{body}");
    processor.stop().await;
}
