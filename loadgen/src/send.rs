//! Sends IRONFORGE-shaped traces to an OTLP receiver as fast as it takes them, or at a set rate.
//!
//! Requests are numbered; each connection takes the next number, builds (or fetches, when built ahead) that
//! request and exports it, retrying while the receiver sheds load. Spans are encoded before the clock starts
//! and requests of a bounded run are framed (and gzipped, for HTTP) ahead too, so the sender spends its time
//! waiting on the receiver rather than encoding.

use std::fmt;
use std::io::Write;
use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use flate2::Compression;
use flate2::write::GzEncoder;
use tokio::task::JoinSet;
use tokio::time::Instant;

pub use crate::error::SendError;
pub use crate::export::Protocol;
use crate::export::{Connection, Outcome};
use crate::measure::ProcessProbe;
use crate::shape::{ShapeOptions, TraceSet};

/// First wait before retrying a refusal that named no delay; doubled on each further try.
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// What to send, where, and how fast.
#[derive(Debug, Clone)]
pub struct SendOptions {
    pub protocol: Protocol,
    /// `http://host:port` for gRPC, the full `…/v1/traces` URL for HTTP.
    pub endpoint: String,
    /// Independent connections, each with its own sending task.
    pub connections: usize,
    /// Spans per request, packed across trace boundaries.
    pub batch_size: u64,
    /// Traces to send; `None` sends until `duration` has passed.
    pub traces: Option<u64>,
    /// Stop taking new requests after this long.
    pub duration: Option<Duration>,
    /// Spans per second to aim at; 0 sends as fast as the receiver answers.
    pub rate: f64,
    /// Compress request bodies with gzip.
    pub gzip: bool,
    /// Tries after the first for one refused request before it counts as failed.
    pub max_retries: u32,
    /// Bytes of requests to build before the clock starts; the rest are built while sending.
    pub prebuild_bytes: usize,
    pub shape: ShapeOptions,
    /// Measure this process (the receiver) while the load runs.
    pub measure_pid: Option<u32>,
    /// After the last answer, wait this long before reading the receiver's CPU time, so work it defers
    /// (such as deciding traces after their grace period) is counted.
    pub settle: Duration,
}

impl SendOptions {
    /// 1,000 traces in 512-span requests over one connection to the protocol's default endpoint.
    pub fn new(protocol: Protocol) -> Self {
        Self {
            protocol,
            endpoint: protocol.default_endpoint().to_owned(),
            connections: 1,
            batch_size: 512,
            traces: Some(1000),
            duration: None,
            rate: 0.0,
            gzip: false,
            max_retries: 20,
            prebuild_bytes: 512 * 1024 * 1024,
            shape: ShapeOptions::default(),
            measure_pid: None,
            settle: Duration::ZERO,
        }
    }
}

/// What a load run did, and what it cost the receiver when that was measured.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Report {
    pub protocol: Protocol,
    pub endpoint: String,
    pub connections: usize,
    pub batch_size: u64,
    pub gzip: bool,
    pub spans_per_trace: u64,
    /// Traces whose spans were sent, in whole or (when a duration ran out) in part.
    pub traces: u64,
    /// Spans in requests the receiver accepted.
    pub spans_sent: u64,
    /// Spans the receiver accepted the request of but refused one by one (`partial_success`).
    pub spans_rejected: u64,
    /// Requests accepted.
    pub requests: u64,
    /// Refusals that were retried.
    pub retries: u64,
    /// Requests given up on.
    pub failures: u64,
    pub failed_spans: u64,
    /// Why the last failed request failed.
    pub last_failure: Option<String>,
    /// From the first request to the last answer.
    pub wall_seconds: f64,
    pub spans_per_second: f64,
    pub receiver: Option<ReceiverReport>,
}

/// The receiving process's cost.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ReceiverReport {
    pub pid: u32,
    /// CPU time it used from the first request to the end of the settle period.
    pub cpu_seconds: f64,
    pub settle_seconds: f64,
    /// Spans sent per CPU-second it used.
    pub spans_per_cpu_second: f64,
    /// Largest resident set sampled during the run and the settle period.
    pub rss_peak_bytes: u64,
    pub rss_end_bytes: u64,
}

/// Sends the load `options` describe and reports what happened.
pub async fn run(options: SendOptions) -> Result<Report, SendError> {
    validate(&options)?;
    let plan = Arc::new(Plan::new(&options)?);
    let mut connections = Vec::with_capacity(options.connections);
    for _ in 0..options.connections {
        connections
            .push(Connection::open(options.protocol, &options.endpoint, options.gzip).await?);
    }
    let probe = options.measure_pid.map(ProcessProbe::new).transpose()?;

    let cpu_before = probe.as_ref().map(ProcessProbe::cpu_time).transpose()?;
    let sampler = probe.as_ref().map(ProcessProbe::sample_rss);
    let start = Instant::now();
    let shared = Arc::new(Shared {
        next_request: AtomicU64::new(0),
        highest_span: AtomicU64::new(0),
        start,
        deadline: options.duration.map(|duration| start + duration),
        rate: options.rate,
        max_retries: options.max_retries,
    });
    let mut tasks = JoinSet::new();
    for connection in connections {
        tasks.spawn(send_requests(
            connection,
            Arc::clone(&plan),
            Arc::clone(&shared),
        ));
    }
    let mut stats = Stats::default();
    while let Some(joined) = tasks.join_next().await {
        stats.add(joined??);
    }
    let wall = start.elapsed();

    let receiver = match (probe, cpu_before, sampler) {
        (Some(probe), Some(cpu_before), Some(sampler)) => {
            tokio::time::sleep(options.settle).await;
            let cpu = probe.cpu_time()?.saturating_sub(cpu_before);
            let rss_end = probe.rss_bytes()?;
            let rss_peak = sampler.stop().await.max(rss_end);
            Some(ReceiverReport {
                pid: probe.pid(),
                cpu_seconds: cpu.as_secs_f64(),
                settle_seconds: options.settle.as_secs_f64(),
                spans_per_cpu_second: per_second(stats.spans_sent, cpu),
                rss_peak_bytes: rss_peak,
                rss_end_bytes: rss_end,
            })
        }
        _ => None,
    };
    let spans_per_trace = plan.traces.spans_per_trace();
    Ok(Report {
        protocol: options.protocol,
        endpoint: options.endpoint,
        connections: options.connections,
        batch_size: options.batch_size,
        gzip: options.gzip,
        spans_per_trace,
        traces: shared
            .highest_span
            .load(Ordering::Relaxed)
            .div_ceil(spans_per_trace),
        spans_sent: stats.spans_sent,
        spans_rejected: stats.spans_rejected,
        requests: stats.requests,
        retries: stats.retries,
        failures: stats.failures,
        failed_spans: stats.failed_spans,
        last_failure: stats.last_failure,
        wall_seconds: wall.as_secs_f64(),
        spans_per_second: per_second(stats.spans_sent, wall),
        receiver,
    })
}

fn validate(options: &SendOptions) -> Result<(), SendError> {
    if options.connections == 0 {
        return Err(SendError::Options("connections must be at least 1"));
    }
    if options.batch_size == 0 {
        return Err(SendError::Options("the batch size must be at least 1"));
    }
    if options.traces.is_none() && options.duration.is_none() {
        return Err(SendError::Options("give a number of traces or a duration"));
    }
    if !options.rate.is_finite() || options.rate < 0.0 {
        return Err(SendError::Options(
            "the rate must be 0 or more spans per second",
        ));
    }
    Ok(())
}

fn per_second(count: u64, elapsed: Duration) -> f64 {
    if elapsed.is_zero() {
        0.0
    } else {
        count as f64 / elapsed.as_secs_f64()
    }
}

/// Which spans each request carries, and the bodies built ahead.
#[derive(Debug)]
struct Plan {
    traces: TraceSet,
    batch_size: u64,
    total_spans: Option<u64>,
    /// Gzip here rather than in the transport (HTTP); tonic compresses gRPC messages itself.
    gzip_body: bool,
    prebuilt: Vec<Bytes>,
}

impl Plan {
    fn new(options: &SendOptions) -> Result<Self, SendError> {
        let traces = TraceSet::new(&options.shape)?;
        let total_spans = options
            .traces
            .map(|count| count.saturating_mul(traces.spans_per_trace()));
        let mut plan = Self {
            traces,
            batch_size: options.batch_size,
            total_spans,
            gzip_body: options.gzip && options.protocol == Protocol::Http,
            prebuilt: Vec::new(),
        };
        let mut built = 0;
        while built < options.prebuild_bytes {
            let index = plan.prebuilt.len() as u64;
            let Some(spans) = plan.spans(index) else {
                break;
            };
            let (body, raw_len) = plan.build(spans)?;
            built += raw_len;
            plan.prebuilt.push(body);
        }
        Ok(plan)
    }

    /// The spans of request `index`; `None` past the end of a bounded run.
    fn spans(&self, index: u64) -> Option<Range<u64>> {
        let start = index.checked_mul(self.batch_size)?;
        let end = start.saturating_add(self.batch_size);
        match self.total_spans {
            Some(total) if start >= total => None,
            Some(total) => Some(start..end.min(total)),
            None => Some(start..end),
        }
    }

    fn body(&self, index: u64, spans: Range<u64>) -> Result<Bytes, SendError> {
        match usize::try_from(index)
            .ok()
            .and_then(|index| self.prebuilt.get(index))
        {
            Some(body) => Ok(body.clone()),
            None => self.build(spans).map(|(body, _)| body),
        }
    }

    /// The request body and its length before compression.
    fn build(&self, spans: Range<u64>) -> Result<(Bytes, usize), SendError> {
        let raw = self.traces.encode_request(spans);
        let raw_len = raw.len();
        if !self.gzip_body {
            return Ok((Bytes::from(raw), raw_len));
        }
        let mut gzip = GzEncoder::new(Vec::with_capacity(raw_len / 4), Compression::default());
        gzip.write_all(&raw).map_err(SendError::Compress)?;
        let compressed = gzip.finish().map_err(SendError::Compress)?;
        Ok((Bytes::from(compressed), raw_len))
    }
}

/// State all sending tasks share.
#[derive(Debug)]
struct Shared {
    next_request: AtomicU64,
    /// One past the last span handed to a task, so a timed run knows how many traces it began.
    highest_span: AtomicU64,
    start: Instant,
    deadline: Option<Instant>,
    rate: f64,
    max_retries: u32,
}

#[derive(Debug, Default)]
struct Stats {
    spans_sent: u64,
    spans_rejected: u64,
    requests: u64,
    retries: u64,
    failures: u64,
    failed_spans: u64,
    last_failure: Option<String>,
}

impl Stats {
    fn add(&mut self, other: Self) {
        self.spans_sent += other.spans_sent;
        self.spans_rejected += other.spans_rejected;
        self.requests += other.requests;
        self.retries += other.retries;
        self.failures += other.failures;
        self.failed_spans += other.failed_spans;
        if other.last_failure.is_some() {
            self.last_failure = other.last_failure;
        }
    }
}

async fn send_requests(
    mut connection: Connection,
    plan: Arc<Plan>,
    shared: Arc<Shared>,
) -> Result<Stats, SendError> {
    let mut stats = Stats::default();
    loop {
        let index = shared.next_request.fetch_add(1, Ordering::Relaxed);
        let Some(spans) = plan.spans(index) else {
            break;
        };
        if shared
            .deadline
            .is_some_and(|deadline| Instant::now() >= deadline)
        {
            break;
        }
        if shared.rate > 0.0 {
            let due = Duration::from_secs_f64(spans.start as f64 / shared.rate);
            tokio::time::sleep_until(shared.start + due).await;
        }
        shared.highest_span.fetch_max(spans.end, Ordering::Relaxed);
        let count = spans.end - spans.start;
        let body = plan.body(index, spans)?;
        let mut retries = 0;
        loop {
            match connection.export(body.clone()).await {
                Outcome::Accepted { rejected_spans } => {
                    stats.requests += 1;
                    stats.spans_sent += count;
                    stats.spans_rejected += rejected_spans;
                    break;
                }
                Outcome::Retry(delay) if retries < shared.max_retries => {
                    retries += 1;
                    stats.retries += 1;
                    tokio::time::sleep(delay.unwrap_or_else(|| backoff(retries))).await;
                }
                Outcome::Retry(_) => {
                    stats.fail(count, "still refused after the last retry".to_owned());
                    break;
                }
                Outcome::Failed(why) => {
                    stats.fail(count, why);
                    break;
                }
            }
        }
    }
    Ok(stats)
}

impl Stats {
    fn fail(&mut self, spans: u64, why: String) {
        self.failures += 1;
        self.failed_spans += spans;
        self.last_failure = Some(why);
    }
}

fn backoff(retry: u32) -> Duration {
    FIRST_BACKOFF
        .saturating_mul(1 << retry.saturating_sub(1).min(16))
        .min(MAX_BACKOFF)
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "sent {} spans ({} traces of {}) in {} requests of up to {} spans over {} {} connection(s){} \
             to {}",
            self.spans_sent,
            self.traces,
            self.spans_per_trace,
            self.requests,
            self.batch_size,
            self.connections,
            self.protocol,
            if self.gzip { ", gzip" } else { "" },
            self.endpoint,
        )?;
        writeln!(
            f,
            "wall {:.3} s: {:.0} spans/s; retries {}, failures {} ({} spans), spans rejected by the receiver {}",
            self.wall_seconds,
            self.spans_per_second,
            self.retries,
            self.failures,
            self.failed_spans,
            self.spans_rejected,
        )?;
        if let Some(why) = &self.last_failure {
            writeln!(f, "last failure: {why}")?;
        }
        if let Some(receiver) = &self.receiver {
            writeln!(
                f,
                "receiver pid {}: {:.2} CPU-s (read {:.1} s after the last answer): {:.0} spans per CPU-second; \
                 RSS peak {:.1} MiB, at end {:.1} MiB",
                receiver.pid,
                receiver.cpu_seconds,
                receiver.settle_seconds,
                receiver.spans_per_cpu_second,
                mib(receiver.rss_peak_bytes),
                mib(receiver.rss_end_bytes),
            )?;
        }
        Ok(())
    }
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}
