//! `ironforge-loadgen`: sends IRONFORGE-shaped OTLP load and measures the receiver, or serves a receiver to
//! compare against: one that only decodes, or one that only takes the bytes (and logs them).

use std::fs::File;
use std::io::{self, BufReader, BufWriter};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use ironforge_loadgen::baseline::{self, ServeError};
use ironforge_loadgen::copies::Recording;
use ironforge_loadgen::send::{self, Protocol, SendOptions};
use ironforge_loadgen::shape::ShapeOptions;
use ironforge_loadgen::sink;
use tokio::net::TcpListener;

#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// Load generator for the IRONFORGE monitor.
#[derive(Debug, Parser)]
#[command(version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Send IRONFORGE-shaped traces (234 spans each by default) and report what was sent and, with
    /// --measure-pid, what the receiving process spent.
    Send(SendArgs),
    /// Serve a receiver that decodes each OTLP request and drops it.
    Baseline(BaselineArgs),
    /// Serve a receiver that takes each OTLP request's bytes without decoding them and, with --log, appends
    /// them to a file synced before the answer: the transport's and the log's floor.
    Sink(SinkArgs),
    /// Write a recorded OTLP/JSON-lines file (`ironforge-replay --output`) many times over, each copy with
    /// its own trace and span ids and later than the one before: a large input for `check`.
    Copies(CopiesArgs),
}

#[derive(Debug, Args)]
struct SendArgs {
    /// OTLP transport.
    #[arg(long, value_enum, default_value_t = Protocol::Grpc)]
    protocol: Protocol,
    /// Receiver: http://127.0.0.1:4317 for grpc, http://127.0.0.1:4318/v1/traces for http by default.
    #[arg(long)]
    endpoint: Option<String>,
    /// Independent connections, each sending on its own.
    #[arg(long, default_value_t = 1)]
    connections: usize,
    /// Spans per request, packed across traces as a batch span processor does.
    #[arg(long, default_value_t = 512)]
    batch_size: u64,
    /// Traces to send (1,000 unless --duration is given).
    #[arg(long)]
    traces: Option<u64>,
    /// Send for this many seconds (with --traces, whichever ends first).
    #[arg(long, value_name = "SECS")]
    duration: Option<f64>,
    /// Spans per second to aim at; 0 sends as fast as the receiver answers.
    #[arg(long, value_name = "SPANS_PER_SEC", default_value_t = 0.0)]
    rate: f64,
    /// Compress requests with gzip.
    #[arg(long)]
    gzip: bool,
    /// Pattern spans under each session span.
    #[arg(long, value_name = "N", default_value_t = 0)]
    patterns_per_session: u32,
    /// Share of sessions (0 to 1) that break the 3 s session contract.
    #[arg(long, value_name = "SHARE", default_value_t = 0.0)]
    violations: f64,
    /// `service.name` of the traces.
    #[arg(long, default_value = "ironforge-pipeline")]
    service_name: String,
    /// Retries of one refused request before it counts as failed.
    #[arg(long, default_value_t = 20)]
    max_retries: u32,
    /// MiB of requests to build before sending starts; later ones are built while sending.
    #[arg(long, value_name = "MIB", default_value_t = 512)]
    prebuild_mib: usize,
    /// Measure this process (the receiver): CPU time over the run, resident memory during it.
    #[arg(long, value_name = "PID")]
    measure_pid: Option<u32>,
    /// With --measure-pid: seconds to wait after the last answer before reading the receiver's CPU time.
    #[arg(long, value_name = "SECS", default_value_t = 0.0)]
    settle: f64,
    /// Print the report as one line of JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
struct BaselineArgs {
    /// OTLP/gRPC listen address.
    #[arg(long, default_value = "127.0.0.1:14317")]
    grpc_addr: SocketAddr,
    /// OTLP/HTTP listen address (`POST /v1/traces`).
    #[arg(long, default_value = "127.0.0.1:14318")]
    http_addr: SocketAddr,
}

#[derive(Debug, Args)]
struct SinkArgs {
    /// OTLP/gRPC listen address.
    #[arg(long, default_value = "127.0.0.1:15317")]
    grpc_addr: SocketAddr,
    /// OTLP/HTTP listen address (`POST /v1/traces`).
    #[arg(long, default_value = "127.0.0.1:15318")]
    http_addr: SocketAddr,
    /// Append each request to this file (created or emptied) and sync it before answering; requests that
    /// arrive during a sync share the next, and the file is emptied every 16 MiB.
    #[arg(long, value_name = "FILE")]
    log: Option<PathBuf>,
}

#[derive(Debug, Args)]
struct CopiesArgs {
    /// The recording to copy: OTLP/JSON, one request a line.
    #[arg(long, value_name = "FILE")]
    input: PathBuf,
    /// Where the copies go; standard output by default.
    #[arg(long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// How many copies.
    #[arg(long, value_name = "N")]
    copies: u64,
    /// Seconds between the end of one copy and the start of the next.
    #[arg(long, value_name = "SECS", default_value_t = 1.0)]
    gap: f64,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Send(args) => run_send(args).await,
        Command::Baseline(args) => run_baseline(args).await,
        Command::Sink(args) => run_sink(args).await,
        Command::Copies(args) => run_copies(&args),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("ironforge-loadgen: {err}");
            ExitCode::FAILURE
        }
    }
}

async fn run_send(args: SendArgs) -> Result<ExitCode, Box<dyn std::error::Error>> {
    let seconds = |value: f64, what: &str| {
        Duration::try_from_secs_f64(value)
            .map_err(|_| format!("{what} must be a number of seconds, not {value}"))
    };
    let mut options = SendOptions::new(args.protocol);
    if let Some(endpoint) = args.endpoint {
        options.endpoint = endpoint;
    }
    options.connections = args.connections;
    options.batch_size = args.batch_size;
    options.duration = args
        .duration
        .map(|value| seconds(value, "--duration"))
        .transpose()?;
    options.traces = match (args.traces, options.duration) {
        (Some(traces), _) => Some(traces),
        (None, Some(_)) => None,
        (None, None) => options.traces,
    };
    options.rate = args.rate;
    options.gzip = args.gzip;
    options.max_retries = args.max_retries;
    options.prebuild_bytes = args.prebuild_mib.saturating_mul(1024 * 1024);
    options.shape = ShapeOptions {
        patterns_per_session: args.patterns_per_session,
        slow_session_share: args.violations,
        service_name: args.service_name,
    };
    options.measure_pid = args.measure_pid;
    options.settle = seconds(args.settle, "--settle")?;
    let report = send::run(options).await?;
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        print!("{report}");
    }
    Ok(if report.failures == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

async fn run_baseline(args: BaselineArgs) -> Result<ExitCode, Box<dyn std::error::Error>> {
    let (grpc, http) = bind(args.grpc_addr, args.http_addr).await?;
    let mut receiver = baseline::serve(grpc, http)?;
    eprintln!(
        "baseline: decoding OTLP/gRPC on {} and OTLP/HTTP on http://{}/v1/traces (pid {})",
        receiver.grpc_addr(),
        receiver.http_addr(),
        std::process::id()
    );
    until_stopped(receiver.failed()).await?;
    let tally = receiver.shutdown().await?;
    eprintln!(
        "baseline: decoded {} spans in {} requests",
        tally.spans, tally.requests
    );
    Ok(ExitCode::SUCCESS)
}

async fn run_sink(args: SinkArgs) -> Result<ExitCode, Box<dyn std::error::Error>> {
    let (grpc, http) = bind(args.grpc_addr, args.http_addr).await?;
    let mut receiver = sink::serve(grpc, http, args.log.as_deref())?;
    let logging = args
        .log
        .as_ref()
        .map(|path| format!(", logging to {}", path.display()))
        .unwrap_or_default();
    eprintln!(
        "sink: taking OTLP/gRPC on {} and OTLP/HTTP on http://{}/v1/traces{logging} (pid {})",
        receiver.grpc_addr(),
        receiver.http_addr(),
        std::process::id()
    );
    until_stopped(receiver.failed()).await?;
    let taken = receiver.shutdown().await?;
    eprintln!(
        "sink: took {} bytes in {} requests",
        taken.bytes, taken.requests
    );
    Ok(ExitCode::SUCCESS)
}

/// The two listeners of a receiver, each address named when it cannot be bound.
async fn bind(grpc: SocketAddr, http: SocketAddr) -> Result<(TcpListener, TcpListener), String> {
    let listen = |addr: SocketAddr, flag: &'static str| async move {
        TcpListener::bind(addr)
            .await
            .map_err(|err| format!("{flag} {addr}: {err}"))
    };
    Ok((
        listen(grpc, "--grpc-addr").await?,
        listen(http, "--http-addr").await?,
    ))
}

/// Waits until a server fails or the process is told to stop (Ctrl-C, SIGTERM).
async fn until_stopped(
    failed: impl Future<Output = Result<(), ServeError>>,
) -> Result<(), ServeError> {
    tokio::select! {
        result = failed => result,
        () = terminated() => Ok(()),
    }
}

fn run_copies(args: &CopiesArgs) -> Result<ExitCode, Box<dyn std::error::Error>> {
    let gap = Duration::try_from_secs_f64(args.gap)
        .map_err(|_| format!("--gap must be a number of seconds, not {}", args.gap))?;
    let input = File::open(&args.input)
        .map_err(|err| format!("--input {}: {err}", args.input.display()))?;
    let recording = Recording::read(BufReader::new(input))?;
    let gap_nanos = u64::try_from(gap.as_nanos()).unwrap_or(u64::MAX);
    let written = match &args.output {
        Some(path) => {
            let file =
                File::create(path).map_err(|err| format!("--output {}: {err}", path.display()))?;
            recording.write_copies(
                args.copies,
                gap_nanos,
                BufWriter::with_capacity(1 << 20, file),
            )?
        }
        None => {
            recording.write_copies(args.copies, gap_nanos, BufWriter::new(io::stdout().lock()))?
        }
    };
    eprintln!("copies: {} copies, {written} bytes", args.copies);
    Ok(ExitCode::SUCCESS)
}

/// Resolves on Ctrl-C or SIGTERM.
async fn terminated() {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(term) => term,
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
