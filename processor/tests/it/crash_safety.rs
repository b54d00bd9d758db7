//! Crash safety of the real binary: acknowledged spans survive `kill -9` and SIGTERM, each trace's verdict
//! and each violation reaches the outputs across restarts (again only for the trace being handed on at a
//! kill), a torn log tail is cut, and a data directory serves one processor at a time.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::time::{Duration, Instant};

use crate::e2e_support::{LogsReceiver, replay, request, test_contracts, trace_hex};
use crate::process_support::{ProcessorProcess, SHARDS, TempDir, verdicts_printed};
use crate::wait_support::{WAIT, poll_until_async, wait_until_async};
use ironforge_instrument::Protocol;
use ironforge_proto::otlp::common::{AnyValue, KeyValue, any_value};
use ironforge_proto::otlp::trace::Span;
use ironforge_proto::otlp::trace_service::ExportTraceServiceRequest;
use ironforge_proto::otlp::trace_service::trace_service_client::TraceServiceClient;
use ironforge_proto::semconv::{attr, violation_attr};
use ironforge_replay::ReplayOptions;

pub(crate) fn write_contracts(dir: &Path, yaml: &str) -> std::path::PathBuf {
    let path = dir.join("contracts.yaml");
    std::fs::write(&path, yaml).unwrap();
    path
}

/// Trace `n`'s id: the counter in the low bytes, which pick the shard.
pub(crate) fn trace_id(n: u64) -> Vec<u8> {
    let mut id = vec![0xA5; 16];
    id[8..].copy_from_slice(&n.to_be_bytes());
    id
}

pub(crate) fn span(trace: u64, id: u8, parent: Option<u8>, kind: &str, seconds: u64) -> Span {
    let t0 = 1_754_300_000_000_000_000_u64;
    Span {
        trace_id: trace_id(trace),
        span_id: vec![id; 8],
        parent_span_id: parent.map(|p| vec![p; 8]).unwrap_or_default(),
        name: kind.to_owned(),
        start_time_unix_nano: t0,
        end_time_unix_nano: t0 + seconds * 1_000_000_000,
        attributes: vec![KeyValue {
            key: attr::SPAN_KIND.to_owned(),
            value: Some(AnyValue {
                value: Some(any_value::Value::StringValue(kind.to_owned())),
            }),
            ..KeyValue::default()
        }],
        ..Span::default()
    }
}

/// Sends traces `first..` until the processor stops answering: for each, a session span taking 4 s (over
/// the 3 s contract: one span-scoped violation) and then, in its own request, the run span. Returns the
/// traces with at least one acknowledged request.
async fn send_until_refused(endpoint: String, first: u64, step: u64) -> HashSet<u64> {
    let mut acked = HashSet::new();
    let Ok(mut client) = TraceServiceClient::connect(endpoint).await else {
        return acked;
    };
    let mut trace = first;
    loop {
        let session = request(vec![span(trace, 2, Some(1), "session", 4)]);
        if client.export(session).await.is_err() {
            return acked;
        }
        acked.insert(trace);
        let run = request(vec![span(trace, 1, None, "run", 5)]);
        if client.export(run).await.is_err() {
            return acked;
        }
        trace += step;
    }
}

/// A pseudo-random delay in `range_ms` (no seed to keep: each round differs, any of them must hold).
fn random_ms(range_ms: std::ops::Range<u64>) -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    range_ms.start + u64::from(nanos) % (range_ms.end - range_ms.start)
}

/// Violation log records received downstream, by (trace, contract, span): the emission time of each
/// delivery. The queue delivers at least once: a batch the endpoint took just before a kill, before the
/// queue could mark it delivered, comes again after the restart as the same records, with the same times.
/// A violation emitted twice would carry two times.
fn delivered(logs: &LogsReceiver) -> HashMap<(Vec<u8>, String, Vec<u8>), Vec<u64>> {
    let mut deliveries: HashMap<_, Vec<u64>> = HashMap::new();
    for record in logs.records() {
        let contract = record
            .attributes
            .iter()
            .find(|a| a.key == violation_attr::CONTRACT_ID)
            .and_then(|a| a.value.as_ref())
            .and_then(|v| match &v.value {
                Some(any_value::Value::StringValue(s)) => Some(s.clone()),
                _ => None,
            })
            .unwrap_or_else(|| panic!("a violation record without a contract id: {record:?}"));
        deliveries
            .entry((record.trace_id.clone(), contract, record.span_id.clone()))
            .or_default()
            .push(record.time_unix_nano);
    }
    deliveries
}

/// How many decisions a test's kills may repeat: a kill lands while at most one trace per shard has had its
/// decisions handed on and not yet logged, and that trace is decided again after the restart.
fn repeats_after(kills: usize) -> usize {
    kills * SHARDS
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_9_under_load_loses_no_acknowledged_trace_and_repeats_only_what_was_being_handed_on() {
    const KILLS: usize = 5;
    let dir = TempDir::new("crash-kill9");
    let contracts = write_contracts(dir.path(), &test_contracts());
    let data = dir.path().join("data");
    let (logs, logs_endpoint) = LogsReceiver::start().await;
    let args = ["--logs-endpoint", logs_endpoint.as_str()];
    let senders = 4;
    let mut acked: HashSet<u64> = HashSet::new();
    let mut printed: Vec<String> = Vec::new();
    for round in 0..KILLS as u64 {
        let processor = ProcessorProcess::start(&contracts, &data, &args).unwrap();
        let endpoint = processor.grpc_endpoint();
        let load: Vec<_> = (0..senders)
            .map(|sender| {
                let first = round * 1_000_000 + sender;
                tokio::spawn(send_until_refused(endpoint.clone(), first, senders))
            })
            .collect();
        // Load for a random while, so that the kill lands at a different point of the work each round.
        tokio::time::sleep(Duration::from_millis(random_ms(300..1500))).await;
        printed.extend(processor.kill());
        for sender in load {
            acked.extend(sender.await.unwrap());
        }
    }
    assert!(
        acked.len() > 50,
        "too little load to prove anything: {}",
        acked.len()
    );

    let processor = ProcessorProcess::start(&contracts, &data, &args).unwrap();
    for trace in &acked {
        let hex = hex::encode(trace_id(*trace));
        let verdict = processor.verdict(&hex).await;
        assert_eq!(verdict["trace_id"], hex.as_str());
    }
    let (_, lines) = processor.terminate();
    printed.extend(lines);

    let counts = verdicts_printed(&printed);
    let unprinted: Vec<String> = acked
        .iter()
        .map(|trace| hex::encode(trace_id(*trace)))
        .filter(|hex| !counts.contains_key(hex))
        .collect();
    assert!(
        unprinted.is_empty(),
        "{} of {} acknowledged traces have a verdict that was never printed: {unprinted:?}",
        unprinted.len(),
        acked.len()
    );
    let repeated: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        repeated.len() <= repeats_after(KILLS),
        "verdicts given twice: {repeated:?}"
    );
    let deliveries = delivered(&logs);
    let emitted_twice: Vec<_> = deliveries
        .iter()
        .filter(|(_, times)| times.iter().any(|time| *time != times[0]))
        .collect();
    assert!(
        emitted_twice.len() <= repeats_after(KILLS),
        "violations emitted twice: {emitted_twice:?}"
    );
    let delivered_again = deliveries.values().filter(|times| times.len() > 1).count();
    eprintln!(
        "{} acknowledged traces over {KILLS} kills, each with a verdict printed; {} verdicts printed twice, \
         {} violations emitted twice; {} violation records delivered for {} violations, {delivered_again} \
         of them delivered again after a kill",
        acked.len(),
        repeated.len(),
        emitted_twice.len(),
        logs.records().len(),
        deliveries.len()
    );
}

/// Runs decided together: one request holds `runs` traces, each a session over its 3 s contract (one
/// violation) and its run root, so their grace ends at the same moment and they are handed on as one batch.
fn runs_decided_together(runs: u64) -> ExportTraceServiceRequest {
    request(
        (0..runs)
            .flat_map(|trace| {
                [
                    span(trace, 2, Some(1), "session", 4),
                    span(trace, 1, None, "run", 5),
                ]
            })
            .collect(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_while_decisions_are_handed_on_loses_none_of_them() {
    let dir = TempDir::new("crash-handing-on");
    let contracts = write_contracts(dir.path(), &test_contracts());
    let data = dir.path().join("data");
    let (logs, logs_endpoint) = LogsReceiver::start().await;
    let args = ["--logs-endpoint", logs_endpoint.as_str()];
    let runs = 2_000;
    let processor = ProcessorProcess::start(&contracts, &data, &args).unwrap();
    TraceServiceClient::connect(processor.grpc_endpoint())
        .await
        .unwrap()
        .export(runs_decided_together(runs))
        .await
        .unwrap();
    // Killed as soon as the first verdict is printed: the rest of the batch is being handed on.
    let started = Instant::now();
    let mut looked_at = 0;
    loop {
        let lines = processor.lines();
        if !verdicts_printed(&lines[looked_at..]).is_empty() {
            break;
        }
        looked_at = lines.len();
        assert!(started.elapsed() < WAIT, "no verdict printed");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let mut printed = processor.kill();
    let before_kill = verdicts_printed(&printed).len();

    // Every verdict printed, by one instance or the other, and every violation delivered (the assertions
    // below say what is missing).
    let processor = ProcessorProcess::start(&contracts, &data, &args).unwrap();
    let delivered_all = poll_until_async(WAIT, || async {
        let printed_by_both = [printed.as_slice(), &processor.lines()].concat();
        let runs_printed = verdicts_printed(&printed_by_both).len();
        let violations = delivered(&logs).len();
        if runs_printed == runs as usize && violations == runs as usize {
            Ok(())
        } else {
            Err(violations)
        }
    })
    .await;
    let (_, lines) = processor.terminate();
    printed.extend(lines);
    let counts = verdicts_printed(&printed);
    let repeated: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).collect();
    eprintln!(
        "{before_kill} of {runs} verdicts printed before the kill, {} runs in all, {} of them twice",
        counts.len(),
        repeated.len()
    );
    let unprinted: Vec<u64> = (0..runs)
        .filter(|trace| !counts.contains_key(&hex::encode(trace_id(*trace))))
        .collect();
    assert!(
        unprinted.is_empty(),
        "{} of {runs} verdicts never printed: {unprinted:?}",
        unprinted.len()
    );
    assert!(
        repeated.len() <= repeats_after(1),
        "verdicts given twice: {repeated:?}"
    );
    if let Err(violations) = delivered_all {
        panic!("{violations} of {runs} violations delivered");
    }
    let emitted_twice = delivered(&logs)
        .into_values()
        .filter(|times| times.iter().any(|time| *time != times[0]))
        .count();
    assert!(
        emitted_twice <= 1,
        "{emitted_twice} violations emitted twice"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replay_survives_kill_9_and_sigterm_right_after_it() {
    let dir = TempDir::new("crash-replay");
    let contracts = write_contracts(dir.path(), &test_contracts());
    for stop in ["SIGKILL", "SIGTERM"] {
        let data = dir.path().join(stop);
        let processor = ProcessorProcess::start(&contracts, &data, &[]).unwrap();
        let summary = replay(
            processor.grpc_endpoint(),
            Protocol::Grpc,
            ReplayOptions::default(),
        )
        .await;
        let trace = trace_hex(&summary);
        // At once: the trace is still in flight (its verdict comes a grace after the root).
        if stop == "SIGKILL" {
            processor.kill();
        } else {
            let (status, _) = processor.terminate();
            assert!(status.success(), "{status}");
        }

        let restarted = ProcessorProcess::start(&contracts, &data, &[]).unwrap();
        let verdict = restarted.verdict(&trace).await;
        assert_eq!(verdict["span_count"], 2 + 4 + 4 * 57, "{stop}: {verdict}");
        assert_eq!(verdict["status"], "fail", "{stop}: {verdict}");
        let (status, _) = restarted.terminate();
        assert!(status.success());

        // Decided before this restart: still answered, and health still counts it.
        let again = ProcessorProcess::start(&contracts, &data, &[]).unwrap();
        let verdict = again.verdict(&trace).await;
        assert_eq!(verdict["span_count"], 2 + 4 + 4 * 57);
        let (_, health) = again.get("/api/v1/health").await;
        let health: serde_json::Value = serde_json::from_str(&health).unwrap();
        assert_ne!(health["status"], "GREEN", "{stop}: {health}");
        let lines = again.kill();
        assert!(
            !verdicts_printed(&lines).contains_key(&trace),
            "the verdict was given again after a restart"
        );
    }
}

/// Starts a processor whose traces complete 2 s after their root, sends it `traces` traces of two spans in
/// one request each, and kills it (SIGKILL) while they are in flight. Returns its contracts and data
/// directory, to start it again.
async fn killed_with_traces_in_flight(
    dir: &Path,
    traces: u64,
) -> (std::path::PathBuf, std::path::PathBuf) {
    let yaml = test_contracts().replace("grace_seconds: 0.5", "grace_seconds: 2");
    let contracts = write_contracts(dir, &yaml);
    let data = dir.join("data");
    let processor = ProcessorProcess::start(&contracts, &data, &[]).unwrap();
    let mut client = TraceServiceClient::connect(processor.grpc_endpoint())
        .await
        .unwrap();
    for trace in 0..traces {
        let spans = vec![
            span(trace, 1, None, "run", 5),
            span(trace, 2, Some(1), "session", 1),
        ];
        client.export(request(spans)).await.unwrap();
    }
    processor.kill();
    (contracts, data)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_torn_log_tail_is_cut_with_a_warning_and_the_rest_replayed() {
    let dir = TempDir::new("crash-torn");
    let (contracts, data) = killed_with_traces_in_flight(dir.path(), 4).await;

    // A write torn by the crash: a frame header promising more bytes than follow.
    let segments: Vec<_> = walk(&data.join("wal"))
        .into_iter()
        .filter(|path| path.to_string_lossy().contains("segment-"))
        .filter(|path| std::fs::metadata(path).unwrap().len() > 0)
        .collect();
    assert!(!segments.is_empty());
    for segment in &segments {
        let mut bytes = std::fs::read(segment).unwrap();
        bytes.extend_from_slice(&[200, 0, 0, 0, 1, 2, 3, 4, 5, 6]);
        std::fs::write(segment, bytes).unwrap();
    }

    let restarted = ProcessorProcess::start(&contracts, &data, &[]).unwrap();
    for trace in 0..4 {
        let verdict = restarted.verdict(&hex::encode(trace_id(trace))).await;
        assert_eq!(verdict["span_count"], 2);
    }
    let lines = restarted.kill();
    assert!(
        lines.iter().any(|line| line.contains("cut a torn tail")),
        "no warning:\n{}",
        lines.join("\n")
    );
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(walk(&path));
        } else {
            found.push(path);
        }
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_processor_on_the_same_data_dir_is_refused() {
    let dir = TempDir::new("crash-lock");
    let contracts = write_contracts(dir.path(), &test_contracts());
    let data = dir.path().join("data");
    let first = ProcessorProcess::start(&contracts, &data, &[]).unwrap();
    let Err(second) = ProcessorProcess::start(&contracts, &data, &[]) else {
        panic!("a second processor started on the same data directory");
    };
    assert!(!second.status.unwrap().success());
    assert!(
        second
            .output
            .contains("in use by another ironforge-processor"),
        "{}",
        second.output
    );
    // The first keeps serving.
    let (status, _) = first.get("/readyz").await;
    assert_eq!(status, 200);
}

/// Flips 64 bytes in the middle of the largest log segment under `data`, as a bad sector would.
fn damage_the_largest_segment(data: &Path) {
    let segment = walk(&data.join("wal"))
        .into_iter()
        .filter(|path| path.to_string_lossy().contains("segment-"))
        .max_by_key(|path| std::fs::metadata(path).unwrap().len())
        .unwrap();
    let mut bytes = std::fs::read(&segment).unwrap();
    let middle = bytes.len() / 2;
    for byte in &mut bytes[middle..middle + 64] {
        *byte ^= 0x5a;
    }
    std::fs::write(&segment, bytes).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_record_mid_segment_costs_that_record_only_and_is_counted() {
    let dir = TempDir::new("crash-damaged");
    let traces = 20;
    let (contracts, data) = killed_with_traces_in_flight(dir.path(), traces).await;

    // Each trace's batch is one frame of its shard's segment.
    damage_the_largest_segment(&data);

    let restarted = ProcessorProcess::start(&contracts, &data, &[]).unwrap();
    // 64 bytes reach at most two adjacent frames (a trace's batch each): every other trace is decided whole.
    wait_until_async("every trace but two decided whole", || async {
        let mut whole = 0;
        for trace in 0..traces {
            let path = format!("/api/v1/traces/{}/verdict", hex::encode(trace_id(trace)));
            let (status, body) = restarted.get(&path).await;
            let verdict: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
            if status == 200 && verdict["span_count"] == 2 && verdict["status"] == "pass" {
                whole += 1;
            }
        }
        if whole >= traces - 2 {
            Ok(())
        } else {
            Err(format!("{whole} of {traces} decided whole"))
        }
    })
    .await;
    let (_, metrics) = restarted.get("/metrics").await;
    let corrupt = metrics
        .lines()
        .find_map(|line| line.strip_prefix("ironforge_processor_wal_corrupt_records_total "))
        .and_then(|value| value.parse::<f64>().ok());
    assert!(corrupt.is_some_and(|count| count >= 1.0), "{metrics}");
    let lines = restarted.kill();
    assert!(
        lines
            .iter()
            .any(|line| line.contains("a damaged record in the middle") && line.contains("offset")),
        "no error naming the offset:\n{}",
        lines.join("\n")
    );
}

/// The script `unshare -rm sh -c` runs: a small tmpfs at `$1` holding a copy of the data directory `$2`,
/// filled to the last byte by `$1/fill`, then the processor (`"$@"` after those two) on it.
const ON_A_FULL_DISK: &str = r#"mount -t tmpfs -o size=8m none "$1" && cp -a "$2" "$1/data" \
    && (dd if=/dev/zero of="$1/fill" bs=64k 2>/dev/null || true) && shift 2 && exec "$@""#;

/// Starts the processor on a copy of `data` on a full tmpfs mounted at `mount` (created here), in a user and
/// mount namespace of its own; `/proc/PID/root` + `mount` + `/fill` is what fills it.
fn start_on_a_full_disk(contracts: &Path, data: &Path, mount: &Path) -> ProcessorProcess {
    std::fs::create_dir_all(mount).unwrap();
    let (mount_arg, data_arg) = (mount.to_str().unwrap(), data.to_str().unwrap());
    let wrapper = [
        "unshare",
        "-rm",
        "sh",
        "-c",
        ON_A_FULL_DISK,
        "sh",
        mount_arg,
        data_arg,
    ];
    ProcessorProcess::start_under(&wrapper, contracts, &mount.join("data"), &[])
        .unwrap_or_else(|failure| panic!("no start on a full disk: {failure:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_at_start_up_serves_the_api_refuses_spans_and_recovers_by_itself() {
    let dir = TempDir::new("crash-full-disk");
    let (contracts, data) = killed_with_traces_in_flight(dir.path(), 4).await;

    let mount = dir.path().join("tmpfs");
    let full = start_on_a_full_disk(&contracts, &data, &mount);

    // Up and answering, but not taking spans.
    assert_eq!(full.get("/healthz").await.0, 200);
    assert_eq!(full.get("/readyz").await.0, 503);
    assert_eq!(full.get("/api/v1/health").await.0, 200);
    let mut client = TraceServiceClient::connect(full.grpc_endpoint())
        .await
        .unwrap();
    let refused = client
        .export(request(vec![span(9, 1, None, "run", 5)]))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::Unavailable, "{refused:?}");

    // Space frees (seen through the process's own view of its mounts): it takes spans again by itself,
    // and decides the traces it recovered.
    let fill = format!("/proc/{}/root{}/fill", full.pid(), mount.display());
    std::fs::remove_file(&fill).unwrap_or_else(|e| panic!("{fill}: {e}"));
    for trace in 0..4 {
        let verdict = full.verdict(&hex::encode(trace_id(trace))).await;
        assert_eq!(verdict["span_count"], 2, "{verdict}");
    }
    assert_eq!(full.get("/readyz").await.0, 200);
    client
        .export(request(vec![span(9, 1, None, "run", 5)]))
        .await
        .unwrap();
    let lines = full.kill();
    assert!(
        lines
            .iter()
            .any(|line| line.contains("span batches are accepted again")),
        "{}",
        lines.join("\n")
    );
}

/// The violations of `GET /api/v1/violations` (one page of `limit` from `cursor`), as (trace, contract)
/// pairs, and the cursor of the next page.
async fn violations_page(
    admin: std::net::SocketAddr,
    query: &str,
) -> (Vec<(String, String)>, Option<String>) {
    let response = reqwest::get(format!("http://{admin}/api/v1/violations?{query}"))
        .await
        .unwrap();
    let next = response
        .headers()
        .get("ironforge-next-cursor")
        .map(|value| value.to_str().unwrap().to_owned());
    let body: Vec<serde_json::Value> = response.json().await.unwrap();
    let listed = body
        .iter()
        .map(|v| {
            (
                v["trace_id"].as_str().unwrap().to_owned(),
                v["contract_id"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    (listed, next)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_violations_listed_before_a_restart_are_listed_after_it_and_a_cursor_goes_on() {
    let dir = TempDir::new("crash-listed");
    let contracts = write_contracts(dir.path(), &test_contracts());
    let data = dir.path().join("data");
    let processor = ProcessorProcess::start(&contracts, &data, &[]).unwrap();
    let mut client = TraceServiceClient::connect(processor.grpc_endpoint())
        .await
        .unwrap();
    // Each trace's session takes 4 s, over the 3 s contract: one violation each.
    for trace in 0..3 {
        let spans = vec![
            span(trace, 1, None, "run", 5),
            span(trace, 2, Some(1), "session", 4),
        ];
        client.export(request(spans)).await.unwrap();
        processor.verdict(&hex::encode(trace_id(trace))).await;
    }
    // A fourth trace in flight: its slow session is judged (and listed) at once, its root comes later.
    client
        .export(request(vec![span(3, 2, Some(1), "session", 4)]))
        .await
        .unwrap();
    let all = wait_until_async("the four violations listed", || async {
        let (all, _) = violations_page(processor.admin, "since=0").await;
        if all.len() == 4 {
            Ok(all)
        } else {
            Err(format!("{all:?}"))
        }
    })
    .await;
    let (first, cursor) = violations_page(processor.admin, "since=0&limit=1").await;
    let cursor = cursor.unwrap();
    let (status, _) = processor.terminate();
    assert!(status.success());

    let restarted = ProcessorProcess::start(&contracts, &data, &[]).unwrap();
    let (again, _) = violations_page(restarted.admin, "since=0").await;
    assert_eq!(again, all, "the same violations, in the same order");
    let (rest, _) = violations_page(restarted.admin, &format!("cursor={cursor}")).await;
    assert_eq!(
        rest,
        all[first.len()..],
        "the cursor goes on where it stopped"
    );

    let mut client = TraceServiceClient::connect(restarted.grpc_endpoint())
        .await
        .unwrap();
    client
        .export(request(vec![span(3, 1, None, "run", 5)]))
        .await
        .unwrap();
    restarted.verdict(&hex::encode(trace_id(3))).await;
    let (after, _) = violations_page(restarted.admin, "since=0").await;
    assert_eq!(after, all, "the trace in flight's violation is listed once");
    restarted.kill();
}

/// One row of the fault suite's table: what happened to the runs sent while a fault was injected.
#[derive(Debug, Default)]
struct FaultRow {
    fault: &'static str,
    sent: usize,
    acknowledged: usize,
    judged: usize,
    /// Acknowledged runs without a verdict.
    lost: usize,
    /// Runs whose verdict was given more than once, or holds its violation more than once.
    doubled: usize,
    /// Judged runs whose verdict is not the one the run deserves (both spans, one violation).
    wrong: usize,
    /// Requests refused with a retry hint (and retried), as the processor counted them.
    refused: u64,
    /// The fault destroys records (a damaged disk): runs whose records are gone are lost or cut short.
    destroys_records: bool,
    peak_rss_kib: u64,
}

impl FaultRow {
    fn line(&self) -> String {
        format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {:.0} |",
            self.fault,
            self.sent,
            self.acknowledged,
            self.refused,
            self.judged,
            self.lost,
            self.doubled,
            self.wrong,
            self.peak_rss_kib as f64 / 1024.0
        )
    }
}

/// The most resident memory the process ever held (`VmHWM`), in KiB.
fn peak_rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("VmHWM:"))
                .and_then(|kib| kib.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// How long [`send_run`] retries refused requests, as an exporter would.
const RETRY: Duration = Duration::from_secs(60);

/// How long [`judge_runs`] waits for the verdicts of acknowledged runs before it counts the missing ones
/// lost.
const JUDGE: Duration = Duration::from_secs(30);

/// Sends run `trace` (its slow session, then its root, each its own request), `copies` times each, retrying
/// refusals for up to [`RETRY`] in all. Returns whether every request was acknowledged.
async fn send_run(endpoint: &str, trace: u64, copies: usize) -> bool {
    let Ok(client) = TraceServiceClient::connect(endpoint.to_owned()).await else {
        return false;
    };
    let deadline = Instant::now() + RETRY;
    for spans in [
        vec![span(trace, 2, Some(1), "session", 4)],
        vec![span(trace, 1, None, "run", 5)],
    ] {
        for _ in 0..copies {
            // Ok(false): refused for good; Err: refused for now (Unavailable), tried again.
            let sent = poll_until_async(deadline.saturating_duration_since(Instant::now()), || {
                let mut client = client.clone();
                let spans = spans.clone();
                async move {
                    match client.export(request(spans)).await {
                        Ok(_) => Ok(true),
                        Err(status) if status.code() == tonic::Code::Unavailable => Err(status),
                        Err(_) => Ok(false),
                    }
                }
            })
            .await;
            if !matches!(sent, Ok(true)) {
                return false;
            }
        }
    }
    true
}

/// Fills in what became of the acknowledged runs, as `processor` answers and as every processor of the
/// fault printed (`lines`).
async fn judge_runs(
    row: &mut FaultRow,
    processor: &ProcessorProcess,
    acknowledged: &[u64],
    lines: &[String],
) {
    row.acknowledged = acknowledged.len();
    // Each verdict once answered is kept; a run still without one at the end is counted lost below.
    let verdicts = std::sync::Mutex::new(HashMap::new());
    let _ = poll_until_async(JUDGE, || async {
        for trace in acknowledged {
            if verdicts.lock().unwrap().contains_key(trace) {
                continue;
            }
            let path = format!("/api/v1/traces/{}/verdict", hex::encode(trace_id(*trace)));
            let (status, body) = processor.get(&path).await;
            if status == 200 {
                verdicts.lock().unwrap().insert(
                    *trace,
                    serde_json::from_str::<serde_json::Value>(&body).unwrap(),
                );
            }
        }
        let judged = verdicts.lock().unwrap().len();
        if judged < acknowledged.len() {
            Err(judged)
        } else {
            Ok(())
        }
    })
    .await;
    let verdicts = verdicts.into_inner().unwrap();
    let (_, metrics) = processor.get("/metrics").await;
    row.refused += metrics
        .lines()
        .find_map(|line| line.strip_prefix("ironforge_processor_batches_refused_total "))
        .and_then(|count| count.parse().ok())
        .unwrap_or(0);
    let printed = verdicts_printed(lines);
    row.judged = verdicts.len();
    row.lost = acknowledged.len() - verdicts.len();
    for (trace, verdict) in &verdicts {
        let violations = verdict["violations"].as_array().map_or(0, Vec::len);
        let times = printed
            .get(&hex::encode(trace_id(*trace)))
            .copied()
            .unwrap_or(0);
        if times > 1 || violations > 1 {
            row.doubled += 1;
        } else if verdict["span_count"] != 2 || violations != 1 {
            row.wrong += 1;
        }
    }
}

impl FaultRow {
    fn new(fault: &'static str, runs: u64) -> Self {
        Self {
            fault,
            sent: usize::try_from(runs).unwrap(),
            ..Self::default()
        }
    }

    /// Judges the acknowledged runs on the processor that received them, and stops it.
    async fn judge_in_place(&mut self, processor: ProcessorProcess, acknowledged: &[u64]) {
        judge_runs(self, &processor, acknowledged, &processor.lines()).await;
        self.peak_rss_kib = peak_rss_kib(processor.pid());
        processor.kill();
    }

    /// Stops `before` (SIGKILL or SIGTERM), judges the acknowledged runs on `after` (started on the same
    /// data, the fault injected between), and stops it: a verdict printed by both counts as doubled.
    async fn judge_after_restart(
        &mut self,
        before: ProcessorProcess,
        kill: bool,
        acknowledged: &[u64],
        after: impl FnOnce() -> ProcessorProcess,
    ) {
        let peak = peak_rss_kib(before.pid());
        let mut lines = if kill {
            before.kill()
        } else {
            before.terminate().1
        };
        let restarted = after();
        judge_runs(self, &restarted, acknowledged, &[]).await;
        self.peak_rss_kib = peak.max(peak_rss_kib(restarted.pid()));
        lines.extend(restarted.kill());
        self.doubled += verdicts_printed(&lines)
            .values()
            .filter(|times| **times > 1)
            .count();
    }
}

/// Starts a processor and sends it `runs` runs, each request `copies` times; returns it with the runs whose
/// requests were all acknowledged.
async fn loaded(
    contracts: &Path,
    data: &Path,
    extra: &[&str],
    runs: u64,
    copies: usize,
) -> (ProcessorProcess, Vec<u64>) {
    let processor = ProcessorProcess::start(contracts, data, extra).unwrap();
    let mut acknowledged = Vec::new();
    for trace in 0..runs {
        if send_run(&processor.grpc_endpoint(), trace, copies).await {
            acknowledged.push(trace);
        }
    }
    (processor, acknowledged)
}

/// Each fault of the reliability table, injected into a real processor under a load of runs: what was sent,
/// acknowledged, judged, lost, doubled and misjudged, and the peak RSS. `IRONFORGE_FAULT_RUNS` (default 20)
/// sets the runs per fault; `scripts/faults` runs it long and prints the table.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fault_suite() {
    let runs: u64 = std::env::var("IRONFORGE_FAULT_RUNS")
        .ok()
        .and_then(|runs| runs.parse().ok())
        .unwrap_or(20);
    let dir = TempDir::new("fault-suite");
    let yaml = test_contracts().replace("grace_seconds: 0.5", "grace_seconds: 1");
    let contracts = write_contracts(dir.path(), &yaml);
    // Runs still in flight when the process stops: their grace outlasts the load.
    let slow_dir = dir.path().join("slow");
    std::fs::create_dir_all(&slow_dir).unwrap();
    let slow = write_contracts(
        &slow_dir,
        &yaml.replace("grace_seconds: 1", "grace_seconds: 2.5"),
    );
    let mut rows = Vec::new();

    // Each request delivered twice, as an exporter retries a request whose answer it lost.
    let mut row = FaultRow::new("every request delivered twice", runs);
    let (processor, acknowledged) =
        loaded(&contracts, &dir.path().join("retried"), &[], runs, 2).await;
    row.judge_in_place(processor, &acknowledged).await;
    rows.push(row);

    // Killed (SIGKILL) or stopped (SIGTERM) with runs in flight, then restarted.
    for (fault, kill) in [
        ("SIGKILL with runs in flight, restart", true),
        ("SIGTERM with runs in flight, restart", false),
    ] {
        let data = dir.path().join(if kill { "sigkill" } else { "sigterm" });
        let mut row = FaultRow::new(fault, runs);
        let (processor, acknowledged) = loaded(&slow, &data, &[], runs, 1).await;
        row.judge_after_restart(processor, kill, &acknowledged, || {
            ProcessorProcess::start(&slow, &data, &[]).unwrap()
        })
        .await;
        rows.push(row);
    }

    // A log capped below one segment: runs are refused while it is full and taken once decided runs free it.
    let mut row = FaultRow::new(
        "write-ahead log capped at 64 KiB (a segment is 16 MiB)",
        runs,
    );
    let cap = ["--wal-max-bytes", "65536"];
    let (processor, acknowledged) =
        loaded(&contracts, &dir.path().join("cap"), &cap, runs, 1).await;
    row.judge_in_place(processor, &acknowledged).await;
    rows.push(row);

    // 64 bytes flipped in the middle of a segment while runs are in flight: the damaged record's runs are
    // cut short, every other run is judged as it should be.
    let data = dir.path().join("damaged");
    let mut row = FaultRow::new(
        "64 bytes flipped mid-segment with runs in flight, restart",
        runs,
    );
    let (processor, acknowledged) = loaded(&slow, &data, &[], runs, 1).await;
    row.judge_after_restart(processor, true, &acknowledged, || {
        damage_the_largest_segment(&data);
        ProcessorProcess::start(&slow, &data, &[]).unwrap()
    })
    .await;
    // A run's two requests are two records: 64 bytes reach at most two adjacent ones, whose spans are gone.
    // Nothing else may be.
    row.destroys_records = true;
    assert!(row.lost + row.wrong <= 2, "{row:?}");
    rows.push(row);

    // A full disk at start-up with runs in flight, freed a moment later.
    let data = dir.path().join("full");
    let mount = dir.path().join("tmpfs");
    let mut row = FaultRow::new("restart on a full disk, freed after 2 s", runs);
    let (processor, acknowledged) = loaded(&slow, &data, &[], runs, 1).await;
    let mut freeing = None;
    row.judge_after_restart(processor, true, &acknowledged, || {
        let full = start_on_a_full_disk(&slow, &data, &mount);
        let fill = format!("/proc/{}/root{}/fill", full.pid(), mount.display());
        // Freed by a thread of its own while the runs are judged.
        freeing = Some(std::thread::spawn(move || {
            // The fault: the disk stays full for the first 2 s of the restart.
            std::thread::sleep(Duration::from_secs(2));
            std::fs::remove_file(&fill).unwrap_or_else(|e| panic!("{fill}: {e}"));
        }));
        full
    })
    .await;
    if let Some(freeing) = freeing {
        freeing.join().unwrap();
    }
    rows.push(row);

    // The runs, then a flood of traces whose roots never come, ten times the verdicts kept: the runs'
    // verdicts are still answered.
    let kept = runs * 5;
    let small = yaml.replace(
        "decided_traces_kept: 10000",
        &format!("decided_traces_kept: {kept}"),
    );
    assert_ne!(small, yaml, "the default decided_traces_kept changed");
    let small_dir = dir.path().join("small-kept");
    std::fs::create_dir_all(&small_dir).unwrap();
    let small = write_contracts(&small_dir, &small);
    let mut row = FaultRow::new(
        "flood of rootless traces, 10× the verdicts kept, after the runs",
        runs,
    );
    let (processor, acknowledged) = loaded(&small, &dir.path().join("flood"), &[], runs, 1).await;
    for trace in &acknowledged {
        processor.verdict(&hex::encode(trace_id(*trace))).await;
    }
    let mut client = TraceServiceClient::connect(processor.grpc_endpoint())
        .await
        .unwrap();
    let flood: Vec<u64> = (1_000_000..1_000_000 + kept * 10).collect();
    for traces in flood.chunks(100) {
        let spans = traces
            .iter()
            .flat_map(|trace| (2..7).map(|id| span(*trace, id, Some(1), "session", 1)))
            .collect();
        client.export(request(spans)).await.unwrap();
    }
    // Rootless traces are decided once idle for 3 s.
    let flooded = flood.last().copied().unwrap();
    processor.verdict(&hex::encode(trace_id(flooded))).await;
    row.judge_in_place(processor, &acknowledged).await;
    rows.push(row);

    println!(
        "| fault | runs sent | acknowledged | requests refused, retried | judged | lost | doubled | misjudged | peak RSS (MiB) |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for row in &rows {
        println!("{}", row.line());
    }
    for row in &rows {
        assert_eq!(row.doubled, 0, "{row:?}");
        assert_eq!(row.acknowledged, row.sent, "{row:?}");
        if !row.destroys_records {
            assert_eq!(row.lost, 0, "{row:?}");
            assert_eq!(row.wrong, 0, "{row:?}");
        }
    }
}
