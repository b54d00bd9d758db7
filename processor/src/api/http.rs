//! The admin HTTP API: health, readiness, Prometheus metrics, compliance, violations and verdicts.
//!
//! | path | answer |
//! |---|---|
//! | `GET /healthz` | 200 `ok` while the process serves |
//! | `GET /readyz` | 200 once the receivers listen and span batches are taken, 503 before |
//! | `GET /metrics` | OpenMetrics text with exemplars |
//! | `GET /api/v1/health[?pipeline=NAME]` | `{"health": "GREEN", "health_score": 100.0, ...}`, overall and per pipeline, or for one; overall with `downstream` (the logs queue) when a logs endpoint is set |
//! | `GET /api/v1/compliance[?pipeline=NAME]` | the full compliance report, per contract and per pipeline, or one pipeline's |
//! | `GET /api/v1/violations?since=SECONDS&limit=N[&cursor=C]` | violations decided at or after a Unix time, a page at a time (see [`pages`](super::pages)) |
//! | `GET /api/v1/traces/{trace_id}/verdict` | one trace's verdict; 404 until it is decided |
//! | `GET /api/v1/analysis/traces/{trace_id}` | one recent run's analysis: critical path, stages, sessions, recommendations, plan, memory trend |
//! | `GET /api/v1/analysis/bottlenecks[?pipeline=NAME]` | per pipeline, the stages and sessions that dominate its recent runs, ranked |
//! | `GET /api/v1/analysis/regressions[?pipeline=NAME]` | per pipeline, change points for the worse over its run history, and peak memory across runs |
//! | `GET /api/v1/analysis/plan[?pipeline=NAME]` | per pipeline, the recommendations and plan drawn from its newest run |
//! | `GET /`, `/runs/{trace_id}`, `/flame` | HTML pages: overview, one run, critical-path flame graph (see [`html`](super::html)) |

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::pages::{self, Cursor};
use crate::analysis::answers::{self, AnalysisQueryError};
use crate::model::TraceId;
use crate::monitor::{Health, Monitor, VerdictNotFound};
use ironforge_outputs::otlp_logs::DownstreamStatus;
use ironforge_telemetry::OPENMETRICS_CONTENT_TYPE;

/// The health rule, as `/api/v1/health` states it beside the answer.
const HEALTH_RULE: &str = "only traces with an IRONFORGE span (`ironforge.span.kind`) get a verdict; \
    score = 100 x mean points of the last 20 verdicts (pass 1, warn 0.75, incomplete 0.5, fail 0); \
    RED if score < 60 or the latest verdict failed a blocking contract, \
    GREEN if score >= 90 and the latest verdict is production-ready, else YELLOW";

#[derive(Debug, Clone)]
struct AdminState {
    monitor: Arc<Monitor>,
    ready: Arc<AtomicBool>,
}

/// The admin router. `ready` turns `/readyz` green once the caller has bound every listener.
pub(crate) fn router(monitor: Arc<Monitor>, ready: Arc<AtomicBool>) -> Router {
    Router::new()
        .route("/api/v1/health", get(health))
        .route("/api/v1/compliance", get(compliance))
        .route("/api/v1/violations", get(violations))
        .route("/api/v1/traces/{trace_id}/verdict", get(verdict))
        .route("/api/v1/analysis/traces/{trace_id}", get(analysis_trace))
        .route("/api/v1/analysis/bottlenecks", get(analysis_bottlenecks))
        .route("/api/v1/analysis/regressions", get(analysis_regressions))
        .route("/api/v1/analysis/plan", get(analysis_plan))
        .with_state(AdminState {
            monitor: Arc::clone(&monitor),
            ready: Arc::clone(&ready),
        })
        .merge(super::html::router(Arc::clone(&monitor)))
        .merge(metrics_router(monitor, ready))
}

/// `/metrics` and the probes alone, for a listener a scraper reaches while the API stays private.
pub(crate) fn metrics_router(monitor: Arc<Monitor>, ready: Arc<AtomicBool>) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(AdminState { monitor, ready })
}

/// Errors of the admin API, each with its HTTP status and a JSON body.
#[derive(Debug, thiserror::Error)]
enum AdminError {
    #[error("trace id must be 32 hex digits and not all zero")]
    InvalidTraceId,
    #[error(transparent)]
    VerdictNotFound(#[from] VerdictNotFound),
    #[error("`since` must be a Unix time in seconds, 0 or more")]
    InvalidSince,
    #[error("`cursor` must be one a previous page gave")]
    InvalidCursor,
    #[error(
        "no pipeline {0:?}: no monitored trace with that service.name has been decided, or it was forgotten for newer pipelines"
    )]
    PipelineNotFound(String),
    #[error("metrics could not be encoded")]
    Metrics,
    #[error(transparent)]
    Analysis(#[from] AnalysisQueryError),
}

impl IntoResponse for AdminError {
    fn into_response(self) -> Response {
        let status = match self {
            AdminError::InvalidTraceId | AdminError::InvalidSince | AdminError::InvalidCursor => {
                StatusCode::BAD_REQUEST
            }
            AdminError::VerdictNotFound(_) | AdminError::PipelineNotFound(_) => {
                StatusCode::NOT_FOUND
            }
            AdminError::Metrics => StatusCode::INTERNAL_SERVER_ERROR,
            // As gRPC's FAILED_PRECONDITION: retrying cannot help until a restart with analysis on.
            AdminError::Analysis(AnalysisQueryError::Disabled) => StatusCode::BAD_REQUEST,
            AdminError::Analysis(
                AnalysisQueryError::TraceNotFound(_) | AnalysisQueryError::PipelineNotFound(_),
            ) => StatusCode::NOT_FOUND,
        };
        (
            status,
            Json(serde_json::json!({ "error": self.to_string() })),
        )
            .into_response()
    }
}

async fn readyz(State(state): State<AdminState>) -> (StatusCode, &'static str) {
    if !state.ready.load(Ordering::Acquire) {
        (StatusCode::SERVICE_UNAVAILABLE, "starting")
    } else if !state.monitor.accepts_batches() {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "the write-ahead log cannot be written yet; span batches are refused",
        )
    } else {
        (StatusCode::OK, "ready")
    }
}

async fn metrics(State(state): State<AdminState>) -> Result<Response, AdminError> {
    let text = state
        .monitor
        .outputs()
        .metrics()
        .encode()
        .map_err(|_| AdminError::Metrics)?;
    Ok(([(header::CONTENT_TYPE, OPENMETRICS_CONTENT_TYPE)], text).into_response())
}

/// Health overall (with each pipeline's), or of the one pipeline asked for.
#[derive(Debug, Serialize)]
struct HealthBody {
    #[serde(skip_serializing_if = "Option::is_none")]
    pipeline: Option<String>,
    health: Health,
    health_score: f64,
    compliance_ratio: f64,
    traces_total: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    rule: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pipelines: Option<Vec<HealthBody>>,
    /// Delivery of violation events to the logs endpoint, in the overall answer when one is configured. Kept
    /// apart from `health`, which judges the monitored pipelines, not the processor.
    #[serde(skip_serializing_if = "Option::is_none")]
    downstream: Option<DownstreamStatus>,
}

impl HealthBody {
    fn new(health: Health, health_score: f64, compliance_ratio: f64, traces_total: u64) -> Self {
        Self {
            pipeline: None,
            health,
            health_score,
            compliance_ratio,
            traces_total,
            rule: None,
            pipelines: None,
            downstream: None,
        }
    }
}

/// `?pipeline=NAME`; absent or empty means every pipeline.
#[derive(Debug, Deserialize)]
struct PipelineQuery {
    pipeline: Option<String>,
}

impl PipelineQuery {
    fn name(self) -> Option<String> {
        self.pipeline.filter(|name| !name.is_empty())
    }
}

async fn health(
    State(state): State<AdminState>,
    Query(query): Query<PipelineQuery>,
) -> Result<Json<HealthBody>, AdminError> {
    let report = state.monitor.compliance();
    let mut pipelines = report.pipelines.iter().map(|p| HealthBody {
        pipeline: Some(p.pipeline.clone()),
        ..HealthBody::new(
            p.health,
            p.health_score,
            p.compliance_ratio,
            p.counts.traces_total,
        )
    });
    let body = match query.name() {
        None => HealthBody {
            pipelines: Some(pipelines.collect()),
            downstream: state.monitor.outputs().downstream(),
            ..HealthBody::new(
                report.health,
                report.health_score,
                report.compliance_ratio,
                report.counts.traces_total,
            )
        },
        Some(name) => pipelines
            .find(|p| p.pipeline.as_deref() == Some(name.as_str()))
            .ok_or(AdminError::PipelineNotFound(name))?,
    };
    Ok(Json(HealthBody {
        rule: Some(HEALTH_RULE),
        ..body
    }))
}

async fn compliance(
    State(state): State<AdminState>,
    Query(query): Query<PipelineQuery>,
) -> Result<Response, AdminError> {
    let report = state.monitor.compliance();
    let Some(name) = query.name() else {
        return Ok(Json(report).into_response());
    };
    let one = report
        .pipelines
        .into_iter()
        .find(|p| p.pipeline == name)
        .ok_or(AdminError::PipelineNotFound(name))?;
    Ok(Json(one).into_response())
}

#[derive(Debug, Deserialize)]
struct ViolationsQuery {
    since: Option<f64>,
    limit: Option<usize>,
    cursor: Option<String>,
}

/// A page of violations; the cursor, when given, carries the `since` of the first page.
async fn violations(
    State(state): State<AdminState>,
    Query(query): Query<ViolationsQuery>,
) -> Result<Response, AdminError> {
    let cursor = match query.cursor.as_deref() {
        Some(text) => Cursor::decode(text).ok_or(AdminError::InvalidCursor)?,
        None => {
            let since = query.since.unwrap_or(0.0);
            if !(since.is_finite() && since >= 0.0) {
                return Err(AdminError::InvalidSince);
            }
            Cursor {
                from: 0,
                since_unix_nano: (since * 1e9) as u64,
            }
        }
    };
    let limit = query
        .limit
        .unwrap_or(pages::DEFAULT_PAGE_SIZE)
        .clamp(1, pages::MAX_PAGE_SIZE);
    let page = state
        .monitor
        .outputs()
        .violations_page(cursor.from, cursor.since_unix_nano, limit);
    Ok(pages::answer(page, cursor.since_unix_nano, limit))
}

async fn verdict(
    State(state): State<AdminState>,
    Path(trace_id): Path<String>,
) -> Result<impl IntoResponse, AdminError> {
    let trace_id = TraceId::from_hex(&trace_id).ok_or(AdminError::InvalidTraceId)?;
    Ok(Json(state.monitor.find_verdict(&trace_id)?))
}

async fn analysis_trace(
    State(state): State<AdminState>,
    Path(trace_id): Path<String>,
) -> Result<Response, AdminError> {
    let trace_id = TraceId::from_hex(&trace_id).ok_or(AdminError::InvalidTraceId)?;
    let analysis = answers::trace(state.monitor.outputs().analysis(), &trace_id)?;
    Ok(Json(super::capped::trace_analysis(&analysis)).into_response())
}

async fn analysis_bottlenecks(
    State(state): State<AdminState>,
    Query(query): Query<PipelineQuery>,
) -> Result<Json<answers::BottlenecksAnswer>, AdminError> {
    let pipeline = query.name();
    Ok(Json(answers::bottlenecks(
        state.monitor.outputs().analysis(),
        pipeline.as_deref(),
    )?))
}

async fn analysis_regressions(
    State(state): State<AdminState>,
    Query(query): Query<PipelineQuery>,
) -> Result<Json<answers::RegressionsAnswer>, AdminError> {
    let pipeline = query.name();
    Ok(Json(answers::regressions(
        state.monitor.outputs().analysis(),
        pipeline.as_deref(),
    )?))
}

async fn analysis_plan(
    State(state): State<AdminState>,
    Query(query): Query<PipelineQuery>,
) -> Result<Json<answers::PlanAnswer>, AdminError> {
    let pipeline = query.name();
    Ok(Json(answers::plan(
        state.monitor.outputs().analysis(),
        pipeline.as_deref(),
    )?))
}
