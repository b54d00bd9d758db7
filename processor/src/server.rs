//! Runs the processor: binds the OTLP receivers, the processor's gRPC API and the admin HTTP API, ticks the
//! engine, reloads contracts, and shuts down cleanly.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use tokio::net::TcpListener;
use tokio::task::JoinSet;

use crate::analysis::{AnalysisConfig, AnalysisError, Analyst};
use crate::config::{ConfigError, ContractFile, Profile};
use crate::durability::LogEvents;
use crate::monitor::Monitor;
use crate::monitor::events::ContractsReloaded;
use crate::otlp::ReceiverLimits;
use crate::outputs::Outputs;
use crate::shutdown::stopped;
use crate::{api, otlp};
use ironforge_engine::ContractSet;
use ironforge_outputs::otlp_logs::{
    LogsQueueOptions, OtlpLogsConfig, OtlpLogsError, OtlpLogsExporter,
};
use ironforge_security::{Secured, SecurityOptions, Surface, TlsError};
use ironforge_telemetry::{InternalEvent, Metrics};
use ironforge_wal::{DataDirLock, Wal, WalConfig, WalError};

/// How long a shutdown waits for open requests to finish.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);
/// How often the contract file is checked for changes.
const RELOAD_POLL: Duration = Duration::from_secs(2);

/// Everything the `serve` command needs, resolved from the command line.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// Contract file; `None` uses the embedded defaults.
    pub contracts_path: Option<PathBuf>,
    /// Overrides the file's profile.
    pub profile: Option<Profile>,
    pub otlp_grpc_addr: SocketAddr,
    pub otlp_http_addr: SocketAddr,
    pub admin_addr: SocketAddr,
    /// Downstream OTLP/gRPC endpoint for violation log records.
    pub logs_endpoint: Option<String>,
    pub receiver_limits: ReceiverLimits,
    /// Engine shards (worker threads); `None` for one per available core.
    pub shards: Option<usize>,
    /// Where the processor keeps its state between runs (the write-ahead log); created at start.
    pub data_dir: PathBuf,
    /// TLS, tokens and connection limits of the listeners.
    pub security: SecurityOptions,
    /// How violation events wait on disk for the logs endpoint (under `data_dir`, in [`LOGS_QUEUE_DIR`]).
    pub logs_queue: LogsQueueOptions,
    /// The write-ahead log's fsync policy and bounds.
    pub wal: WalConfig,
    /// How decided traces are analysed (history in `data_dir`); `None` analyses nothing.
    pub analysis: Option<AnalysisConfig>,
    /// Whether the process's resident memory is sampled and, past `limits.max_memory_bytes`, slows
    /// admission. Right where the server is the whole process (the command line); wrong where one process
    /// holds several servers or other work, whose memory is not this server's to answer for.
    pub bound_process_memory: bool,
}

impl Default for ServerOptions {
    /// The command line's defaults: embedded contracts, the standard OTLP ports and the admin port on
    /// loopback, `data/` in the working directory.
    fn default() -> Self {
        let loopback = |port| SocketAddr::from(([127, 0, 0, 1], port));
        Self {
            contracts_path: None,
            profile: None,
            otlp_grpc_addr: loopback(4317),
            otlp_http_addr: loopback(4318),
            admin_addr: loopback(9464),
            logs_endpoint: None,
            receiver_limits: ReceiverLimits::default(),
            shards: None,
            data_dir: PathBuf::from(DEFAULT_DATA_DIR),
            security: SecurityOptions::default(),
            logs_queue: LogsQueueOptions::default(),
            wal: WalConfig::default(),
            analysis: Some(AnalysisConfig::default()),
            bound_process_memory: true,
        }
    }
}

/// The data directory when none is given, relative to the working directory (as Prometheus does).
pub const DEFAULT_DATA_DIR: &str = "data";

/// The violation-log queue's directory, relative to the data directory.
pub const LOGS_QUEUE_DIR: &str = "outbox/logs";

/// Why the server could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("cannot listen on {addr} ({what}): {source}")]
    Bind {
        what: &'static str,
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot create the data directory {path}: {source}")]
    DataDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("TLS: {0}")]
    Tls(#[from] TlsError),
    #[error(transparent)]
    Wal(#[from] WalError),
    #[error("OTLP logs output: {0}")]
    Logs(#[from] OtlpLogsError),
    #[error("analysis: {0}")]
    Analysis(#[from] AnalysisError),
    #[error("{what} server failed: {message}")]
    Serve { what: &'static str, message: String },
}

/// Addresses actually bound (port 0 resolved), for tests and the start-up line.
#[derive(Debug, Clone, Copy)]
pub struct BoundAddrs {
    pub otlp_grpc: SocketAddr,
    pub otlp_http: SocketAddr,
    pub admin: SocketAddr,
    /// The metrics listener, when one was asked for.
    pub metrics: Option<SocketAddr>,
}

/// A running processor.
#[derive(Debug)]
pub struct Server {
    pub addrs: BoundAddrs,
    pub monitor: Arc<Monitor>,
    tasks: JoinSet<Result<(), ServerError>>,
    shutdown: tokio::sync::watch::Sender<bool>,
    logs: Option<OtlpLogsExporter>,
    /// Held until the process ends: no second processor writes the same log.
    _data_dir_lock: DataDirLock,
}

fn load_contracts(options: &ServerOptions) -> Result<ContractSet, ConfigError> {
    let file = match &options.contracts_path {
        Some(path) => ContractFile::load(path)?,
        None => ContractFile::embedded_default()?,
    };
    Ok(ContractSet::new(file, options.profile))
}

async fn bind(what: &'static str, addr: SocketAddr) -> Result<TcpListener, ServerError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| ServerError::Bind { what, addr, source })
}

impl Server {
    /// Binds every listener and starts serving; returns once all of them listen.
    pub async fn start(options: ServerOptions) -> Result<Self, ServerError> {
        let contracts = Arc::new(load_contracts(&options)?);
        std::fs::create_dir_all(&options.data_dir).map_err(|source| ServerError::DataDir {
            path: options.data_dir.clone(),
            source,
        })?;
        let data_dir_lock = DataDirLock::acquire(&options.data_dir)?;
        let metrics = Arc::new(Metrics::new());
        let secured = Secured::new(&options.security, Arc::clone(&metrics))?;
        let (outputs, logs) = start_outputs(&options, &contracts, metrics)?;
        let monitor = Arc::new(recover(&options, contracts, outputs)?);

        let listeners = Listeners::bind(&options).await?;
        let addrs = listeners.addrs(&options);
        let (shutdown, shutdown_rx) = tokio::sync::watch::channel(false);
        let ready = Arc::new(AtomicBool::new(false));
        let mut tasks = JoinSet::new();
        for (surface, tcp, router) in listeners.routed(&options, &monitor, &ready, &shutdown_rx) {
            let (listener, router) = secured.listener(surface, tcp, router);
            let stop = stopped(shutdown_rx.clone());
            tasks.spawn(async move {
                listener
                    .serve(router, stop)
                    .await
                    .map_err(|err| ServerError::Serve {
                        what: surface.as_str(),
                        message: err.to_string(),
                    })
            });
        }
        if options.bound_process_memory {
            let (monitor, stop) = (Arc::clone(&monitor), stopped(shutdown_rx.clone()));
            tasks.spawn(async move {
                monitor.sample_resident_memory(stop).await;
                Ok(())
            });
        }
        if let Some(path) = options.contracts_path.clone() {
            tasks.spawn(watch_contracts(
                path,
                options.profile,
                Arc::clone(&monitor),
                shutdown_rx,
            ));
        }
        ready.store(true, Ordering::Release);
        Ok(Self {
            addrs,
            monitor,
            tasks,
            shutdown,
            logs,
            _data_dir_lock: data_dir_lock,
        })
    }

    /// Serves until a task fails or `signal` resolves, then stops every task and flushes outputs.
    pub async fn run_until(mut self, signal: impl Future<Output = ()>) -> Result<(), ServerError> {
        let result = tokio::select! {
            () = signal => Ok(()),
            Some(joined) = self.tasks.join_next() => match joined {
                Ok(result) => result,
                Err(err) => Err(ServerError::Serve { what: "processor task", message: err.to_string() }),
            },
        };
        self.stop().await;
        result
    }

    /// Stops serving: receivers first, then the remaining decisions are flushed to the outputs.
    pub async fn stop(mut self) {
        let _ = self.shutdown.send(true);
        // Graceful shutdown waits for open requests; a client that never finishes one must not hold the
        // process forever.
        let drained = tokio::time::timeout(SHUTDOWN_GRACE, async {
            while self.tasks.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            tracing::warn!("requests still open after {SHUTDOWN_GRACE:?}; closing them");
            self.tasks.shutdown().await;
        }
        // Spans acknowledged before the receivers closed are evaluated, and the log synced, before the
        // outputs close.
        let monitor = Arc::clone(&self.monitor);
        let _ = tokio::task::spawn_blocking(move || monitor.flush()).await;
        if let Some(logs) = self.logs.take() {
            logs.shutdown().await;
        }
    }
}

/// The outputs verdicts go to: the violation-log exporter when there is an endpoint (also returned, to be
/// drained at shutdown) and the analyst when analysis is on.
fn start_outputs(
    options: &ServerOptions,
    contracts: &Arc<ContractSet>,
    metrics: Arc<Metrics>,
) -> Result<(Outputs, Option<OtlpLogsExporter>), ServerError> {
    let logs = match &options.logs_endpoint {
        Some(endpoint) => {
            let config = OtlpLogsConfig::new(
                endpoint.clone(),
                options.data_dir.join(LOGS_QUEUE_DIR),
                &options.logs_queue,
            );
            Some(OtlpLogsExporter::spawn(config, Arc::clone(&metrics))?.0)
        }
        None => None,
    };
    let mut outputs = Outputs::new(Arc::clone(&metrics), &contracts.file().events, logs.clone());
    if let Some(config) = options.analysis.clone() {
        let analyst = Analyst::start(config, &options.data_dir, Arc::clone(contracts), metrics)?;
        outputs = outputs.with_analysis(analyst);
    }
    Ok((outputs, logs))
}

/// Starts the engine shards on the write-ahead log. The log is read, written anew and evaluated before any
/// listener is bound: nothing is accepted (and /readyz says nothing) until the last run's traces are back.
fn recover(
    options: &ServerOptions,
    contracts: Arc<ContractSet>,
    outputs: Outputs,
) -> Result<Monitor, ServerError> {
    let shards = options
        .shards
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from));
    let recovering = std::time::Instant::now();
    let (mut wal, recovered) = Wal::open(&options.data_dir, options.wal, Arc::new(LogEvents))?;
    let replayed = recovered.spans.len();
    let verdicts = recovered.verdicts.len();
    let monitor =
        Monitor::durable(contracts, outputs, shards, &mut wal, recovered).map_err(|err| {
            ServerError::Serve {
                what: "engine shards",
                message: err.to_string(),
            }
        })?;
    if (replayed > 0 || verdicts > 0) && monitor.accepts_batches() {
        tracing::info!(
            spans = replayed,
            verdicts,
            seconds = recovering.elapsed().as_secs_f64(),
            "write-ahead log recovered: spans of traces in flight evaluated again, verdicts restored"
        );
    }
    Ok(monitor)
}

/// Every listener, bound before any serves so that a port in use fails the start.
struct Listeners {
    grpc: TcpListener,
    otlp_http: TcpListener,
    admin: TcpListener,
    metrics: Option<TcpListener>,
}

impl Listeners {
    async fn bind(options: &ServerOptions) -> Result<Self, ServerError> {
        Ok(Self {
            grpc: bind("OTLP/gRPC", options.otlp_grpc_addr).await?,
            otlp_http: bind("OTLP/HTTP", options.otlp_http_addr).await?,
            admin: bind("admin HTTP", options.admin_addr).await?,
            metrics: match options.security.metrics_addr {
                Some(addr) => Some(bind("metrics HTTP", addr).await?),
                None => None,
            },
        })
    }

    fn addrs(&self, options: &ServerOptions) -> BoundAddrs {
        BoundAddrs {
            otlp_grpc: local_addr(&self.grpc, options.otlp_grpc_addr),
            otlp_http: local_addr(&self.otlp_http, options.otlp_http_addr),
            admin: local_addr(&self.admin, options.admin_addr),
            metrics: self
                .metrics
                .as_ref()
                .zip(options.security.metrics_addr)
                .map(|(listener, asked)| local_addr(listener, asked)),
        }
    }

    /// Each listener with what it serves: the OTLP receivers and the processor's gRPC API share the gRPC
    /// port; OTLP/HTTP, the admin API and the metrics have their own.
    fn routed(
        self,
        options: &ServerOptions,
        monitor: &Arc<Monitor>,
        ready: &Arc<AtomicBool>,
        shutdown: &tokio::sync::watch::Receiver<bool>,
    ) -> Vec<(Surface, TcpListener, axum::Router)> {
        let sink: Arc<dyn crate::ingest::SpanSink> = monitor.clone();
        let grpc = tonic::service::Routes::new(otlp::trace_service(
            Arc::clone(&sink),
            &options.receiver_limits,
        ))
        .add_service(otlp::metrics_service(
            Arc::clone(&sink),
            &options.receiver_limits,
        ))
        .add_service(api::grpc::monitor_service(
            Arc::clone(monitor),
            shutdown.clone(),
        ))
        .prepare()
        .into_axum_router();
        let http = otlp::router(Arc::clone(&sink), &options.receiver_limits);
        let admin = api::http::router(Arc::clone(monitor), Arc::clone(ready));
        let mut listeners = vec![
            (Surface::Grpc, self.grpc, grpc),
            (Surface::OtlpHttp, self.otlp_http, http),
            (Surface::Admin, self.admin, admin),
        ];
        if let Some(metrics_listener) = self.metrics {
            let router = api::http::metrics_router(Arc::clone(monitor), Arc::clone(ready));
            listeners.push((Surface::Metrics, metrics_listener, router));
        }
        listeners
    }
}

fn local_addr(listener: &TcpListener, asked: SocketAddr) -> SocketAddr {
    listener.local_addr().unwrap_or(asked)
}

/// Reloads the contract file on SIGHUP and whenever its modification time changes. An invalid new file keeps
/// the contracts in force and says why.
async fn watch_contracts(
    path: PathBuf,
    profile: Option<Profile>,
    monitor: Arc<Monitor>,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) -> Result<(), ServerError> {
    let modified = |path: &PathBuf| std::fs::metadata(path).and_then(|m| m.modified()).ok();
    let mut last_seen: Option<SystemTime> = modified(&path);
    let mut hangup = hangup_signal();
    let mut poll = tokio::time::interval(RELOAD_POLL);
    loop {
        let source = tokio::select! {
            _ = shutdown.changed() => return Ok(()),
            _ = recv_hangup(&mut hangup) => "SIGHUP",
            _ = poll.tick() => {
                let now = modified(&path);
                if now == last_seen { continue; }
                last_seen = now;
                "file change"
            }
        };
        let source = format!("{} ({source})", path.display());
        match ContractFile::load(&path) {
            Ok(file) => {
                monitor.set_contracts(Arc::new(ContractSet::new(file, profile)));
                ContractsReloaded {
                    source: &source,
                    error: None,
                    metrics: monitor.outputs().metrics(),
                }
                .emit();
            }
            Err(err) => {
                let error = err.to_string();
                ContractsReloaded {
                    source: &source,
                    error: Some(&error),
                    metrics: monitor.outputs().metrics(),
                }
                .emit();
            }
        }
    }
}

#[cfg(unix)]
fn hangup_signal() -> Option<tokio::signal::unix::Signal> {
    tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok()
}

#[cfg(not(unix))]
fn hangup_signal() -> Option<()> {
    None
}

#[cfg(unix)]
async fn recv_hangup(signal: &mut Option<tokio::signal::unix::Signal>) {
    match signal {
        Some(signal) => {
            signal.recv().await;
        }
        None => std::future::pending().await,
    }
}

#[cfg(not(unix))]
async fn recv_hangup(_: &mut Option<()>) {
    std::future::pending().await
}
