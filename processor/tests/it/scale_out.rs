//! Scale-out behind a real OpenTelemetry Collector: the repository's own build (`collector/`) receives the
//! runs that the OpenTelemetry SDK exports, batched across traces, and its `load_balancing` exporter routes
//! each trace by id to one of two processor replicas (real sockets, static resolver). Every run is judged
//! exactly once, by one replica, from all of its spans, even when a replica is killed and restarted mid-load:
//! the Collector's persistent sending queue (`file_storage`) holds what it acknowledged until the replica is
//! back.
//!
//! The Collector binary comes from `IRONFORGE_TEST_OTELCOL` (scripts/test builds it and sets it). Without it
//! the test is skipped with a message, except under CI (`CI` set), where it fails.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::alerting_support::{Process, WAIT, free_port, wait_for};
use crate::e2e_support::test_contracts;
use crate::process_support::{ProcessorProcess, TempDir};
use ironforge_proto::semconv::attr;
use opentelemetry::trace::{Span as _, TraceContextExt, Tracer, TracerProvider as _};
use opentelemetry::{Context, KeyValue};
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{
    BatchConfigBuilder, BatchSpanProcessor, SdkTracerProvider, SpanData, SpanExporter,
};

/// Runs sent, in waves: replica B is killed after wave [`KILL_AFTER_WAVE`] (once it has judged a run) and
/// restarted after [`RESTART_AFTER_WAVE`], so the waves between reach the Collector while B is down.
const WAVES: usize = 12;
const RUNS_PER_WAVE: usize = 25;
const KILL_AFTER_WAVE: usize = 3;
const RESTART_AFTER_WAVE: usize = 7;
/// The SDK's batches: smaller than a wave, so a batch holds spans of many traces and some traces are split
/// over two batches.
const EXPORT_BATCH: usize = 64;

/// The Collector binary, or `None` after saying why the test is skipped (a failure under CI).
fn collector_binary() -> Option<PathBuf> {
    let hint = "scripts/test builds collector/ and sets IRONFORGE_TEST_OTELCOL";
    let reason = match std::env::var_os("IRONFORGE_TEST_OTELCOL") {
        Some(path) if Path::new(&path).is_file() => return Some(PathBuf::from(path)),
        Some(path) => format!("IRONFORGE_TEST_OTELCOL={} is not a file", path.display()),
        None => "IRONFORGE_TEST_OTELCOL is not set".to_owned(),
    };
    if std::env::var_os("CI").is_some_and(|value| !value.is_empty()) {
        panic!("no OpenTelemetry Collector: {reason}; {hint}");
    }
    eprintln!("skipped: no OpenTelemetry Collector: {reason}; {hint}");
    None
}

/// The Collector's configuration: OTLP/gRPC in; out through the `load_balancing` exporter, by trace id, to the
/// `backends`. Its own queue is on disk and has one consumer, so batches leave in the order they came and a
/// batch that a replica refuses is retried (without limit) before the next one goes: a trace split over two
/// batches reaches its replica in order. The per-backend OTLP exporters neither queue nor retry, so a failure
/// returns the batch to that queue.
fn collector_config(listen: SocketAddr, queue_dir: &Path, backends: &[SocketAddr]) -> String {
    let hostnames: Vec<String> = backends.iter().map(ToString::to_string).collect();
    format!(
        "extensions:
  file_storage:
    directory: {queue}
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: {listen}
exporters:
  load_balancing:
    routing_key: traceID
    timeout: 5s
    retry_on_failure:
      enabled: true
      initial_interval: 100ms
      max_interval: 500ms
      max_elapsed_time: 0s
    sending_queue:
      enabled: true
      num_consumers: 1
      queue_size: 10000
      storage: file_storage
    protocol:
      otlp:
        timeout: 5s
        tls:
          insecure: true
        sending_queue:
          enabled: false
        retry_on_failure:
          enabled: false
    resolver:
      static:
        hostnames: [{hostnames}]
service:
  extensions: [file_storage]
  telemetry:
    metrics:
      level: none
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [load_balancing]
",
        queue = queue_dir.display(),
        hostnames = hostnames.join(", "),
    )
}

/// A running Collector: its OTLP/gRPC endpoint, once it accepts connections.
async fn start_collector(binary: &Path, dir: &Path, backends: &[SocketAddr]) -> (Process, String) {
    let listen: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let queue = dir.join("collector-queue");
    std::fs::create_dir_all(&queue).unwrap();
    let config = dir.join("collector.yaml");
    std::fs::write(&config, collector_config(listen, &queue, backends)).unwrap();
    let args = vec!["--config".to_owned(), config.display().to_string()];
    let mut process = Process::spawn("otelcol", binary, &args, dir.join("collector.log"));
    wait_for("the Collector's OTLP receiver", || {
        process.assert_running();
        async move { tokio::net::TcpStream::connect(listen).await.ok() }
    })
    .await;
    (process, format!("http://{listen}"))
}

/// An SDK exporter that passes batches to the OTLP exporter and keeps, for each export the Collector
/// acknowledged, the trace id of each of its spans.
#[derive(Debug)]
struct Acknowledged {
    inner: opentelemetry_otlp::SpanExporter,
    exports: Arc<Mutex<Vec<Vec<String>>>>,
}

impl SpanExporter for Acknowledged {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let traces: Vec<String> = batch
            .iter()
            .map(|span| span.span_context.trace_id().to_string())
            .collect();
        self.inner.export(batch).await?;
        self.exports.lock().unwrap().push(traces);
        Ok(())
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

/// What [`send_runs`] sent.
struct Load {
    spans_sent: usize,
    /// Spans of the exports the Collector acknowledged, by trace.
    acknowledged: HashMap<String, usize>,
    /// Acknowledged exports that held spans of more than one trace.
    mixed_exports: usize,
    /// Traces whose spans the SDK exported in more than one request.
    split_traces: usize,
    /// The runs' trace ids, wave by wave.
    waves: Vec<Vec<String>>,
}

/// Sends the waves of runs through the SDK's batch processor: run `n` is a `run` root with `1 + n % 4`
/// `session` children. After each wave it calls `after_wave` with the wave's number, then lets the batch
/// processor export.
fn send_runs(
    exporter: opentelemetry_otlp::SpanExporter,
    mut after_wave: impl FnMut(usize),
) -> Load {
    let exports = Arc::new(Mutex::new(Vec::new()));
    let exporter = Acknowledged {
        inner: exporter,
        exports: Arc::clone(&exports),
    };
    let batches = BatchConfigBuilder::default()
        .with_max_export_batch_size(EXPORT_BATCH)
        .with_max_queue_size(8 * EXPORT_BATCH * WAVES)
        .with_scheduled_delay(Duration::from_millis(50))
        .build();
    let provider = SdkTracerProvider::builder()
        .with_span_processor(
            BatchSpanProcessor::builder(exporter)
                .with_batch_config(batches)
                .build(),
        )
        .with_resource(
            Resource::builder()
                .with_service_name("ironforge-scale-out")
                .build(),
        )
        .build();
    let tracer = provider.tracer("ironforge");
    let mut spans_sent = 0;
    let mut waves = Vec::new();
    for wave in 0..WAVES {
        let mut runs = Vec::new();
        for n in wave * RUNS_PER_WAVE..(wave + 1) * RUNS_PER_WAVE {
            let run = tracer
                .span_builder("run")
                .with_attributes([KeyValue::new(attr::SPAN_KIND, "run")])
                .start(&tracer);
            let cx = Context::current_with_span(run);
            for session in 0..1 + n % 4 {
                tracer
                    .span_builder("process_session")
                    .with_attributes([
                        KeyValue::new(attr::SPAN_KIND, "session"),
                        KeyValue::new(attr::SESSION_ID, format!("S{n}-{session}")),
                    ])
                    .start_with_context(&tracer, &cx)
                    .end();
            }
            runs.push(cx.span().span_context().trace_id().to_string());
            cx.span().end();
            spans_sent += 2 + n % 4;
        }
        waves.push(runs);
        after_wave(wave);
        // Load pacing: the next wave starts after the batch processor's next scheduled export.
        std::thread::sleep(Duration::from_millis(100));
    }
    provider.force_flush().unwrap();
    provider.shutdown().unwrap();
    let exports = exports.lock().unwrap();
    let mut acknowledged = HashMap::new();
    let mut requests: HashMap<&str, usize> = HashMap::new();
    let mut mixed_exports = 0;
    for export in exports.iter() {
        let traces: HashSet<&str> = export.iter().map(String::as_str).collect();
        mixed_exports += usize::from(traces.len() > 1);
        for trace in traces {
            *requests.entry(trace).or_insert(0) += 1;
        }
        for trace in export {
            *acknowledged.entry(trace.clone()).or_insert(0) += 1;
        }
    }
    Load {
        spans_sent,
        acknowledged,
        mixed_exports,
        split_traces: requests.values().filter(|&&n| n > 1).count(),
        waves,
    }
}

/// A replica on a fixed OTLP/gRPC port (which the Collector's static resolver names) and its own data
/// directory; a restart keeps both.
struct Replica {
    grpc: SocketAddr,
    data: PathBuf,
    process: Option<ProcessorProcess>,
    /// The console of instances already stopped.
    printed: Vec<String>,
}

impl Replica {
    fn start(contracts: &Path, data: PathBuf) -> Self {
        let grpc: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        let mut replica = Self {
            grpc,
            data,
            process: None,
            printed: Vec::new(),
        };
        replica.restart(contracts);
        replica
    }

    fn restart(&mut self, contracts: &Path) {
        let grpc = self.grpc.to_string();
        let args = ["--otlp-grpc-addr", grpc.as_str()];
        self.process = Some(ProcessorProcess::start(contracts, &self.data, &args).unwrap());
    }

    /// SIGKILL, once the replica has judged a run (waiting up to [`WAIT`]), so that it dies at work.
    fn kill_once_judging(&mut self) {
        let deadline = Instant::now() + WAIT;
        while !self
            .running()
            .lines()
            .iter()
            .any(|line| VerdictLine::parse(line).is_some())
        {
            assert!(
                Instant::now() < deadline,
                "the replica judged nothing within {WAIT:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        let process = self.process.take().expect("a running replica");
        self.printed.extend(process.kill());
    }

    fn running(&self) -> &ProcessorProcess {
        self.process.as_ref().expect("a running replica")
    }

    /// Every verdict line printed so far, by all of this replica's instances.
    fn verdict_lines(&self) -> Vec<VerdictLine> {
        let current = self
            .process
            .as_ref()
            .map(ProcessorProcess::lines)
            .unwrap_or_default();
        self.printed
            .iter()
            .chain(&current)
            .filter_map(|line| VerdictLine::parse(line))
            .collect()
    }
}

/// A verdict as the console printed it.
#[derive(Debug, Clone)]
struct VerdictLine {
    trace: String,
    spans: u64,
    status: String,
    revised: bool,
}

impl VerdictLine {
    fn parse(line: &str) -> Option<Self> {
        let value: serde_json::Value = serde_json::from_str(line).ok()?;
        if value.get("target")?.as_str()? != "ironforge::verdict" {
            return None;
        }
        let fields = value.get("fields")?;
        Some(Self {
            trace: fields.get("trace_id")?.as_str()?.to_lowercase(),
            spans: fields.get("spans")?.as_u64()?,
            status: fields.get("status")?.as_str()?.to_owned(),
            revised: fields.get("revised")?.as_bool()?,
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_collector_spreads_whole_runs_over_two_replicas_and_loses_nothing_when_one_restarts() {
    let Some(otelcol) = collector_binary() else {
        return;
    };
    let dir = TempDir::new("scale-out");
    // A trace without its root waits 30 s, longer than a replica is down here: a trace is only judged once
    // its root has arrived and the grace (half a second) has passed.
    let contracts_yaml =
        test_contracts().replace("idle_timeout_seconds: 3", "idle_timeout_seconds: 30");
    assert_ne!(
        contracts_yaml,
        test_contracts(),
        "the test contracts' idle timeout changed"
    );
    let contracts = dir.path().join("contracts.yaml");
    std::fs::write(&contracts, contracts_yaml).unwrap();
    let replica_a = Replica::start(&contracts, dir.path().join("replica-a"));
    let mut replica_b = Replica::start(&contracts, dir.path().join("replica-b"));
    let backends = [replica_a.grpc, replica_b.grpc];
    let (mut collector, endpoint) = start_collector(&otelcol, dir.path(), &backends).await;

    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_tonic()
        .with_endpoint(endpoint)
        .build()
        .unwrap();
    // Replica B is killed and restarted between waves, while the load goes on.
    let (load, replica_b) = tokio::task::spawn_blocking(move || {
        let load = send_runs(exporter, |wave| match wave {
            KILL_AFTER_WAVE => replica_b.kill_once_judging(),
            RESTART_AFTER_WAVE => replica_b.restart(&contracts),
            _ => {}
        });
        (load, replica_b)
    })
    .await
    .unwrap();
    let replicas = [replica_a, replica_b];
    collector.assert_running();
    let Load {
        spans_sent: sent,
        acknowledged,
        mixed_exports,
        split_traces,
        waves,
    } = load;
    // The Collector gets what an SDK sends: batches of many traces, some traces over two batches.
    eprintln!(
        "SDK exports of several traces: {mixed_exports}; traces over several exports: {split_traces}"
    );
    assert!(mixed_exports > 0 && split_traces > 0);

    let runs = WAVES * RUNS_PER_WAVE;
    assert_eq!(acknowledged.len(), runs, "runs the Collector acknowledged");
    assert_eq!(
        acknowledged.values().sum::<usize>(),
        sent,
        "spans the Collector acknowledged"
    );

    // Every acknowledged run is judged, on one replica or the other.
    let judged = wait_for("a verdict for every run", || {
        let lines: Vec<Vec<VerdictLine>> = replicas.iter().map(Replica::verdict_lines).collect();
        let seen: HashSet<&str> = lines.iter().flatten().map(|v| v.trace.as_str()).collect();
        let all = acknowledged
            .keys()
            .all(|trace| seen.contains(trace.as_str()));
        async move { all.then_some(lines) }
    })
    .await;

    // Exactly once, by exactly one replica, from every span sent, and never revised by a late span.
    let mut owner: HashMap<&str, usize> = HashMap::new();
    for (replica, lines) in judged.iter().enumerate() {
        for verdict in lines {
            assert!(
                !verdict.revised,
                "judged before all its spans came: {verdict:?}"
            );
            assert!(
                acknowledged.contains_key(&verdict.trace),
                "a verdict for a trace never sent: {verdict:?}"
            );
            if let Some(first) = owner.insert(&verdict.trace, replica) {
                panic!(
                    "{} judged twice, by replicas {first} and {replica}",
                    verdict.trace
                );
            }
            assert_eq!(
                usize::try_from(verdict.spans).unwrap(),
                acknowledged[&verdict.trace],
                "spans of {verdict:?}"
            );
            assert_ne!(verdict.status, "incomplete", "{verdict:?}");
        }
    }
    let per_replica: Vec<usize> = (0..replicas.len())
        .map(|replica| owner.values().filter(|&&r| r == replica).count())
        .collect();
    eprintln!("runs judged per replica: {per_replica:?}");
    assert_eq!(per_replica.iter().sum::<usize>(), runs);
    for count in &per_replica {
        assert!(*count >= runs / 4, "a lopsided split: {per_replica:?}");
    }

    // The kill fell mid-load: B judged runs before it, and the runs created while B was down that fall to B
    // (judged, as checked above) reached it through the Collector's queue after its restart.
    let judged_before_kill = replicas[1]
        .printed
        .iter()
        .filter(|line| VerdictLine::parse(line).is_some())
        .count();
    let held = waves[KILL_AFTER_WAVE + 1..=RESTART_AFTER_WAVE]
        .iter()
        .flatten()
        .filter(|trace| owner.get(trace.as_str()) == Some(&1))
        .count();
    eprintln!(
        "replica B: {judged_before_kill} runs judged before the kill, {held} created while it was down"
    );
    assert!(
        judged_before_kill > 0,
        "replica B judged nothing before it was killed"
    );
    assert!(
        held > 0,
        "no run created while replica B was down fell to it"
    );

    // Each replica's API agrees: the owner serves the verdict with every span, the other has none.
    for (trace, &replica) in &owner {
        let verdict = replicas[replica].running().verdict(trace).await;
        assert_eq!(
            verdict["span_count"].as_u64().unwrap(),
            u64::try_from(acknowledged[*trace]).unwrap(),
            "{verdict}"
        );
        let (status, body) = replicas[1 - replica]
            .running()
            .get(&format!("/api/v1/traces/{trace}/verdict"))
            .await;
        assert_eq!(status, 404, "{trace} is on both replicas: {body}");
    }
    collector.assert_running();
}
