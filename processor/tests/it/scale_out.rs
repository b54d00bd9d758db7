//! Scale-out behind a real OpenTelemetry Collector: the repository's own build (`collector/`) receives the
//! runs that the OpenTelemetry SDK exports, batched across traces, and the stack's `load_balancing` exporter
//! block (from `otel-collector/config.yml`) routes each trace by id to one of two processor replicas (real
//! sockets, a static resolver in place of DNS, the ingest token required). Every run is judged by one
//! replica, from all of its spans, even when a replica is killed and restarted mid-load: the Collector's
//! persistent sending queue (`file_storage`) holds what it acknowledged until the replica is back. Each run
//! is judged once, but for the runs the killed replica was handing on at the kill (at most one a shard),
//! which it judges again after its restart.
//!
//! The same Collector checks the Collector configurations the project ships (`validate`).
//!
//! The Collector binary comes from `IRONFORGE_TEST_OTELCOL` (scripts/test builds it and sets it). Without it
//! the test is skipped with a message, except under CI (`CI` set), where it fails.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::alerting_support::{Process, free_port, read_repo_file};
use crate::e2e_support::test_contracts;
use crate::process_support::{ProcessorProcess, SHARDS, TempDir};
use crate::wait_support::{WAIT, poll_until_async, wait_until, wait_until_async};
use ironforge_proto::semconv::attr;
use opentelemetry::trace::{Span as _, TraceContextExt, Tracer, TracerProvider as _};
use opentelemetry::{Context, KeyValue};
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{
    BatchConfigBuilder, BatchSpanProcessor, SdkTracerProvider, SpanData, SpanExporter,
};
use serde_yaml::Value as Yaml;

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

/// The stack's Collector configuration, whose load-balancing exporter block this test runs as shipped.
const SHIPPED_CONFIG: &str = "otel-collector/config.yml";
/// That exporter, by its name in the shipped configuration.
const BALANCER: &str = "load_balancing/ironforge";
/// The ingest token the replicas require and the Collector sends.
const INGEST_TOKEN: &str = "scale-out-ingest-token";

fn yaml(text: &str) -> Yaml {
    serde_yaml::from_str(text).unwrap()
}

/// The Collector's configuration: the shipped one's traces pipeline, with the shipped load-balancing exporter
/// (its queue on disk, its retries, the ingest token header) changed only where the stack's environment
/// differs: the replicas come from a static list instead of DNS, the queue and the token file live in `dir`,
/// and OTLP/gRPC comes in on `listen`.
fn collector_config(listen: SocketAddr, dir: &Path, backends: &[SocketAddr]) -> String {
    let shipped = yaml(&read_repo_file(SHIPPED_CONFIG));
    let mut balancer = shipped["exporters"][BALANCER].clone();
    let hostnames: Vec<Yaml> = backends.iter().map(|b| b.to_string().into()).collect();
    balancer["resolver"] = yaml("static: {}");
    balancer["resolver"]["static"]["hostnames"] = Yaml::Sequence(hostnames);
    let token = dir.join("ingest-token");
    std::fs::write(&token, INGEST_TOKEN).unwrap();
    let header = &mut balancer["protocol"]["otlp"]["headers"]["authorization"];
    assert!(
        header
            .as_str()
            .is_some_and(|h| h.starts_with("Bearer ${file:"))
    );
    *header = format!("Bearer ${{file:{}}}", token.display()).into();
    let storage = balancer["sending_queue"]["storage"]
        .as_str()
        .expect("the shipped exporter keeps its queue in storage")
        .to_owned();
    let queue = dir.join("collector-queue");
    std::fs::create_dir_all(&queue).unwrap();

    let mut config = yaml(
        "{extensions: {}, receivers: {otlp: {protocols: {grpc: {}}}}, exporters: {}, \
         service: {telemetry: {metrics: {level: none}}, pipelines: {traces: {receivers: [otlp]}}}}",
    );
    config["extensions"][storage.as_str()] = yaml("directory: ''");
    config["extensions"][storage.as_str()]["directory"] = queue.display().to_string().into();
    config["receivers"]["otlp"]["protocols"]["grpc"]["endpoint"] = listen.to_string().into();
    config["processors"] = shipped["processors"].clone();
    config["exporters"][BALANCER] = balancer;
    config["service"]["extensions"] = Yaml::Sequence(vec![storage.into()]);
    let traces = &mut config["service"]["pipelines"]["traces"];
    traces["processors"] = shipped["service"]["pipelines"]["traces"]["processors"].clone();
    traces["exporters"] = Yaml::Sequence(vec![BALANCER.into()]);
    serde_yaml::to_string(&config).unwrap()
}

/// A running Collector: its OTLP/gRPC endpoint, once it accepts connections.
async fn start_collector(binary: &Path, dir: &Path, backends: &[SocketAddr]) -> (Process, String) {
    let listen: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let config = dir.join("collector.yaml");
    std::fs::write(&config, collector_config(listen, dir, backends)).unwrap();
    let args = vec!["--config".to_owned(), config.display().to_string()];
    let mut process = Process::spawn("otelcol", binary, &args, dir.join("collector.log"));
    wait_until_async("the Collector's OTLP receiver", || {
        process.assert_running();
        async move { tokio::net::TcpStream::connect(listen).await }
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
        let token = self.data.with_extension("ingest-token");
        std::fs::write(&token, INGEST_TOKEN).unwrap();
        let token = token.display().to_string();
        let args = [
            "--otlp-grpc-addr",
            grpc.as_str(),
            "--ingest-token-file",
            token.as_str(),
        ];
        self.process = Some(ProcessorProcess::start(contracts, &self.data, &args).unwrap());
    }

    /// SIGKILL, once the replica has judged a run (waiting up to [`WAIT`]), so that it dies at work.
    fn kill_once_judging(&mut self) {
        wait_until("a verdict printed by the replica", || {
            let lines = self.running().lines();
            if lines.iter().any(|line| VerdictLine::parse(line).is_some()) {
                Ok(())
            } else {
                Err(format!("{} lines, none a verdict", lines.len()))
            }
        });
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

/// The runs among `runs` that neither replica has printed a verdict for.
fn without_verdict<'a>(
    replicas: &[Replica],
    runs: impl IntoIterator<Item = &'a String>,
) -> Vec<&'a String> {
    let printed: HashSet<String> = replicas
        .iter()
        .flat_map(Replica::verdict_lines)
        .map(|verdict| verdict.trace)
        .collect();
    runs.into_iter()
        .filter(|trace| !printed.contains(*trace))
        .collect()
}

/// Each run without a verdict, with its wave and what each replica's API says of it, then the consoles and
/// the Collector's log.
async fn explain_missing(
    replicas: &[Replica; 2],
    waves: &[Vec<String>],
    acknowledged: &HashMap<String, usize>,
    collector: &Process,
) -> String {
    let mut report = Vec::new();
    for (wave, runs) in waves.iter().enumerate() {
        for trace in without_verdict(replicas, runs) {
            let path = format!("/api/v1/traces/{trace}/verdict");
            let (a, _) = replicas[0].running().get(&path).await;
            let (b, _) = replicas[1].running().get(&path).await;
            let spans = acknowledged.get(trace).copied().unwrap_or_default();
            report.push(format!(
                "wave {wave}, {trace} ({spans} spans): HTTP {a} from A, {b} from B"
            ));
        }
    }
    format!(
        "{}\nreplica A:\n{}\nreplica B before its restart:\n{}\nreplica B:\n{}\nCollector:\n{}",
        report.join("\n"),
        replicas[0].running().lines().join("\n"),
        replicas[1].printed.join("\n"),
        replicas[1].running().lines().join("\n"),
        collector.log()
    )
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
    let judged = poll_until_async(WAIT, || async {
        let missing = without_verdict(&replicas, acknowledged.keys()).len();
        if missing == 0 {
            Ok(replicas
                .iter()
                .map(Replica::verdict_lines)
                .collect::<Vec<_>>())
        } else {
            Err(missing)
        }
    })
    .await;
    let judged = match judged {
        Ok(judged) => judged,
        Err(missing) => panic!(
            "{missing} of {runs} runs without a verdict after {WAIT:?}\n{}",
            explain_missing(&replicas, &waves, &acknowledged, &collector).await
        ),
    };

    // By exactly one replica, from every span sent, and never revised by a late span. Once, but for the
    // traces replica B was handing on when it was killed (at most one a shard), judged again after its
    // restart.
    let mut owner: HashMap<&str, usize> = HashMap::new();
    let mut judged_again = Vec::new();
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
            match owner.insert(&verdict.trace, replica) {
                Some(1) if replica == 1 => judged_again.push(verdict.trace.as_str()),
                Some(first) => panic!(
                    "{} judged twice, by replicas {first} and {replica}",
                    verdict.trace
                ),
                None => {}
            }
            assert_eq!(
                usize::try_from(verdict.spans).unwrap(),
                acknowledged[&verdict.trace],
                "spans of {verdict:?}"
            );
            assert_ne!(verdict.status, "incomplete", "{verdict:?}");
        }
    }
    assert!(
        judged_again.len() <= SHARDS,
        "judged twice by replica B: {judged_again:?}"
    );
    let per_replica: Vec<usize> = (0..replicas.len())
        .map(|replica| owner.values().filter(|&&r| r == replica).count())
        .collect();
    eprintln!(
        "runs judged per replica: {per_replica:?}; judged again by replica B after its restart: {}",
        judged_again.len()
    );
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

/// A shipped Collector configuration with the files it names (the ingest token, the queue directory) moved
/// into `dir`, so the Collector can load it here.
fn localised(config: &str, dir: &Path) -> String {
    let token = dir.join("ingest");
    std::fs::write(&token, INGEST_TOKEN).unwrap();
    config
        .replace("/etc/ironforge/tokens/ingest", &token.display().to_string())
        .replace("/tokens/ingest", &token.display().to_string())
        .replace(
            "/var/lib/otelcol/queue",
            &dir.join("queue").display().to_string(),
        )
}

/// Runs `otelcol validate` on `config`; the Collector's own answer on failure.
fn validate(otelcol: &Path, dir: &Path, name: &str, config: &str) -> Result<(), String> {
    let path = dir.join(name);
    std::fs::write(&path, config).unwrap();
    let out = std::process::Command::new(otelcol)
        .args(["validate", "--config"])
        .arg(&path)
        .env("IRONFORGE_INGEST_TOKEN", INGEST_TOKEN)
        .output()
        .unwrap();
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

#[test]
fn the_shipped_collector_configurations_are_valid() {
    let Some(otelcol) = collector_binary() else {
        return;
    };
    let dir = TempDir::new("collector-configs");
    let compose = localised(&read_repo_file(SHIPPED_CONFIG), dir.path());
    validate(&otelcol, dir.path(), "compose.yaml", &compose).unwrap();
    let manifest = read_repo_file("deploy/kubernetes/collector.yaml");
    let config_map = manifest
        .split("\n---\n")
        .map(yaml)
        .find(|document| document["kind"] == "ConfigMap")
        .expect("the Collector's ConfigMap");
    let kubernetes = localised(
        config_map["data"]["config.yaml"].as_str().unwrap(),
        dir.path(),
    );
    validate(&otelcol, dir.path(), "kubernetes.yaml", &kubernetes).unwrap();
    // The scale-out section of the docs shows the block this file ships, the one the test above runs.
    let docs = read_repo_file("docs/stack.md");
    let section = docs
        .split_once("## Scaling out")
        .expect("docs/stack.md has a scaling-out section")
        .1;
    let block = section
        .split_once("```yaml\n")
        .and_then(|(_, rest)| rest.split_once("```"))
        .expect("a YAML block in the scaling-out section")
        .0;
    let shipped = yaml(&read_repo_file(SHIPPED_CONFIG));
    assert_eq!(
        yaml(block)["exporters"][BALANCER],
        shipped["exporters"][BALANCER]
    );
    // The docs' whole configurations (an existing Collector, tail sampling beside the processor) load as written.
    let whole: Vec<&str> = docs
        .split("```yaml\n")
        .skip(1)
        .filter_map(|rest| rest.split_once("```").map(|(block, _)| block))
        .filter(|block| block.contains("\nservice:"))
        .collect();
    assert_eq!(
        whole.len(),
        2,
        "docs/stack.md's whole Collector configurations"
    );
    for (index, block) in whole.iter().enumerate() {
        validate(&otelcol, dir.path(), &format!("docs-{index}.yaml"), block)
            .unwrap_or_else(|refusal| panic!("docs/stack.md block {index}: {refusal}"));
    }
    // The check can fail: a port given as a number, which the DNS resolver refuses.
    let broken = compose.replace("port: \"14317\"", "port: 14317");
    assert_ne!(broken, compose);
    let refusal = validate(&otelcol, dir.path(), "broken.yaml", &broken).unwrap_err();
    assert!(refusal.contains("port"), "{refusal}");
}
