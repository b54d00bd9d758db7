//! The processor's own gRPC API (`ironforge.monitor.v1.MonitorService`): a thin layer that converts requests
//! to domain calls on the [`Monitor`] and maps every domain error to a `Status` in [`status`].
//!
//! | rpc | answer |
//! |---|---|
//! | `WatchViolations` | violations as they are decided, filtered by severity, category, contract, stage, blocking |
//! | `GetVerdict` | one trace's verdict; NOT_FOUND until it is decided |
//! | `GetCompliance` | the compliance report, overall or for one pipeline |
//! | `Evaluate` | verdicts of an OTLP request's traces, decided at once, outside the live state |
//! | `GetTraceAnalysis` | one recent run's analysis, as `GET /api/v1/analysis/traces/{trace_id}` |
//! | `GetBottlenecks` | per pipeline, the ranked bottlenecks of its recent runs, as `GET /api/v1/analysis/bottlenecks` |
//! | `GetRegressions` | per pipeline, change points for the worse and memory across runs, as `GET /api/v1/analysis/regressions` |
//! | `GetPlan` | per pipeline, the plan drawn from its newest run, as `GET /api/v1/analysis/plan` |
//!
//! The analysis rpcs answer what [`answers`] builds, as the HTTP API does, so the two transports agree.

use std::pin::Pin;
use std::sync::Arc;

use futures::{Stream, StreamExt};
use ironforge_proto::monitor::v1 as pb;
use ironforge_proto::monitor::v1::monitor_service_server::{MonitorService, MonitorServiceServer};
use ironforge_proto::otlp::trace_service::ExportTraceServiceRequest;
use tokio::sync::watch;
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;
use tonic::{Request, Response, Status};

use super::convert;
use super::convert::analysis as convert_analysis;
use crate::analysis::Analyst;
use crate::analysis::answers::{self, AnalysisQueryError};
use crate::model::TraceId;
use crate::monitor::{Monitor, VerdictNotFound};
use crate::otlp::convert_request;
use crate::verdict::{Severity, Violation};
use ironforge_telemetry::names::value;

/// What a `MonitorService` call can fail with, before it becomes a `Status`.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ApiError {
    #[error("trace_id must be 16 bytes and not all zero")]
    InvalidTraceId,
    #[error(transparent)]
    VerdictNotFound(#[from] VerdictNotFound),
    #[error("{0}")]
    InvalidFilter(String),
    #[error(
        "no pipeline {0:?}: no monitored trace with that service.name has been decided, or it was forgotten for newer pipelines"
    )]
    PipelineNotFound(String),
    #[error(transparent)]
    Analysis(#[from] AnalysisQueryError),
}

/// The single mapping from domain errors to gRPC status codes.
pub(crate) fn status(error: ApiError) -> Status {
    match error {
        ApiError::InvalidTraceId | ApiError::InvalidFilter(_) => {
            Status::invalid_argument(error.to_string())
        }
        ApiError::VerdictNotFound(_)
        | ApiError::PipelineNotFound(_)
        | ApiError::Analysis(
            AnalysisQueryError::TraceNotFound(_) | AnalysisQueryError::PipelineNotFound(_),
        ) => Status::not_found(error.to_string()),
        // Analysis is switched on only at start: a retry, which UNAVAILABLE invites (and retry policies act
        // on), cannot succeed before the processor is restarted with it.
        ApiError::Analysis(AnalysisQueryError::Disabled) => {
            Status::failed_precondition(error.to_string())
        }
    }
}

/// A request's trace id; INVALID_ARGUMENT unless it is 16 bytes and not all zero.
fn trace_id(bytes: &[u8]) -> Result<TraceId, Status> {
    TraceId::from_bytes(bytes)
        .ok_or(ApiError::InvalidTraceId)
        .map_err(status)
}

/// An analysis answer, or its error as a `Status`, converted to its message.
fn analysis_answer<A, M>(
    answer: Result<A, AnalysisQueryError>,
    convert: impl FnOnce(&A) -> M,
) -> Result<Response<M>, Status> {
    answer
        .map(|answer| Response::new(convert(&answer)))
        .map_err(|error| status(error.into()))
}

#[derive(Debug, Clone)]
pub(crate) struct MonitorApi {
    monitor: Arc<Monitor>,
    shutdown: watch::Receiver<bool>,
}

impl MonitorApi {
    /// Asks a per-pipeline analysis question for the pipeline `request` names (every pipeline when it names
    /// none) and converts the answer.
    fn pipeline_answer<A, M>(
        &self,
        request: &pb::GetAnalysisRequest,
        ask: impl FnOnce(Option<&Analyst>, Option<&str>) -> Result<A, AnalysisQueryError>,
        convert: impl FnOnce(&A) -> M,
    ) -> Result<Response<M>, Status> {
        let pipeline = Some(request.pipeline.as_str()).filter(|name| !name.is_empty());
        analysis_answer(ask(self.monitor.outputs().analysis(), pipeline), convert)
    }
}

/// The `MonitorService` server over a monitor. `WatchViolations` streams end when `shutdown` turns true, so
/// a graceful shutdown does not wait for subscribers that would otherwise listen forever.
pub(crate) fn monitor_service(
    monitor: Arc<Monitor>,
    shutdown: watch::Receiver<bool>,
) -> MonitorServiceServer<MonitorApi> {
    MonitorServiceServer::new(MonitorApi { monitor, shutdown })
        .max_encoding_message_size(MAX_ANSWER_BYTES)
}

/// The largest answer a `MonitorService` call sends; a larger one fails with RESOURCE_EXHAUSTED instead of
/// filling the processor's memory and the client's. A verdict keeps at most 1,000 violations, well under it.
pub(crate) const MAX_ANSWER_BYTES: usize = 4 * 1024 * 1024;

/// Which violations a `WatchViolations` subscriber asked for.
#[derive(Debug, Clone)]
struct Filter {
    min_severity: Option<Severity>,
    categories: Vec<i32>,
    contract_ids: Vec<String>,
    stage: String,
    blocking_only: bool,
}

impl Filter {
    fn new(request: pb::WatchViolationsRequest) -> Result<Self, ApiError> {
        let min_severity = match pb::Severity::try_from(request.min_severity) {
            Ok(pb::Severity::Unspecified) => None,
            Ok(pb::Severity::Warning) => Some(Severity::Warning),
            Ok(pb::Severity::Critical) => Some(Severity::Critical),
            Err(_) => {
                return Err(ApiError::InvalidFilter(format!(
                    "unknown severity {}",
                    request.min_severity
                )));
            }
        };
        if let Some(bad) = request
            .categories
            .iter()
            .find(|c| pb::Category::try_from(**c).is_err())
        {
            return Err(ApiError::InvalidFilter(format!("unknown category {bad}")));
        }
        Ok(Self {
            min_severity,
            categories: request.categories,
            contract_ids: request.contract_ids,
            stage: request.stage,
            blocking_only: request.blocking_only,
        })
    }

    fn matches(&self, v: &Violation) -> bool {
        self.min_severity.is_none_or(|min| v.severity >= min)
            && (self.categories.is_empty()
                || self
                    .categories
                    .contains(&i32::from(convert::category(v.category))))
            && (self.contract_ids.is_empty() || self.contract_ids.contains(&v.contract_id))
            && (self.stage.is_empty() || v.stage.as_deref() == Some(self.stage.as_str()))
            && (!self.blocking_only || v.blocks_production)
    }
}

type ViolationStream = Pin<Box<dyn Stream<Item = Result<pb::Violation, Status>> + Send>>;

#[tonic::async_trait]
impl MonitorService for MonitorApi {
    type WatchViolationsStream = ViolationStream;

    async fn watch_violations(
        &self,
        request: Request<pb::WatchViolationsRequest>,
    ) -> Result<Response<Self::WatchViolationsStream>, Status> {
        let filter = Filter::new(request.into_inner()).map_err(status)?;
        let metrics = Arc::clone(self.monitor.outputs().metrics());
        let stream =
            BroadcastStream::new(self.monitor.outputs().subscribe()).filter_map(move |item| {
                let out = match item {
                    Ok(violation) => filter
                        .matches(&violation)
                        .then(|| Ok(convert::violation(&violation))),
                    // A subscriber that reads too slowly skips ahead; the skipped events are counted.
                    Err(BroadcastStreamRecvError::Lagged(skipped)) => {
                        metrics.output_dropped(value::WATCH_STREAM, skipped);
                        None
                    }
                };
                std::future::ready(out)
            });
        let stream = stream.take_until(crate::shutdown::stopped(self.shutdown.clone()));
        Ok(Response::new(Box::pin(stream)))
    }

    async fn get_verdict(
        &self,
        request: Request<pb::GetVerdictRequest>,
    ) -> Result<Response<pb::TraceVerdict>, Status> {
        let trace_id = trace_id(&request.get_ref().trace_id)?;
        let verdict = self
            .monitor
            .find_verdict(&trace_id)
            .map_err(|err| status(err.into()))?;
        Ok(Response::new(convert::verdict(&verdict)))
    }

    async fn get_compliance(
        &self,
        request: Request<pb::GetComplianceRequest>,
    ) -> Result<Response<pb::ComplianceReport>, Status> {
        let pipeline = request.into_inner().pipeline;
        let mut report = self.monitor.compliance();
        if !pipeline.is_empty() {
            report = report
                .pipeline(&pipeline)
                .ok_or(ApiError::PipelineNotFound(pipeline))
                .map_err(status)?;
        }
        Ok(Response::new(convert::compliance(&report)))
    }

    async fn evaluate(
        &self,
        request: Request<ExportTraceServiceRequest>,
    ) -> Result<Response<pb::EvaluateResponse>, Status> {
        let plan = self.monitor.contracts().plan().clone();
        let decoded = convert_request(request.get_ref(), &plan)
            .map_err(|error| Status::invalid_argument(format!("undecodable request: {error}")))?;
        let error_message = decoded.error_message();
        let verdicts = self.monitor.evaluate(decoded.spans);
        Ok(Response::new(pb::EvaluateResponse {
            verdicts: verdicts.iter().map(convert::verdict).collect(),
            rejected_spans: decoded.rejected,
            error_message,
        }))
    }

    async fn get_trace_analysis(
        &self,
        request: Request<pb::GetTraceAnalysisRequest>,
    ) -> Result<Response<pb::TraceAnalysis>, Status> {
        let trace_id = trace_id(&request.get_ref().trace_id)?;
        analysis_answer(
            answers::trace(self.monitor.outputs().analysis(), &trace_id),
            |analysis| {
                // The message has no `truncated` field: what the cap left out is said in its notes.
                let capped = super::capped::trace_analysis(analysis);
                let mut message = convert_analysis::trace_analysis(&capped.answer);
                message.notes.extend(capped.notes());
                message
            },
        )
    }

    async fn get_bottlenecks(
        &self,
        request: Request<pb::GetAnalysisRequest>,
    ) -> Result<Response<pb::BottlenecksReport>, Status> {
        self.pipeline_answer(
            request.get_ref(),
            answers::bottlenecks,
            convert_analysis::bottlenecks,
        )
    }

    async fn get_regressions(
        &self,
        request: Request<pb::GetAnalysisRequest>,
    ) -> Result<Response<pb::RegressionsReport>, Status> {
        self.pipeline_answer(
            request.get_ref(),
            answers::regressions,
            convert_analysis::regressions,
        )
    }

    async fn get_plan(
        &self,
        request: Request<pb::GetAnalysisRequest>,
    ) -> Result<Response<pb::PlanReport>, Status> {
        self.pipeline_answer(request.get_ref(), answers::plan, convert_analysis::plans)
    }
}
