//! The errors of the crate's fallible operations.

use std::time::Duration;

use opentelemetry_sdk::error::OTelSdkError;

use crate::config::{Protocol, SettingProblem};
use crate::export::ExportReport;

/// Why [`init`](crate::init) or [`Instrumentation::install_default_subscriber`] failed.
///
/// [`Instrumentation::install_default_subscriber`]: crate::Instrumentation::install_default_subscriber
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    /// A configuration value (from the builder or the environment) cannot be used.
    #[error("invalid setting {setting} = `{value}`: {reason}")]
    InvalidSetting {
        /// The builder method or environment variable.
        setting: String,
        /// The value refused (redacted where it may hold a credential).
        value: String,
        /// Why it was refused.
        reason: String,
    },
    /// The configured protocol's crate feature was not enabled.
    #[error("OTLP protocol {protocol} is not compiled in; enable the crate feature `{}`", protocol.feature())]
    ProtocolNotCompiled {
        /// The protocol asked for.
        protocol: Protocol,
    },
    /// The OTLP exporter refused its configuration (for example a malformed endpoint URL).
    #[error("building the OTLP {signal} exporter failed")]
    Exporter {
        /// `traces` or `metrics`.
        signal: &'static str,
        /// The exporter's reason.
        #[source]
        source: opentelemetry_otlp::ExporterBuildError,
    },
    /// The thread that drives the gRPC exporter's connections could not be started.
    #[error("starting the OTLP exporter's I/O thread failed")]
    IoThread(#[source] std::io::Error),
    /// Only from [`install_default_subscriber`](crate::Instrumentation::install_default_subscriber):
    /// a global subscriber (or `log` logger) is already installed.
    #[error("a global tracing subscriber is already installed")]
    SubscriberAlreadySet(#[source] tracing_subscriber::util::TryInitError),
}

impl From<SettingProblem> for InitError {
    fn from(p: SettingProblem) -> Self {
        InitError::InvalidSetting {
            setting: p.setting,
            value: p.value,
            reason: p.reason,
        }
    }
}

/// Why [`Instrumentation::force_flush`](crate::Instrumentation::force_flush) failed: what was
/// pending was not (all) delivered.
#[derive(Debug, thiserror::Error)]
pub enum FlushError {
    /// Flushing spans failed.
    #[error("flushing spans failed: {0}")]
    Traces(#[source] OTelSdkError),
    /// Flushing metrics failed.
    #[error("flushing metrics failed: {0}")]
    Metrics(#[source] OTelSdkError),
    /// Both failed.
    #[error("flushing spans failed ({traces}) and flushing metrics failed ({metrics})")]
    Both {
        /// The spans' error.
        traces: OTelSdkError,
        /// The metrics' error.
        metrics: OTelSdkError,
    },
}

impl FlushError {
    pub(crate) fn from_parts(
        traces: Result<(), OTelSdkError>,
        metrics: Result<(), OTelSdkError>,
    ) -> Result<(), FlushError> {
        match (traces, metrics) {
            (Ok(()), Ok(())) => Ok(()),
            (Err(t), Ok(())) => Err(FlushError::Traces(t)),
            (Ok(()), Err(m)) => Err(FlushError::Metrics(m)),
            (Err(traces), Err(metrics)) => Err(FlushError::Both { traces, metrics }),
        }
    }
}

/// Why [`Instrumentation::shutdown`](crate::Instrumentation::shutdown) failed, and what became of
/// the spans: how many the collector never acknowledged, and the export failures counted, the final
/// flush included. The providers are shut down in any case.
#[derive(Debug, thiserror::Error)]
#[error("{cause}; {report}")]
pub struct ShutdownError {
    /// What went wrong.
    #[source]
    pub cause: ShutdownCause,
    /// The fate of every span, as of the end of the shutdown.
    pub report: ExportReport,
}

/// What went wrong in a shutdown.
#[derive(Debug, thiserror::Error)]
pub enum ShutdownCause {
    /// Delivering the last spans or shutting the tracer provider down failed.
    #[error("shutting down the tracer provider failed: {0}")]
    Traces(#[source] OTelSdkError),
    /// Delivering the last metrics or shutting the meter provider down failed.
    #[error("shutting down the meter provider failed: {0}")]
    Metrics(#[source] OTelSdkError),
    /// Both failed.
    #[error(
        "shutting down the tracer provider failed ({traces}) and the meter provider failed ({metrics})"
    )]
    Both {
        /// The tracer provider's error.
        traces: OTelSdkError,
        /// The meter provider's error.
        metrics: OTelSdkError,
    },
    /// Shutdown had not finished within the bound (the export timeout plus a grace); it goes on in
    /// the background and its result is lost.
    #[error("shutdown did not finish within {0:?}")]
    TimedOut(Duration),
    /// A thread to run the shutdown on could not be started.
    #[error("starting a shutdown thread failed")]
    Thread(#[source] std::io::Error),
    /// The providers shut down cleanly, yet spans never reached the collector: an earlier export
    /// failed or gave up, or the span queue was full.
    #[error("spans were lost before the shutdown")]
    SpansLost,
}
