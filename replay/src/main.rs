//! `ironforge-replay`: replays the real IRONFORGE sessions through the instrumented pipeline and sends the trace
//! over OTLP, or records it to a file.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use ironforge_instrument::{Config, Instrumentation, Protocol};
use ironforge_replay::record::{DiscardMetrics, JsonLinesExporter};
use ironforge_replay::{DEFAULT_SESSIONS_DIR, Faults, ReplayOptions, RunSummary, SessionSelector};

mod delivery;

use delivery::Delivery;

/// Replay the 57 real IRONFORGE sessions through init, discovery, confluence, validation and reporting,
/// instrumented, and send the run's trace over OTLP (or record it with --output). Fault flags break one
/// contract each.
#[derive(Debug, Parser)]
#[command(name = "ironforge-replay", version)]
struct Cli {
    /// OTLP endpoint. Default: $OTEL_EXPORTER_OTLP_ENDPOINT, else http://localhost:4317 for gRPC and
    /// http://localhost:4318 for HTTP.
    #[arg(long, value_name = "URL")]
    endpoint: Option<String>,

    /// OTLP transport. Default: $OTEL_EXPORTER_OTLP_PROTOCOL, else gRPC.
    #[arg(long, value_enum)]
    protocol: Option<Transport>,

    /// Record the trace to FILE instead of sending it: one OTLP/JSON `ExportTraceServiceRequest` per line,
    /// as the OpenTelemetry Collector's file exporter writes (`ironforge-processor check` reads it). No
    /// server is needed; metrics are not recorded.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["endpoint", "protocol"])]
    output: Option<PathBuf>,

    /// `service.name` of the exported resource.
    #[arg(long, env = "OTEL_SERVICE_NAME", default_value = "ironforge-replay")]
    service_name: String,

    /// Export timeout in seconds.
    #[arg(long, value_name = "SECONDS")]
    export_timeout: Option<f64>,

    /// Fail (exit 3) when the metrics were not delivered though the trace was. Without it a receiver that
    /// takes traces but refuses metrics (as Jaeger's or Tempo's OTLP endpoints do) only gets a warning.
    #[arg(long, conflicts_with = "output")]
    require_metrics: bool,

    /// Directory of `enhanced_*.json` session files.
    #[arg(long, value_name = "DIR", default_value = DEFAULT_SESSIONS_DIR)]
    sessions: PathBuf,

    /// Replay only the first N session files (name order).
    #[arg(long, value_name = "N")]
    sessions_limit: Option<usize>,

    /// Write the report to FILE instead of printing it.
    #[arg(long, value_name = "FILE")]
    report: Option<PathBuf>,

    /// Reference run: repair the sessions' known data defects in the pipeline (distinct session ids, repeated,
    /// placeholder and out-of-window events dropped, missing movement types filled in, CONTEXT edges built) so
    /// the run passes every contract of the default contract file. Faults still apply on top.
    #[arg(long)]
    reference: bool,

    /// Fault: one session's discovery sleeps 3.5 s (session contract, < 3 s). By 0-based position or session id.
    #[arg(long, value_name = "ID_OR_INDEX", help_heading = "Faults")]
    slow_session: Option<SessionSelector>,

    /// Fault: the run sleeps SECONDS more (run contract, < 180 s). Lower the processor's run threshold to test
    /// it quickly.
    #[arg(long, value_name = "SECONDS", help_heading = "Faults")]
    slow_run: Option<f64>,

    /// Fault: allocate and touch MB MiB during discovery, held until the run ends (memory contract, < 100 MB).
    #[arg(long, value_name = "MB", help_heading = "Faults")]
    memory_growth: Option<u64>,

    /// Fault: score the target session from placeholder timestamps, so it falls below 0.87. Many real sessions
    /// already score below it.
    #[arg(long, help_heading = "Faults")]
    low_authenticity: bool,

    /// Fault: label a node of the target session with an event type outside the golden six.
    #[arg(long, help_heading = "Faults")]
    unknown_event_type: bool,

    /// Fault: leave the target session's HTF features out of its graph: 45 node features instead of 51.
    #[arg(long, help_heading = "Faults")]
    wrong_feature_dim: bool,

    /// Fault: add an edge joining the target session to the previous one.
    #[arg(long, help_heading = "Faults")]
    cross_session_edge: bool,

    /// Fault: read the target session's HTF features from the candle in progress.
    #[arg(long, help_heading = "Faults")]
    open_candle_read: bool,

    /// Session the boolean faults act on, by 0-based position or session id.
    #[arg(
        long,
        value_name = "ID_OR_INDEX",
        default_value = "0",
        help_heading = "Faults"
    )]
    fault_session: SessionSelector,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Transport {
    /// OTLP/gRPC.
    Grpc,
    /// OTLP/HTTP with protobuf bodies.
    Http,
}

impl Cli {
    fn options(&self) -> Result<ReplayOptions, String> {
        let slow_run = self
            .slow_run
            .map(|s| Duration::try_from_secs_f64(s).map_err(|e| format!("--slow-run {s}: {e}")))
            .transpose()?;
        Ok(ReplayOptions {
            sessions_dir: self.sessions.clone(),
            sessions_limit: self.sessions_limit,
            report: self.report.clone(),
            faults: Faults {
                slow_session: self.slow_session.clone(),
                slow_run,
                memory_growth_mb: self.memory_growth,
                low_authenticity: self.low_authenticity,
                unknown_event_type: self.unknown_event_type,
                wrong_feature_dim: self.wrong_feature_dim,
                cross_session_edge: self.cross_session_edge,
                open_candle_read: self.open_candle_read,
                target: self.fault_session.clone(),
            },
            reference: self.reference,
        })
    }

    /// The instrumentation's configuration; an unusable export timeout is a usage error.
    fn config(&self) -> Result<Config, String> {
        // Unset endpoint and protocol are left to the instrumentation, which applies the OTEL_* environment.
        let mut config = Config::builder().service_name(self.service_name.clone());
        if let Some(endpoint) = &self.endpoint {
            config = config.endpoint(endpoint.clone());
        }
        if let Some(protocol) = self.protocol {
            config = config.protocol(match protocol {
                Transport::Grpc => Protocol::Grpc,
                Transport::Http => Protocol::HttpProtobuf,
            });
        }
        if let Some(seconds) = self.export_timeout {
            let timeout = Duration::try_from_secs_f64(seconds)
                .map_err(|e| format!("--export-timeout {seconds}: {e}"))?;
            config = config.timeout(timeout);
        }
        Ok(config.build())
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let options = match cli.options() {
        Ok(options) => options,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let config = match cli.config() {
        Ok(config) => config,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let destination = match &cli.output {
        Some(path) => format!("{} (OTLP/JSON lines)", path.display()),
        None => format!("{} (OTLP {})", config.traces_endpoint(), config.protocol()),
    };
    let instrumentation = match instrument(config, cli.output.as_deref()) {
        Ok(i) => i,
        Err(e) => {
            eprintln!("error: cannot initialise the instrumentation: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Err(e) = instrumentation.install_default_subscriber() {
        eprintln!("error: cannot install the subscriber: {e}");
        return ExitCode::FAILURE;
    }

    let result = ironforge_replay::run(&options);
    let overhead = instrumentation.overhead();
    let delivery = finish(instrumentation);

    let run_code = match &result {
        Ok(summary) => {
            print_summary(summary);
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    };
    println!();
    println!("sent to:          {destination}");
    println!("service.name:     {}", cli.service_name);
    if let Ok(summary) = &result {
        print_trace(summary);
    }
    println!(
        "instrumentation:  {:.3} ms over {} operations",
        overhead.total.as_secs_f64() * 1e3,
        overhead.operations
    );
    delivery.print();
    match delivery.verdict(cli.require_metrics) {
        Some(code) => code,
        None => run_code,
    }
}

/// Where the run's trace went: its id, span count and time.
fn print_trace(summary: &RunSummary) {
    println!(
        "trace id:         {}",
        summary
            .trace_id
            .as_deref()
            .unwrap_or("(none: nothing recorded it)")
    );
    println!("spans:            {}", summary.span_count);
    println!(
        "run time:         {:.3} s",
        summary.total_time.as_secs_f64()
    );
}

/// The instrumentation exporting over OTLP, or recording to `output`.
fn instrument(config: Config, output: Option<&Path>) -> Result<Instrumentation, String> {
    match output {
        None => ironforge_instrument::init(config).map_err(|e| e.to_string()),
        Some(path) => {
            let spans = JsonLinesExporter::create(path)
                .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
            Instrumentation::with_exporters(config, spans, DiscardMetrics)
                .map_err(|e| e.to_string())
        }
    }
}

/// Flushes and shuts the instrumentation down, returning what became of the spans and metrics (the final flush
/// and shutdown included).
fn finish(instrumentation: Instrumentation) -> Delivery {
    let mut delivery = Delivery::default();
    if let Err(e) = instrumentation.force_flush() {
        delivery.flush_failed(&e);
    }
    delivery.report = match instrumentation.shutdown() {
        Ok(report) => report,
        Err(e) => {
            delivery.shutdown_failed(&e);
            e.report
        }
    };
    delivery
}

fn print_summary(summary: &RunSummary) {
    match &summary.report_path {
        Some(path) => println!("report written to {}", path.display()),
        None => print!("{}", summary.report),
    }
    println!();
    println!(
        "sessions:         {} given, {} parsed, from {}",
        summary.sessions_given(),
        summary.sessions_parsed(),
        summary.sessions_dir.display()
    );
    for (file, error) in summary.parse_failures() {
        println!("parse failure:    {file}: {error}");
    }
    let init = summary.init_time.as_secs_f64();
    let stages: Vec<String> = summary
        .stage_times
        .iter()
        .map(|(stage, t)| format!("{stage} {:.3} s", t.as_secs_f64()))
        .collect();
    println!("timings:          init {init:.3} s, {}", stages.join(", "));
}
