//! [`Instrumentation`]: the guard `init` returns.

use std::ffi::OsString;
use std::fmt;
use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::metrics::SdkMeterProvider;
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};
use tracing::Subscriber;
use tracing_subscriber::filter::{EnvFilter, LevelFilter, Targets};
use tracing_subscriber::layer::{Layer, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;

use crate::error::{FlushError, InitError, ShutdownCause, ShutdownError};
use crate::export::{ExportReport, FailureLog, Signal};
use crate::layer::{MetricsLayer, TimerStart};
use crate::overhead::Overhead;
use crate::state::Shared;

/// Added to the export timeout to bound shutdown: the last export may take the whole timeout, and
/// shutting the threads down takes a little more.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(1);

/// Crates whose own tracing must never become telemetry: the exporter's transport stack and the
/// OpenTelemetry SDK. Exporting their spans would make every export produce more to export.
const TRANSPORT_TARGETS: &[&str] = &[
    "h2",
    "hyper",
    "hyper_util",
    "tonic",
    "tower",
    "reqwest",
    "opentelemetry",
    "opentelemetry_sdk",
    "opentelemetry_otlp",
];

/// The running instrumentation, returned by [`init`](crate::init).
///
/// It owns the tracer and meter providers. Dropping it (or calling [`shutdown`](Self::shutdown))
/// exports what is pending and shuts both down, within a bound: the export timeout plus a second.
/// Keep it alive for as long as the pipeline runs — typically a `let _guard = ...` in `main`.
pub struct Instrumentation {
    pub(crate) tracer: SdkTracer,
    pub(crate) shared: Arc<Shared>,
    pub(crate) failures: Arc<FailureLog>,
    pub(crate) lifecycle: Option<Lifecycle>,
}

impl fmt::Debug for Instrumentation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Instrumentation")
            .field("overhead", &self.overhead())
            .field("export_failures", &self.export_failures())
            .field("shut_down", &self.lifecycle.is_none())
            .finish_non_exhaustive()
    }
}

pub(crate) struct Lifecycle {
    pub(crate) tracer_provider: SdkTracerProvider,
    pub(crate) meter_provider: SdkMeterProvider,
    #[cfg(feature = "grpc")]
    pub(crate) io: Option<crate::io::IoRuntime>,
    pub(crate) bound: Duration,
    pub(crate) failures: Arc<FailureLog>,
}

enum Outcome {
    Traces(OTelSdkResult),
    Metrics(OTelSdkResult),
}

impl Lifecycle {
    /// Shuts both providers down, each on a thread of its own, and waits at most `bound`.
    ///
    /// The SDK's `shutdown` blocks until the last export is done. Running it on the caller's thread
    /// could block a current-thread Tokio runtime that something in the export path needs (the
    /// known deadlock with tonic); on separate threads, with a bounded wait, dropping the guard
    /// returns in bounded time whatever the exporter does. The SDK's shutdown includes the final
    /// flush: the batch span processor exports its queue and the periodic reader collects and
    /// exports once more, so no separate `force_flush` (which would double the export attempts
    /// against a dead collector) precedes it.
    fn shutdown(self) -> Result<ExportReport, ShutdownError> {
        let failures = Arc::clone(&self.failures);
        let bound = self.bound;
        let result = self.shut_providers();
        // Giving up on a provider is a failure of the export it waited for, which may never be
        // counted otherwise.
        let gave_up = match &result {
            Err(ShutdownCause::TimedOut(_)) => true,
            Err(ShutdownCause::Traces(err) | ShutdownCause::Metrics(err)) => {
                matches!(err, OTelSdkError::Timeout(_))
            }
            Err(ShutdownCause::Both { traces, metrics }) => [traces, metrics]
                .iter()
                .any(|err| matches!(err, OTelSdkError::Timeout(_))),
            _ => false,
        };
        if gave_up {
            failures.record(Signal::Traces, &OTelSdkError::Timeout(bound));
        }
        let report = failures.report();
        match result {
            Ok(()) if report.spans_lost == 0 => Ok(report),
            Ok(()) => Err(ShutdownError {
                cause: ShutdownCause::SpansLost,
                report,
            }),
            Err(cause) => Err(ShutdownError { cause, report }),
        }
    }

    fn shut_providers(self) -> Result<(), ShutdownCause> {
        let Lifecycle {
            tracer_provider,
            meter_provider,
            #[cfg(feature = "grpc")]
            io,
            bound,
            failures,
        } = self;
        let failed_before = (failures.traces(), failures.metrics());
        let deadline = Instant::now() + bound;
        let (tx, rx) = mpsc::channel();
        let traces_tx = tx.clone();
        let timeout = bound.saturating_sub(SHUTDOWN_GRACE / 2);
        let spawned = std::thread::Builder::new()
            .name("ironforge-shutdown-traces".to_owned())
            .spawn(move || {
                let result = tracer_provider.shutdown_with_timeout(timeout);
                let _ = traces_tx.send(Outcome::Traces(result));
            })
            .and_then(|_| {
                std::thread::Builder::new()
                    .name("ironforge-shutdown-metrics".to_owned())
                    .spawn(move || {
                        let result = meter_provider.shutdown();
                        let _ = tx.send(Outcome::Metrics(result));
                    })
            });

        let mut traces = None;
        let mut metrics = None;
        if spawned.is_ok() {
            while traces.is_none() || metrics.is_none() {
                let left = deadline.saturating_duration_since(Instant::now());
                match rx.recv_timeout(left) {
                    Ok(Outcome::Traces(r)) => traces = Some(r),
                    Ok(Outcome::Metrics(r)) => metrics = Some(r),
                    Err(_) => break,
                }
            }
        }
        #[cfg(feature = "grpc")]
        if let Some(io) = io {
            io.stop(SHUTDOWN_GRACE / 2);
        }
        spawned.map_err(ShutdownCause::Thread)?;
        // The batch span processor reports success from `shutdown` even when its final export
        // failed; the exporter wrapper's counts tell the truth.
        let traces = traces
            .map(|r| r.and_then(|()| unreported(failures.traces() - failed_before.0, "span")));
        let metrics = metrics
            .map(|r| r.and_then(|()| unreported(failures.metrics() - failed_before.1, "metric")));
        match (traces, metrics) {
            (Some(Ok(())), Some(Ok(()))) => Ok(()),
            (Some(Err(t)), Some(Ok(()))) => Err(ShutdownCause::Traces(t)),
            (Some(Ok(())), Some(Err(m))) => Err(ShutdownCause::Metrics(m)),
            (Some(Err(traces)), Some(Err(metrics))) => Err(ShutdownCause::Both { traces, metrics }),
            _ => Err(ShutdownCause::TimedOut(bound)),
        }
    }
}

fn unreported(failed: u64, what: &str) -> OTelSdkResult {
    if failed == 0 {
        Ok(())
    } else {
        Err(OTelSdkError::InternalFailure(format!(
            "{failed} {what} export(s) failed while shutting down"
        )))
    }
}

impl Instrumentation {
    pub(crate) fn shutdown_bound(export_timeout: Duration) -> Duration {
        export_timeout.saturating_add(SHUTDOWN_GRACE)
    }

    /// The tracing layer to add to a subscriber: the OpenTelemetry layer (spans out over OTLP) and
    /// this crate's metrics and self-measurement, composed. Call it once per subscriber.
    ///
    /// `S` is the subscriber it is layered onto (a [`tracing_subscriber::Registry`], possibly with
    /// other layers below). The layer is `Send + Sync + 'static` whenever `S` is, so it can go into
    /// a global subscriber; it does not borrow the guard, which must still outlive the pipeline.
    ///
    /// Spans, helpers and export failures of several `Instrumentation`s in one process stay apart:
    /// each layer reports to its own providers and counters.
    pub fn layer<S>(&self) -> impl Layer<S> + use<S>
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        let otel = tracing_opentelemetry::layer().with_tracer(self.tracer.clone());
        TimerStart.and_then(otel).and_then(MetricsLayer {
            shared: Arc::clone(&self.shared),
        })
    }

    /// For binaries: installs a global subscriber made of a registry, a console (fmt) layer
    /// filtered by `RUST_LOG` (default `info`), and [`layer`](Self::layer).
    ///
    /// The telemetry layer has its own filter: spans and events at INFO and above from every
    /// target except the exporter's transport and the OpenTelemetry SDK (exporting those would
    /// feed the exporter its own traffic). `RUST_LOG` therefore quiets the console without
    /// silencing what the monitor receives.
    ///
    /// Fails with [`InitError::InvalidSetting`] if `RUST_LOG` does not parse, and with
    /// [`InitError::SubscriberAlreadySet`] if a global subscriber is already installed.
    pub fn install_default_subscriber(&self) -> Result<(), InitError> {
        let console = EnvFilter::builder()
            .with_default_directive(LevelFilter::INFO.into())
            .from_env()
            .map_err(|e| InitError::InvalidSetting {
                setting: EnvFilter::DEFAULT_ENV.to_owned(),
                value: std::env::var(EnvFilter::DEFAULT_ENV).unwrap_or_default(),
                reason: e.to_string(),
            })?;
        tracing_subscriber::registry()
            .with(
                tracing_subscriber::fmt::layer()
                    .with_ansi(console_colour(
                        std::io::stdout().is_terminal(),
                        std::env::var_os("NO_COLOR"),
                    ))
                    .with_filter(console),
            )
            .with(self.layer().with_filter(telemetry_filter()))
            .try_init()
            .map_err(InitError::SubscriberAlreadySet)
    }

    /// Export attempts (of spans or metrics) that have failed so far, and flushes or shutdowns that
    /// gave up waiting for an export. Also exported as the `ironforge.instrument.export.failures`
    /// counter.
    pub fn export_failures(&self) -> u64 {
        self.failures.count()
    }

    /// What became of the spans so far: ended, acknowledged by the collector, not (yet) delivered.
    pub fn export_report(&self) -> ExportReport {
        self.failures.report()
    }

    /// What the instrumentation has cost the pipeline's threads so far.
    pub fn overhead(&self) -> Overhead {
        self.shared.overhead.snapshot()
    }

    /// The fraction of unmonitored spans currently exported (constant unless the sampling policy
    /// is [`Sampling::OverheadBudget`](crate::Sampling::OverheadBudget)).
    pub fn sampling_ratio(&self) -> f64 {
        self.shared.sampler.ratio()
    }

    /// Exports what is pending now and waits for it (up to the SDK's 5 s per signal), returning
    /// what became of the spans so far. The guard stays usable.
    ///
    /// A flush that gives up waiting (the SDK's `OTelSdkError::Timeout`) counts as an export
    /// failure: its spans are still in flight and may yet fail, which [`shutdown`](Self::shutdown)
    /// then reports.
    pub fn force_flush(&self) -> Result<ExportReport, FlushError> {
        let Some(lifecycle) = &self.lifecycle else {
            return Ok(self.failures.report());
        };
        let traces = lifecycle.tracer_provider.force_flush();
        let metrics = lifecycle.meter_provider.force_flush();
        for (signal, result) in [(Signal::Traces, &traces), (Signal::Metrics, &metrics)] {
            if let Err(err @ OTelSdkError::Timeout(_)) = result {
                self.failures.record(signal, err);
            }
        }
        FlushError::from_parts(traces, metrics).map(|()| self.failures.report())
    }

    /// Exports what is pending and shuts both providers down. Returns what became of the spans
    /// when every one was delivered and nothing failed; otherwise an error naming the cause and
    /// carrying the same report, with the spans lost. Spans that end afterwards are not exported. Dropping
    /// the guard does the same and ignores errors.
    pub fn shutdown(mut self) -> Result<ExportReport, ShutdownError> {
        match self.lifecycle.take() {
            Some(lifecycle) => lifecycle.shutdown(),
            None => Ok(self.failures.report()),
        }
    }
}

impl Drop for Instrumentation {
    fn drop(&mut self) {
        if let Some(lifecycle) = self.lifecycle.take() {
            let _ = lifecycle.shutdown();
        }
    }
}

/// Whether the console log may colour its output: only for a terminal, where a person reads it (escape codes
/// in a redirected file or a pipe are noise), and not when `NO_COLOR` is set to anything but the empty string
/// (<https://no-color.org>).
fn console_colour(terminal: bool, no_color: Option<OsString>) -> bool {
    terminal && no_color.is_none_or(|v| v.is_empty())
}

fn telemetry_filter() -> Targets {
    TRANSPORT_TARGETS.iter().fold(
        Targets::new().with_default(LevelFilter::INFO),
        |targets, target| targets.with_target(*target, LevelFilter::OFF),
    )
}

#[cfg(test)]
mod tests {
    use super::console_colour;

    #[test]
    fn colour_only_on_a_terminal_without_no_color() {
        assert!(console_colour(true, None));
        assert!(!console_colour(false, None), "a pipe or a file");
        assert!(!console_colour(true, Some("1".into())));
        assert!(
            console_colour(true, Some("".into())),
            "an empty NO_COLOR is unset"
        );
    }
}
