//! The handlers behind the generated OTLP services: decode, hand on, answer.

use std::fmt;
use std::sync::Arc;

use ironforge_proto::otlp::metrics_service::metrics_service_server::MetricsService;
use ironforge_proto::otlp::metrics_service::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use tonic::{Request, Response, Status};

use crate::ingest::SpanSink;
use crate::otlp::metrics;
use ironforge_telemetry::Transport;

/// The `MetricsService` implementation. Served through [`metrics_service`](super::metrics_service), which
/// restates tonic's statuses; on its own it does not.
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
impl MetricsService for GrpcReceiver {
    async fn export(
        &self,
        request: Request<ExportMetricsServiceRequest>,
    ) -> Result<Response<ExportMetricsServiceResponse>, Status> {
        let message = metrics::accept(&*self.sink, Transport::Grpc, request.get_ref());
        Ok(Response::new(message))
    }
}
