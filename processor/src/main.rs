//! `ironforge-processor`: serves OTLP with the contract engine, or checks contract files.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use ironforge_outputs::otlp_logs::LogsQueueOptions;
use ironforge_processor::analysis::AnalysisArgs;
use ironforge_processor::check::{self, CheckArgs};
use ironforge_processor::cli::{self, ProfileArg};
use ironforge_processor::config::{ContractFile, DEFAULT_CONTRACTS_YAML, Profile};
use ironforge_processor::otlp::ReceiverLimits;
use ironforge_processor::security_args::SecurityArgs;
use ironforge_processor::server::{DEFAULT_DATA_DIR, Server, ServerOptions};
use ironforge_security::redact;
use ironforge_wal::{FsyncPolicy, WalConfig};
use tracing_subscriber::EnvFilter;

#[cfg(feature = "jemalloc")]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc returns freed pages as its arenas allocate again; a background thread returns them on a timer
/// too, so a processor that goes quiet after a load gives its memory back.
#[cfg(feature = "jemalloc")]
fn return_memory_when_idle() {
    if let Err(err) = tikv_jemalloc_ctl::background_thread::write(true) {
        tracing::warn!(
            "jemalloc background thread not started ({err}); memory returns only under load"
        );
    }
}

#[cfg(not(feature = "jemalloc"))]
fn return_memory_when_idle() {}

/// Receives OTLP traces from IRONFORGE pipelines, checks them against performance contracts and golden
/// invariants, and reports violations and verdicts.
#[derive(Debug, Parser)]
#[command(version, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    serve: ServeArgs,
}

// Parsed once at start-up: the size of the largest variant costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
enum Command {
    /// Serve OTLP and the monitor's APIs (the default).
    Serve(ServeArgs),
    /// Work with contract files.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Check recorded traces against the contracts, offline: the CI gate.
    Check(CheckArgs),
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Check a contract file; errors name the file, line and field.
    Validate { file: PathBuf },
    /// Print the embedded default contract file.
    PrintDefault,
    /// Print the JSON Schema of contract files, for editors.
    Schema,
}

/// When accepted spans reach the disk, as the command line spells it.
#[derive(Debug, Clone, Copy, Default, ValueEnum)]
enum FsyncArg {
    /// fsync before each acknowledgement; batches arriving together share one (group commit).
    #[default]
    Batch,
    /// fsync every --wal-fsync-interval-ms; acknowledged once written to the kernel.
    Interval,
    /// Never fsync; acknowledged once written to the kernel (survives a killed process, not a power loss).
    None,
}

#[derive(Debug, Clone, Copy, Default, ValueEnum)]
enum LogFormat {
    #[default]
    Text,
    Json,
}

#[derive(Debug, Args)]
struct ServeArgs {
    /// Contract file; without it the embedded defaults apply. Reloaded on SIGHUP and when it changes.
    #[arg(long, env = "IRONFORGE_CONTRACTS", value_name = "FILE")]
    config: Option<PathBuf>,
    /// Override the contract file's profile.
    #[arg(long, value_enum)]
    profile: Option<ProfileArg>,
    /// OTLP/gRPC listen address (also serves the monitor's own gRPC API).
    #[arg(
        long,
        default_value = "127.0.0.1:4317",
        env = "IRONFORGE_OTLP_GRPC_ADDR"
    )]
    otlp_grpc_addr: SocketAddr,
    /// OTLP/HTTP listen address (`POST /v1/traces`).
    #[arg(
        long,
        default_value = "127.0.0.1:4318",
        env = "IRONFORGE_OTLP_HTTP_ADDR"
    )]
    otlp_http_addr: SocketAddr,
    /// Admin listen address: /metrics, /healthz, /readyz and /api/v1/*.
    #[arg(long, default_value = "127.0.0.1:9464", env = "IRONFORGE_ADMIN_ADDR")]
    admin_addr: SocketAddr,
    /// Send violation events as OTLP logs to this OTLP/gRPC endpoint (e.g. http://localhost:4317 of a
    /// Collector).
    #[arg(long, env = "IRONFORGE_LOGS_ENDPOINT", value_name = "URL")]
    logs_endpoint: Option<String>,
    /// Largest OTLP request accepted, in bytes after decompression.
    #[arg(long, default_value_t = ReceiverLimits::DEFAULT_MAX_REQUEST_BYTES)]
    max_request_bytes: usize,
    /// Console log format.
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    /// Engine worker threads, each owning the traces whose ids fall to it [default: one per core].
    #[arg(long, env = "IRONFORGE_SHARDS", value_parser = clap::value_parser!(u16).range(1..))]
    shards: Option<u16>,
    /// Directory for the processor's state between runs; created if missing.
    #[arg(long, env = "IRONFORGE_DATA_DIR", value_name = "DIR", default_value = DEFAULT_DATA_DIR)]
    data_dir: PathBuf,
    #[command(flatten)]
    security: SecurityArgs,
    #[command(flatten)]
    logs_queue: LogsQueueArgs,
    /// When the write-ahead log fsyncs accepted spans.
    #[arg(long, value_enum, env = "IRONFORGE_WAL_FSYNC", default_value_t = FsyncArg::Batch)]
    wal_fsync: FsyncArg,
    /// The interval of `--wal-fsync interval`, in milliseconds.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..))]
    wal_fsync_interval_ms: u64,
    /// Bytes the write-ahead log may hold; past them new batches are refused (UNAVAILABLE / 503 with a
    /// retry delay) until decided traces free their segments.
    #[arg(long, env = "IRONFORGE_WAL_MAX_BYTES", default_value_t = WalConfig::DEFAULT_MAX_BYTES)]
    wal_max_bytes: u64,
    #[command(flatten)]
    analysis: AnalysisArgs,
}

/// How violation events wait for the logs endpoint.
#[derive(Debug, Args)]
struct LogsQueueArgs {
    /// Bytes of violation events kept on disk (DATA_DIR/outbox/logs) while the logs endpoint is down or slow;
    /// events past it are dropped and counted.
    #[arg(long, env = "IRONFORGE_LOGS_QUEUE_MAX_BYTES", value_name = "BYTES",
        default_value_t = LogsQueueOptions::default().max_bytes,
        value_parser = clap::value_parser!(u64).range(4096..))]
    logs_queue_max_bytes: u64,
    /// Seconds one export to the logs endpoint may take before it is abandoned and retried.
    #[arg(long, value_name = "SECONDS", default_value = "5", value_parser = cli::seconds)]
    logs_request_timeout: Duration,
    /// Longest wait, in seconds, between two attempts to reach the logs endpoint.
    #[arg(long, value_name = "SECONDS", default_value = "30", value_parser = cli::seconds)]
    logs_max_backoff: Duration,
}

impl From<LogsQueueArgs> for LogsQueueOptions {
    fn from(args: LogsQueueArgs) -> Self {
        Self {
            max_bytes: args.logs_queue_max_bytes,
            request_timeout: args.logs_request_timeout,
            max_backoff: args.logs_max_backoff,
        }
    }
}

impl ServeArgs {
    fn wal(&self) -> WalConfig {
        let fsync = match self.wal_fsync {
            FsyncArg::Batch => FsyncPolicy::Batch,
            FsyncArg::Interval => {
                FsyncPolicy::Interval(Duration::from_millis(self.wal_fsync_interval_ms))
            }
            FsyncArg::None => FsyncPolicy::None,
        };
        WalConfig {
            fsync,
            max_bytes: self.wal_max_bytes,
            ..WalConfig::default()
        }
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => return usage_error(&err),
    };
    match cli.command {
        None => serve(cli.serve),
        Some(Command::Serve(args)) => serve(args),
        Some(Command::Check(args)) => check::run(&args),
        Some(Command::Config(ConfigCommand::Validate { file })) => {
            match ContractFile::load(&file) {
                Ok(contracts) => {
                    println!(
                        "{}: ok, {} contracts",
                        file.display(),
                        contracts.contracts.len()
                    );
                    ExitCode::SUCCESS
                }
                Err(err) => {
                    eprintln!("{err}");
                    ExitCode::FAILURE
                }
            }
        }
        Some(Command::Config(ConfigCommand::PrintDefault)) => {
            print!("{DEFAULT_CONTRACTS_YAML}");
            ExitCode::SUCCESS
        }
        Some(Command::Config(ConfigCommand::Schema)) => {
            match serde_json::to_string_pretty(&ContractFile::json_schema()) {
                Ok(schema) => {
                    println!("{schema}");
                    ExitCode::SUCCESS
                }
                Err(err) => {
                    eprintln!("cannot encode the schema: {err}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

/// Prints a command-line error (or the help or version asked for). `check` documents its exit codes and
/// gives a usage error its bad-input code rather than clap's 2, which there means warnings.
fn usage_error(err: &clap::Error) -> ExitCode {
    let _ = err.print();
    let checking = std::env::args_os().nth(1).is_some_and(|arg| arg == "check");
    if err.use_stderr() && checking {
        ExitCode::from(check::exit::BAD_INPUT)
    } else {
        ExitCode::from(u8::try_from(err.exit_code()).unwrap_or(1))
    }
}

fn serve(args: ServeArgs) -> ExitCode {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(cli::stdout_colour());
    match args.log_format {
        LogFormat::Text => subscriber.init(),
        LogFormat::Json => subscriber.json().init(),
    }
    return_memory_when_idle();
    let security = match args.security.options() {
        Ok(security) => security,
        Err(err) => {
            eprintln!("ironforge-processor: {err}");
            return ExitCode::FAILURE;
        }
    };
    let logs_endpoint = args.logs_endpoint.as_deref().map(redact::url);
    let wal = args.wal();
    let options = ServerOptions {
        contracts_path: args.config,
        profile: args.profile.map(Profile::from),
        otlp_grpc_addr: args.otlp_grpc_addr,
        otlp_http_addr: args.otlp_http_addr,
        admin_addr: args.admin_addr,
        logs_endpoint: args.logs_endpoint,
        receiver_limits: ReceiverLimits {
            max_request_bytes: args.max_request_bytes,
        },
        shards: args.shards.map(usize::from),
        data_dir: args.data_dir,
        security,
        logs_queue: args.logs_queue.into(),
        wal,
        analysis: args.analysis.config(),
        bound_process_memory: true,
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        let server = Server::start(options).await?;
        let contracts = server.monitor.contracts();
        tracing::info!(
            otlp_grpc = %server.addrs.otlp_grpc,
            otlp_http = %server.addrs.otlp_http,
            admin = %server.addrs.admin,
            contracts = contracts.contracts().len(),
            logs_endpoint = logs_endpoint.as_deref().unwrap_or("none"),
            "ironforge-processor listening: OTLP/gRPC {}, OTLP/HTTP {}, overview http://{}/, admin http://{}/metrics{}",
            server.addrs.otlp_grpc,
            server.addrs.otlp_http,
            server.addrs.admin,
            server.addrs.admin,
            server
                .addrs
                .metrics
                .map(|addr| format!(", metrics http://{addr}/metrics"))
                .unwrap_or_default(),
        );
        server.run_until(shutdown_signal()).await
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!("{err}");
            eprintln!("ironforge-processor: {err}");
            ExitCode::FAILURE
        }
    }
}

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(signal) => signal,
                Err(_) => {
                    let _ = interrupt.await;
                    return;
                }
            };
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
    tracing::info!("shutting down");
}
