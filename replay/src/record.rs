//! Recording a run to a file instead of sending it: each export batch becomes one line, an OTLP
//! `ExportTraceServiceRequest` in the OTLP/JSON mapping (hex ids, lowerCamelCase fields, 64-bit integers as
//! strings) — the format of the OpenTelemetry Collector's file exporter, which `ironforge-processor check`
//! reads.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::transform::common::tonic::ResourceAttributesWithSchema;
use opentelemetry_proto::transform::trace::tonic::group_spans_by_resource_and_scope;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::metrics::Temporality;
use opentelemetry_sdk::metrics::data::ResourceMetrics;
use opentelemetry_sdk::metrics::exporter::PushMetricExporter;
use opentelemetry_sdk::trace::{SpanData, SpanExporter};

/// A span exporter writing each batch as one OTLP/JSON line to a file.
#[derive(Debug)]
pub struct JsonLinesExporter {
    path: PathBuf,
    out: Mutex<BufWriter<File>>,
    resource: ResourceAttributesWithSchema,
}

impl JsonLinesExporter {
    /// Creates (or truncates) the file.
    pub fn create(path: &Path) -> std::io::Result<Self> {
        Ok(Self {
            path: path.to_owned(),
            out: Mutex::new(BufWriter::new(File::create(path)?)),
            resource: ResourceAttributesWithSchema::default(),
        })
    }

    fn failure(&self, what: impl std::fmt::Display) -> OTelSdkError {
        OTelSdkError::InternalFailure(format!("{}: {what}", self.path.display()))
    }

    fn write_line(&self, request: &ExportTraceServiceRequest) -> OTelSdkResult {
        let mut out = self.out.lock().map_err(|e| self.failure(e))?;
        serde_json::to_writer(&mut *out, request).map_err(|e| self.failure(e))?;
        // Flushed per batch: a run that dies midway leaves every batch it exported readable.
        out.write_all(b"\n")
            .and_then(|()| out.flush())
            .map_err(|e| self.failure(e))
    }

    fn flush(&self) -> OTelSdkResult {
        let mut out = self.out.lock().map_err(|e| self.failure(e))?;
        out.flush().map_err(|e| self.failure(e))
    }
}

impl SpanExporter for JsonLinesExporter {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        if batch.is_empty() {
            return Ok(());
        }
        let request = ExportTraceServiceRequest {
            resource_spans: group_spans_by_resource_and_scope(batch, &self.resource),
        };
        self.write_line(&request)
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        self.flush()
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.flush()
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.resource = ResourceAttributesWithSchema::from(resource);
    }
}

/// A metric exporter that keeps nothing: a recorded run is its trace, and the instrumentation still wants
/// somewhere to push its metrics.
#[derive(Debug, Default)]
pub struct DiscardMetrics;

impl PushMetricExporter for DiscardMetrics {
    async fn export(&self, _metrics: &ResourceMetrics) -> OTelSdkResult {
        Ok(())
    }

    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        Ok(())
    }

    fn temporality(&self) -> Temporality {
        Temporality::Cumulative
    }
}
