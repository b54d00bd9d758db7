//! Requests built to amplify memory (a 4 MB session id on a span breaking many contracts) keep a real
//! `ironforge-processor` process within its memory budget: attribute limits cut the id before anything is
//! stored, and violations quote it bounded. Resident memory is read from `/proc`, of the spawned process.
//!
//! The amplification probe's shape (`scripts/amplify.py`: concurrent 4 MB requests of 2,900 session spans,
//! each breaking nine contracts, every request starting new traces) keeps the process's peak within a small
//! budget plus a margin: requests being read, decoded and evaluated count against the budget, and those that
//! do not fit are refused with 503 and `Retry-After`.

use std::io::BufRead;
use std::process::Child;
use std::time::Duration;

use ironforge_processor::config::DEFAULT_CONTRACTS_YAML;
use ironforge_proto::otlp::common::{AnyValue, ArrayValue, KeyValue, any_value};
use ironforge_proto::otlp::trace::Span;
use ironforge_proto::semconv::attr;
use prost::Message;

use crate::e2e_support::{kv, processor_command, request};
use crate::wait_support::wait_until_async;

/// The engine's memory budget in this test.
const BUDGET: u64 = 64 * 1024 * 1024;

/// Requests sent: together their session ids would hold 80 MB, over the budget, if they were kept.
const REQUESTS: u32 = 20;

/// A 4 MB request: one session span with a 4,000,000-character session id that breaks ten contracts.
fn amplifying_request(trace: u32) -> Vec<u8> {
    use any_value::Value::{ArrayValue as Array, DoubleValue, IntValue, StringValue};
    let strings = |items: &[&str]| {
        Array(ArrayValue {
            values: items
                .iter()
                .map(|item| AnyValue {
                    value: Some(StringValue((*item).to_owned())),
                })
                .collect(),
        })
    };
    let mut trace_id = vec![0xcd; 16];
    trace_id[12..].copy_from_slice(&trace.to_le_bytes());
    let span = session_span(
        trace_id,
        vec![2; 8],
        vec![
            kv(attr::SPAN_KIND, StringValue("session".into())),
            kv(attr::STAGE, StringValue("discovery".into())),
            kv(attr::SESSION_ID, StringValue("S".repeat(4_000_000))),
            kv(attr::MEMORY_PEAK, DoubleValue(500e6)),
            kv(attr::PATTERN_AUTHENTICITY, DoubleValue(0.1)),
            kv(attr::GRAPH_NODE_FEATURE_DIM, IntValue(45)),
            kv(attr::GRAPH_EDGE_FEATURE_DIM, IntValue(7)),
            kv(attr::GRAPH_CROSS_SESSION_EDGES, IntValue(3)),
            kv(attr::HTF_OPEN_CANDLE_READS, IntValue(2)),
            kv(attr::GRAPH_EVENT_TYPES, strings(&["Bogus", "Unknown"])),
            kv(attr::GRAPH_EDGE_INTENTS, strings(&["SIDEWAYS"])),
            kv(attr::PROCESS_MEMORY_USAGE, StringValue("lots".into())),
        ],
    );
    request(vec![span]).encode_to_vec()
}

/// A session span of a run whose root was never sent, ten seconds long.
fn session_span(trace_id: Vec<u8>, span_id: Vec<u8>, attributes: Vec<KeyValue>) -> Span {
    let t0 = 1_754_300_000_000_000_000_u64;
    Span {
        trace_id,
        span_id,
        parent_span_id: vec![1; 8],
        name: "session".to_owned(),
        start_time_unix_nano: t0,
        end_time_unix_nano: t0 + 10_000_000_000,
        attributes,
        ..Span::default()
    }
}

/// Resident bytes of a process, from `/proc/PID/status`.
fn rss(pid: u32) -> u64 {
    status_bytes(pid, "VmRSS:")
}

/// A size in `/proc/PID/status` (`VmRSS:`, `VmHWM:`), in bytes.
fn status_bytes(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kb: u64 = status
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|value| value.split_whitespace().next())
        .and_then(|kb| kb.parse().ok())
        .unwrap();
    kb * 1024
}

/// The processor, killed when the test ends however it ends.
struct Processor(Child);

impl Drop for Processor {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A processor started with the default contracts at `budget`, and its OTLP/HTTP and admin addresses.
fn start_processor(dir: &std::path::Path, budget: u64) -> (Processor, String, String) {
    std::fs::create_dir_all(dir).unwrap();
    let contracts = dir.join("contracts.yaml");
    // Traces stay in flight (no root, a long idle timeout): whatever they hold stays held.
    std::fs::write(
        &contracts,
        DEFAULT_CONTRACTS_YAML
            .replace(
                "max_memory_bytes: 268435456",
                &format!("max_memory_bytes: {budget}"),
            )
            .replace(
                "aggregation_window_seconds: 10",
                "aggregation_window_seconds: 0",
            ),
    )
    .unwrap();
    let mut child = processor_command()
        .arg("--config")
        .arg(&contracts)
        .arg("--data-dir")
        .arg(dir.join("data"))
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let processor = Processor(child);
    let (started_tx, started) = std::sync::mpsc::channel::<serde_json::Value>();
    // Reads every line, so the pipe never fills and stalls the processor's logging.
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if let Ok(parsed) = serde_json::from_str::<serde_json::Value>(&line)
                && parsed["fields"]["otlp_http"].is_string()
            {
                let _ = started_tx.send(parsed);
            }
        }
    });
    let started = started.recv_timeout(Duration::from_secs(60)).unwrap();
    let http = started["fields"]["otlp_http"].as_str().unwrap().to_owned();
    let admin = started["fields"]["admin"].as_str().unwrap().to_owned();
    (processor, http, admin)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn amplifying_requests_keep_the_process_within_its_memory_budget() {
    let dir = std::env::temp_dir().join(format!("ironforge-memory-budget-{}", std::process::id()));
    let (processor, http, admin) = start_processor(&dir, BUDGET);
    let pid = processor.0.id();

    let client = reqwest::Client::new();
    let before = rss(pid);
    let mut peak = before;
    for trace in 0..REQUESTS {
        let response = client
            .post(format!("http://{http}/v1/traces"))
            .header("content-type", "application/x-protobuf")
            .body(amplifying_request(trace))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 200, "request {trace} refused");
        peak = peak.max(rss(pid));
    }
    // Every span was evaluated: its violations reached the API, each quoting the id bounded.
    let violations = wait_until_async("every request's violations in the API", || async {
        let body = client
            .get(format!(
                "http://{admin}/api/v1/violations?since=0&limit=500"
            ))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let violations: serde_json::Value = serde_json::from_str(&body).unwrap();
        let list = violations
            .as_array()
            .or_else(|| violations["violations"].as_array())
            .cloned()
            .unwrap_or_default();
        if list.len() >= (REQUESTS * 10) as usize {
            Ok(list)
        } else {
            Err(format!("{} violations", list.len()))
        }
    })
    .await;
    peak = peak.max(rss(pid));
    for violation in &violations {
        let text = violation.to_string();
        assert!(text.len() < 2_000, "a violation of {} bytes", text.len());
    }
    let grown = peak.saturating_sub(before);
    println!(
        "resident memory: {} MiB before, {} MiB at most after {REQUESTS} requests of 4 MB (budget {} MiB)",
        before >> 20,
        peak >> 20,
        BUDGET >> 20
    );
    assert!(
        grown < BUDGET,
        "resident memory grew by {} MiB, over the {} MiB budget",
        grown >> 20,
        BUDGET >> 20
    );
    drop(processor);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The budget of the probe's test, and the margin over it that the process's growth past its idle size may
/// take: the request being evaluated, its violations on their way to the outputs, and what the allocator keeps.
const PROBE_BUDGET: u64 = 16 * 1024 * 1024;
const PROBE_MARGIN: u64 = 96 * 1024 * 1024;
/// Concurrent senders, the requests each sends, and how often one retries a refused request (after 200 ms,
/// as the probe does) before giving it up.
const PROBE_SENDERS: usize = 4;
const PROBE_REQUESTS: usize = 4;
const PROBE_ATTEMPTS: usize = 30;
/// Spans in one probe request, and in one of its traces.
const PROBE_SPANS: usize = 2_900;
const PROBE_TRACE_SPANS: usize = 200;

/// One of the probe's requests (`scripts/amplify.py`): 2,900 session spans, 200 to a trace, every trace new
/// (`seed` picks the ids), each span breaking nine contracts; about 4 MB.
fn probe_request(seed: u32) -> Vec<u8> {
    use any_value::Value::{ArrayValue as Array, DoubleValue, IntValue, StringValue};
    let strings = |prefix: &str| {
        Array(ArrayValue {
            values: (0..30)
                .map(|index| AnyValue {
                    value: Some(StringValue(format!("{prefix}{index:03}"))),
                })
                .collect(),
        })
    };
    let spans = (0..PROBE_SPANS)
        .map(|index| {
            let mut trace_id = vec![0xab; 16];
            trace_id[..4].copy_from_slice(&seed.to_le_bytes());
            trace_id[12..]
                .copy_from_slice(&((seed << 8) + (index / PROBE_TRACE_SPANS) as u32).to_le_bytes());
            let mut span_id = vec![3; 8];
            span_id[..4].copy_from_slice(&(index as u32).to_le_bytes());
            session_span(
                trace_id,
                span_id,
                vec![
                    kv(attr::SPAN_KIND, StringValue("session".into())),
                    kv(attr::STAGE, StringValue("discovery".into())),
                    kv(
                        attr::SESSION_ID,
                        StringValue(format!("{}{index}", "S".repeat(120))),
                    ),
                    kv(attr::PATTERN_AUTHENTICITY, DoubleValue(0.1)),
                    kv(attr::GRAPH_NODE_FEATURE_DIM, StringValue("51".into())),
                    kv(attr::GRAPH_EDGE_FEATURE_DIM, IntValue(7)),
                    kv(attr::GRAPH_EVENT_TYPES, strings("Bogus")),
                    kv(attr::GRAPH_EDGE_INTENTS, strings("Weird")),
                    kv(attr::GRAPH_CROSS_SESSION_EDGES, IntValue(5)),
                    kv(attr::HTF_OPEN_CANDLE_READS, IntValue(3)),
                    kv(attr::MEMORY_PEAK, DoubleValue(9e12)),
                    kv(attr::PROCESS_MEMORY_USAGE, DoubleValue(9e12)),
                ],
            )
        })
        .collect();
    request(spans).encode_to_vec()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_amplification_probe_keeps_the_process_within_its_budget_plus_a_margin() {
    let dir = std::env::temp_dir().join(format!("ironforge-memory-probe-{}", std::process::id()));
    let (processor, http, admin) = start_processor(&dir, PROBE_BUDGET);
    let pid = processor.0.id();
    let idle = rss(pid);
    // The process samples its own resident memory, the figure admission goes by past the budget, and shows
    // it beside the budget.
    let metrics_url = format!("http://{admin}/metrics");
    wait_until_async("the resident memory and the budget on /metrics", || async {
        let text = reqwest::get(&metrics_url)
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let gauge = |name: &str| {
            text.lines().find_map(|line| {
                line.strip_prefix(name)?
                    .strip_prefix(' ')?
                    .parse::<f64>()
                    .ok()
            })
        };
        match (
            gauge("process_resident_memory_bytes"),
            gauge("ironforge_processor_memory_budget_bytes"),
        ) {
            (Some(resident), Some(budget)) if resident > 0.0 && budget == PROBE_BUDGET as f64 => {
                Ok(())
            }
            seen => Err(format!("{seen:?}")),
        }
    })
    .await;
    let client = reqwest::Client::new();
    let senders: Vec<_> = (0..PROBE_SENDERS)
        .map(|sender| {
            let client = client.clone();
            let url = format!("http://{http}/v1/traces");
            tokio::spawn(async move {
                let (mut accepted, mut refused) = (0, 0);
                for request in 0..PROBE_REQUESTS {
                    let body = probe_request((sender * PROBE_REQUESTS + request) as u32);
                    for _ in 0..PROBE_ATTEMPTS {
                        let response = client
                            .post(&url)
                            .header("content-type", "application/x-protobuf")
                            .body(body.clone())
                            .send()
                            .await
                            .unwrap();
                        match response.status().as_u16() {
                            200 => {
                                accepted += 1;
                                break;
                            }
                            503 => {
                                // Shed the way an overloaded processor sheds: the exporter is told when
                                // to retry.
                                let retry_after = response.headers().get("retry-after").cloned();
                                assert!(retry_after.is_some(), "a 503 without Retry-After");
                                refused += 1;
                                tokio::time::sleep(Duration::from_millis(200)).await;
                            }
                            status => panic!("request answered {status}"),
                        }
                    }
                }
                (accepted, refused)
            })
        })
        .collect();
    let (mut accepted, mut refused) = (0, 0);
    for sender in senders {
        let (ok, shed) = sender.await.unwrap();
        accepted += ok;
        refused += shed;
    }
    let peak = status_bytes(pid, "VmHWM:");
    let grown = peak.saturating_sub(idle);
    println!(
        "the probe's shape: {accepted} requests accepted, {refused} answers 503; resident memory {} MiB idle, \
         {} MiB at the peak, grown {} MiB (budget {} MiB, margin {} MiB)",
        idle >> 20,
        peak >> 20,
        grown >> 20,
        PROBE_BUDGET >> 20,
        PROBE_MARGIN >> 20
    );
    assert!(accepted > 0, "every request was refused");
    assert!(
        grown <= PROBE_BUDGET + PROBE_MARGIN,
        "resident memory grew by {} MiB, over the {} MiB budget plus the {} MiB margin",
        grown >> 20,
        PROBE_BUDGET >> 20,
        PROBE_MARGIN >> 20
    );
    drop(processor);
    let _ = std::fs::remove_dir_all(&dir);
}
