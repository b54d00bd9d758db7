//! The admin HTTP API: health, readiness, Prometheus metrics, compliance, violations and verdicts.
//!
//! | path | answer |
//! |---|---|
//! | `GET /healthz` | 200 `ok` while the process serves |
//! | `GET /readyz` | 200 once the receivers listen, 503 before |
//! | `GET /metrics` | OpenMetrics text with exemplars |
//! | `GET /api/v1/health` | `{"health": "GREEN", "health_score": 100.0, ...}` |
//! | `GET /api/v1/compliance` | the full compliance report, per contract |
//! | `GET /api/v1/violations?since=SECONDS&limit=N` | violations decided at or after a Unix time |
//! | `GET /api/v1/traces/{trace_id}/verdict` | one trace's verdict; 404 until it is decided |

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use crate::model::TraceId;
use crate::monitor::{Health, Monitor};
use crate::telemetry::OPENMETRICS_CONTENT_TYPE;

/// Most violations one `/api/v1/violations` call returns.
const MAX_VIOLATIONS_PER_CALL: usize = 10_000;

#[derive(Debug, Clone)]
struct AdminState {
    monitor: Arc<Monitor>,
    ready: Arc<AtomicBool>,
}

/// The admin router. `ready` turns `/readyz` green once the caller has bound every listener.
pub fn router(monitor: Arc<Monitor>, ready: Arc<AtomicBool>) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/api/v1/health", get(health))
        .route("/api/v1/compliance", get(compliance))
        .route("/api/v1/violations", get(violations))
        .route("/api/v1/traces/{trace_id}/verdict", get(verdict))
        .with_state(AdminState { monitor, ready })
}

/// Errors of the admin API, each with its HTTP status and a JSON body.
#[derive(Debug, thiserror::Error)]
enum AdminError {
    #[error("trace id must be 32 hex digits and not all zero")]
    InvalidTraceId,
    #[error(
        "no verdict for trace {0}: it is still being assembled, was never seen, or was forgotten"
    )]
    VerdictNotFound(TraceId),
    #[error("`since` must be a Unix time in seconds, 0 or more")]
    InvalidSince,
    #[error("metrics could not be encoded")]
    Metrics,
}

impl IntoResponse for AdminError {
    fn into_response(self) -> Response {
        let status = match self {
            AdminError::InvalidTraceId | AdminError::InvalidSince => StatusCode::BAD_REQUEST,
            AdminError::VerdictNotFound(_) => StatusCode::NOT_FOUND,
            AdminError::Metrics => StatusCode::INTERNAL_SERVER_ERROR,
        };
        (
            status,
            Json(serde_json::json!({ "error": self.to_string() })),
        )
            .into_response()
    }
}

async fn readyz(State(state): State<AdminState>) -> (StatusCode, &'static str) {
    if state.ready.load(Ordering::Acquire) {
        (StatusCode::OK, "ready")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "starting")
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

#[derive(Debug, Serialize)]
struct HealthBody {
    health: Health,
    health_score: f64,
    compliance_ratio: f64,
    traces_total: u64,
    rule: &'static str,
}

async fn health(State(state): State<AdminState>) -> Json<HealthBody> {
    let report = state.monitor.compliance();
    Json(HealthBody {
        health: report.health,
        health_score: report.health_score,
        compliance_ratio: report.compliance_ratio,
        traces_total: report.traces_total,
        rule: "score = 100 x mean points of the last 20 verdicts (pass 1, warn 0.75, incomplete 0.5, fail 0); \
               RED if score < 60 or the latest verdict failed a blocking contract, GREEN if score >= 90, else YELLOW",
    })
}

async fn compliance(State(state): State<AdminState>) -> impl IntoResponse {
    Json(state.monitor.compliance())
}

#[derive(Debug, Deserialize)]
struct ViolationsQuery {
    since: Option<f64>,
    limit: Option<usize>,
}

async fn violations(
    State(state): State<AdminState>,
    Query(query): Query<ViolationsQuery>,
) -> Result<impl IntoResponse, AdminError> {
    let since = query.since.unwrap_or(0.0);
    if !(since.is_finite() && since >= 0.0) {
        return Err(AdminError::InvalidSince);
    }
    let since_unix_nano = (since * 1e9) as u64;
    let limit = query
        .limit
        .unwrap_or(MAX_VIOLATIONS_PER_CALL)
        .min(MAX_VIOLATIONS_PER_CALL);
    Ok(Json(state.monitor.violations_since(since_unix_nano, limit)))
}

async fn verdict(
    State(state): State<AdminState>,
    Path(trace_id): Path<String>,
) -> Result<impl IntoResponse, AdminError> {
    let trace_id = TraceId::from_hex(&trace_id).ok_or(AdminError::InvalidTraceId)?;
    let verdict = state
        .monitor
        .verdict(&trace_id)
        .ok_or(AdminError::VerdictNotFound(trace_id))?;
    Ok(Json(verdict))
}
