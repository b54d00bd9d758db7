//! What each part of ingest costs a span, on the bundled load's requests (`ironforge-loadgen`'s
//! IRONFORGE-shaped traces, 512-span requests): the wire decode into span records, the span metrics, the
//! write-ahead log's append and its commit (`--wal-fsync batch`: one sync a request, the most a worker
//! syncs, since its group commit syncs once for every request waiting), the span-scoped contracts as spans
//! arrive, and the decisions once the traces are complete. It also says how many bytes the log wrote a span.
//!
//! ```sh
//! cargo bench -p ironforge-processor --bench ingest_parts
//! REQUESTS=400 ROUNDS=9 cargo bench -p ironforge-processor --bench ingest_parts
//! ```
//!
//! Each part runs alone over every request, in the order the processor runs them, and is timed in the
//! thread's CPU time (time spent waiting for the disk or for other processes is left out). A round starts
//! from a fresh engine and log; the table gives each part's median over the rounds, in nanoseconds a span.

// A bench that cannot set up has nothing to report: it stops loudly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use ironforge_engine::config::ContractFile;
use ironforge_engine::decode::decode_request;
use ironforge_engine::model::SpanRecord;
use ironforge_engine::{ContractSet, Engine, Now};
use ironforge_loadgen::shape::{ShapeOptions, TraceSet};
use ironforge_telemetry::Metrics;
use ironforge_wal::{Event, Observer, Wal, WalConfig, WalUsage};

const SPANS_PER_REQUEST: u64 = 512;

/// The log's events go nowhere: the bench measures the writing.
#[derive(Debug)]
struct Quiet;

impl Observer for Quiet {
    fn observe(&self, _event: Event<'_>, _usage: &WalUsage) {}
}

/// The calling thread's CPU time.
fn thread_cpu_time() -> Duration {
    nix::time::clock_gettime(nix::time::ClockId::CLOCK_THREAD_CPUTIME_ID)
        .map(Duration::from)
        .expect("the thread's CPU clock")
}

/// Runs `part` and returns its thread CPU time.
fn timed(part: impl FnOnce()) -> Duration {
    let start = thread_cpu_time();
    part();
    thread_cpu_time().saturating_sub(start)
}

const PARTS: [&str; 6] = [
    "wire decode (span records)",
    "span metrics",
    "write-ahead log: append",
    "write-ahead log: commit (a sync a request)",
    "span contracts (ingest)",
    "decisions (trace contracts)",
];

/// Bytes of the files under `path`.
fn bytes_under(path: &std::path::Path) -> u64 {
    let metadata = std::fs::metadata(path).unwrap();
    if !metadata.is_dir() {
        return metadata.len();
    }
    std::fs::read_dir(path)
        .unwrap()
        .map(|entry| bytes_under(&entry.unwrap().path()))
        .sum()
}

/// One round over `requests`: each part's CPU time, and the bytes the log wrote.
fn round(
    requests: &[Vec<u8>],
    contracts: &Arc<ContractSet>,
    dir: &std::path::Path,
) -> ([Duration; 6], u64) {
    let plan = Arc::clone(contracts.plan());
    let mut batches: Vec<Vec<SpanRecord>> = Vec::with_capacity(requests.len());
    let decode = timed(|| {
        for request in requests {
            batches.push(decode_request(black_box(request), &plan).unwrap().spans);
        }
    });

    let metrics = Metrics::new();
    let span_metrics = timed(|| {
        for batch in &batches {
            // The shard worker reads the clock once a batch.
            let now = std::time::Instant::now();
            for span in batch {
                metrics.span(span, now);
            }
        }
    });

    let _ = std::fs::remove_dir_all(dir);
    let (wal, _) = Wal::open(dir, WalConfig::default(), Arc::new(Quiet)).unwrap();
    let mut log = wal.shard_log(0).unwrap();
    let (mut append, mut commit) = (Duration::ZERO, Duration::ZERO);
    for batch in &batches {
        append += timed(|| log.append_spans(batch).unwrap());
        commit += timed(|| log.commit().unwrap());
    }
    drop(log);
    let log_bytes = bytes_under(dir);

    let mut engine = Engine::new(Arc::clone(contracts));
    let now = Now::system();
    let mut events = 0;
    let ingest = timed(|| {
        for batch in batches {
            events += engine.ingest(batch, now).unwrap().len();
        }
    });
    let later = Now {
        instant: now.instant + Duration::from_secs(3600),
        unix_nano: now.unix_nano + 3_600_000_000_000,
    };
    let decide = timed(|| events += engine.tick(later).len());
    assert_eq!(engine.traces_in_flight(), 0, "every trace is decided");
    black_box(events);
    (
        [decode, span_metrics, append, commit, ingest, decide],
        log_bytes,
    )
}

fn setting(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --all-targets` runs the bench without it, as a quick check
    // that every part still runs (a few requests, one round). Other flags mean nothing here.
    let measuring = std::env::args().any(|arg| arg == "--bench");
    let requests = setting("REQUESTS", if measuring { 200 } else { 4 }) as u64;
    let rounds = setting("ROUNDS", if measuring { 5 } else { 1 }).max(1);
    let load = TraceSet::new(&ShapeOptions::default()).unwrap();
    // Whole traces only, so every trace is decided complete.
    let spans = (requests * SPANS_PER_REQUEST).next_multiple_of(load.spans_per_trace());
    let encoded: Vec<Vec<u8>> = (0..spans)
        .step_by(SPANS_PER_REQUEST as usize)
        .map(|start| load.encode_request(start..(start + SPANS_PER_REQUEST).min(spans)))
        .collect();
    let bytes: usize = encoded.iter().map(Vec::len).sum();
    let contracts = Arc::new(ContractSet::new(
        ContractFile::embedded_default().unwrap(),
        None,
    ));
    let dir = std::env::temp_dir().join(format!("ironforge-ingest-parts-{}", std::process::id()));

    let (mut times, log_bytes): (Vec<[Duration; 6]>, Vec<u64>) = (0..rounds)
        .map(|_| round(&encoded, &contracts, &dir))
        .unzip();
    let _ = std::fs::remove_dir_all(&dir);

    println!(
        "{spans} spans in {} requests ({} bytes a span), {rounds} rounds, embedded contracts\n",
        encoded.len(),
        bytes / spans as usize
    );
    println!("| part | ns a span (median) | min | max |");
    println!("|---|---|---|---|");
    let per_span = |time: Duration| time.as_nanos() as f64 / spans as f64;
    let mut total = 0.0;
    for (index, part) in PARTS.iter().enumerate() {
        times.sort_by_key(|round| round[index]);
        let median = per_span(times[rounds / 2][index]);
        total += median;
        println!(
            "| {part} | {median:.0} | {:.0} | {:.0} |",
            per_span(times[0][index]),
            per_span(times[rounds - 1][index])
        );
    }
    println!(
        "| **all parts** | **{total:.0}** (≈ {:.0} spans per CPU-second) | | |",
        1e9 / total
    );
    println!(
        "\nThe log wrote {} bytes a span.",
        log_bytes.iter().max().copied().unwrap_or_default() / spans
    );
}
