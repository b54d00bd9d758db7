//! The handlers behind the generated OTLP services: decode, hand on, answer.

use std::fmt;
use std::sync::Arc;

use ironforge_proto::otlp::metrics_service::metrics_service_server::MetricsService;
use ironforge_proto::otlp::metrics_service::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use ironforge_proto::otlp::trace_service::trace_service_server::TraceService;
use ironforge_proto::otlp::trace_service::{ExportTraceServiceRequest, ExportTraceServiceResponse};
use tonic::{Request, Response, Status};

use super::status;
use crate::ingest::SpanSink;
use crate::otlp::refusal::Refusal;
use crate::otlp::{metrics, traces};
use crate::telemetry::Transport;

/// The `TraceService` and `MetricsService` implementation. Served through
/// [`trace_service`](super::trace_service) and [`metrics_service`](super::metrics_service), which restate
/// tonic's statuses and report requests; on its own it does neither.
#[derive(Clone)]
pub struct GrpcReceiver {
    sink: Arc<dyn SpanSink>,
}

impl GrpcReceiver {
    pub fn new(sink: Arc<dyn SpanSink>) -> Self {
        Self { sink }
    }
}

impl fmt::Debug for GrpcReceiver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GrpcReceiver").finish_non_exhaustive()
    }
}

#[tonic::async_trait]
impl TraceService for GrpcReceiver {
    async fn export(
        &self,
        request: Request<ExportTraceServiceRequest>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        let (message, counts) = traces::accept(&*self.sink, request.into_inner())
            .map_err(|overloaded| status(Refusal::Overloaded(overloaded)))?;
        let mut response = Response::new(message);
        // The service wrapper reports the request once it is answered, and reads the counts from here.
        response.extensions_mut().insert(counts);
        Ok(response)
    }
}

#[tonic::async_trait]
impl MetricsService for GrpcReceiver {
    async fn export(
        &self,
        request: Request<ExportMetricsServiceRequest>,
    ) -> Result<Response<ExportMetricsServiceResponse>, Status> {
        let message = metrics::accept(&*self.sink, Transport::Grpc, request.get_ref());
        Ok(Response::new(message))
    }
}
