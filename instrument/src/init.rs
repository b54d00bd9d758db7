//! Building the providers: [`init`] over OTLP, [`Instrumentation::with_exporters`] over any
//! exporters.

use std::sync::Arc;

use ironforge_proto::semconv::attr;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry::{InstrumentationScope, KeyValue};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::metrics::exporter::PushMetricExporter;
use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::trace::{BatchSpanProcessor, SdkTracerProvider, SpanExporter};

use crate::config::{Config, Protocol};
use crate::error::InitError;
use crate::export::{CountingMetricExporter, CountingSpanExporter, FailureLog};
use crate::guard::{Instrumentation, Lifecycle};
use crate::overhead::OverheadStats;
use crate::processor::MetricsProcessor;
use crate::sampler::{IronforgeSampler, SamplerState};
use crate::state::Shared;

/// Starts the instrumentation: a tracer provider (batch span processor) and a meter provider
/// (periodic reader) exporting over OTLP to the configured collector.
///
/// Nothing global is installed: add [`Instrumentation::layer`] to a subscriber of your own, or call
/// [`Instrumentation::install_default_subscriber`]. Connections are made lazily, so `init` returns
/// at once even when no collector listens; failed exports are counted
/// ([`Instrumentation::export_failures`]) and never block or fail the pipeline. `init` may be
/// called inside or outside a Tokio runtime.
pub fn init(config: Config) -> Result<Instrumentation, InitError> {
    if let Some(problem) = config.problems.first() {
        return Err(problem.clone().into());
    }
    match config.protocol {
        Protocol::Grpc => grpc(config),
        Protocol::HttpProtobuf => http(config),
    }
}

#[cfg(feature = "grpc")]
fn grpc(config: Config) -> Result<Instrumentation, InitError> {
    use opentelemetry_otlp::{WithExportConfig, WithTonicConfig};

    let headers = HeaderInterceptor::new(&config.headers)?;
    let io = crate::io::IoRuntime::start().map_err(InitError::IoThread)?;
    let (spans, metrics) = {
        // tonic spawns each channel's worker on the current runtime: make it ours.
        let _entered = io.handle().enter();
        let spans = opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .with_endpoint(config.traces_endpoint.clone())
            .with_timeout(config.timeout)
            .with_interceptor(headers.clone())
            .build()
            .map_err(|source| InitError::Exporter {
                signal: "traces",
                source,
            })?;
        let metrics = opentelemetry_otlp::MetricExporter::builder()
            .with_tonic()
            .with_endpoint(config.metrics_endpoint.clone())
            .with_timeout(config.timeout)
            .with_interceptor(headers)
            .build()
            .map_err(|source| InitError::Exporter {
                signal: "metrics",
                source,
            })?;
        (spans, metrics)
    };
    Ok(assemble(config, spans, metrics, Some(io)))
}

#[cfg(not(feature = "grpc"))]
fn grpc(_config: Config) -> Result<Instrumentation, InitError> {
    Err(InitError::ProtocolNotCompiled {
        protocol: Protocol::Grpc,
    })
}

#[cfg(feature = "http")]
fn http(config: Config) -> Result<Instrumentation, InitError> {
    use opentelemetry_otlp::{WithExportConfig, WithHttpConfig};

    // The exporter also reads OTEL_EXPORTER_OTLP_HEADERS and lets it win on a name clash; the
    // configuration already holds those headers, so only a builder header of the same name as an
    // environment one is affected.
    let headers: std::collections::HashMap<String, String> =
        config.headers.iter().cloned().collect();
    let spans = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
        .with_endpoint(config.traces_endpoint.clone())
        .with_timeout(config.timeout)
        .with_headers(headers.clone())
        .build()
        .map_err(|source| InitError::Exporter {
            signal: "traces",
            source,
        })?;
    let metrics = opentelemetry_otlp::MetricExporter::builder()
        .with_http()
        .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
        .with_endpoint(config.metrics_endpoint.clone())
        .with_timeout(config.timeout)
        .with_headers(headers)
        .build()
        .map_err(|source| InitError::Exporter {
            signal: "metrics",
            source,
        })?;
    Ok(assemble(config, spans, metrics, None))
}

#[cfg(not(feature = "http"))]
fn http(_config: Config) -> Result<Instrumentation, InitError> {
    Err(InitError::ProtocolNotCompiled {
        protocol: Protocol::HttpProtobuf,
    })
}

impl Instrumentation {
    /// Builds the instrumentation over exporters of the caller's choosing instead of OTLP — the
    /// SDK's in-memory exporters in tests, or another transport. Everything else is as with
    /// [`init`]: batch span processor, periodic reader, sampler, layers, failure counting and
    /// bounded shutdown. The configuration's endpoint, protocol and headers are not used; its
    /// timeout still bounds shutdown.
    ///
    /// Fails only with [`InitError::InvalidSetting`], for a sampling ratio outside `0..=1` or a
    /// zero metrics interval (unusable transport settings from the environment are ignored here).
    pub fn with_exporters<T, M>(
        config: Config,
        span_exporter: T,
        metric_exporter: M,
    ) -> Result<Instrumentation, InitError>
    where
        T: SpanExporter + 'static,
        M: PushMetricExporter,
    {
        if let Some(problem) = config
            .problems
            .iter()
            .find(|p| p.setting == "sampling" || p.setting == "metrics_interval")
        {
            return Err(problem.clone().into());
        }
        Ok(assemble(config, span_exporter, metric_exporter, None))
    }
}

#[cfg(feature = "grpc")]
type Io = Option<crate::io::IoRuntime>;
#[cfg(not(feature = "grpc"))]
type Io = Option<std::convert::Infallible>;

fn assemble<T, M>(config: Config, spans: T, metrics: M, io: Io) -> Instrumentation
where
    T: SpanExporter + 'static,
    M: PushMetricExporter,
{
    #[cfg(not(feature = "grpc"))]
    let _ = io;
    let failures = Arc::new(FailureLog::new(config.metrics_interval));
    let overhead = Arc::new(OverheadStats::default());
    let sampler = Arc::new(SamplerState::new(config.sampling));
    let resource = Resource::builder()
        .with_attribute(KeyValue::new(
            attr::SERVICE_NAME,
            config.service_name.clone(),
        ))
        .build();

    let reader =
        PeriodicReader::builder(CountingMetricExporter::new(metrics, Arc::clone(&failures)))
            .with_interval(config.metrics_interval)
            .build();
    let meter_provider = SdkMeterProvider::builder()
        .with_reader(reader)
        .with_resource(resource.clone())
        .build();
    let scope = InstrumentationScope::builder(env!("CARGO_PKG_NAME"))
        .with_version(env!("CARGO_PKG_VERSION"))
        .build();
    let meter =
        opentelemetry::metrics::MeterProvider::meter_with_scope(&meter_provider, scope.clone());
    let shared = Arc::new(Shared::new(
        &meter,
        Arc::clone(&overhead),
        Arc::clone(&sampler),
        Arc::clone(&failures),
    ));

    // One processor, wrapping the batch one: with two, the SDK would clone every span's data for
    // each of them.
    let batch =
        BatchSpanProcessor::builder(CountingSpanExporter::new(spans, Arc::clone(&failures)))
            .build();
    let tracer_provider = SdkTracerProvider::builder()
        .with_span_processor(MetricsProcessor::new(
            batch,
            Arc::clone(&shared),
            Arc::clone(&failures),
        ))
        .with_sampler(IronforgeSampler::new(sampler, overhead))
        .with_resource(resource)
        .build();
    let tracer = tracer_provider.tracer_with_scope(scope);

    Instrumentation {
        tracer,
        shared,
        failures: Arc::clone(&failures),
        lifecycle: Some(Lifecycle {
            tracer_provider,
            meter_provider,
            #[cfg(feature = "grpc")]
            io,
            bound: Instrumentation::shutdown_bound(config.timeout),
            failures,
        }),
    }
}

/// Sets the configured headers as gRPC metadata on every export request.
///
/// The exporter appends `OTEL_EXPORTER_OTLP_HEADERS` to its metadata by itself; inserting here,
/// after it, replaces rather than duplicates those entries, and lets builder headers win.
#[cfg(feature = "grpc")]
#[derive(Clone)]
struct HeaderInterceptor(
    Arc<
        [(
            tonic::metadata::AsciiMetadataKey,
            tonic::metadata::AsciiMetadataValue,
        )],
    >,
);

#[cfg(feature = "grpc")]
impl HeaderInterceptor {
    fn new(headers: &[(String, String)]) -> Result<Self, InitError> {
        let invalid = |key: &str, reason: String| InitError::InvalidSetting {
            setting: format!("header `{key}`"),
            value: "<redacted>".to_owned(),
            reason,
        };
        let entries = headers
            .iter()
            .map(|(k, v)| {
                let key = tonic::metadata::AsciiMetadataKey::from_bytes(k.as_bytes())
                    .map_err(|e| invalid(k, e.to_string()))?;
                let value = tonic::metadata::AsciiMetadataValue::try_from(v.as_str())
                    .map_err(|e| invalid(k, e.to_string()))?;
                Ok((key, value))
            })
            .collect::<Result<Vec<_>, InitError>>()?;
        Ok(HeaderInterceptor(entries.into()))
    }
}

#[cfg(feature = "grpc")]
impl tonic::service::Interceptor for HeaderInterceptor {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        for (key, value) in self.0.iter() {
            request.metadata_mut().insert(key.clone(), value.clone());
        }
        Ok(request)
    }
}
