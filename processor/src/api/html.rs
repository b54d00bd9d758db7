//! The admin port's HTML pages, drawn by the same renderer as `check --format html`:
//!
//! | path | page |
//! |---|---|
//! | `GET /` | overview: health per pipeline, recent runs, active violations, compliance, stage trends |
//! | `GET /runs/{trace_id}` | one run: verdict, violations, waterfall, limits, plan; 404 page when unknown |
//! | `GET /flame` | critical-path flame graph over the runs the analysis keeps |

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;

use crate::analysis::answers;
use crate::model::TraceId;
use crate::monitor::Monitor;
use ironforge_report::check::{Limits, TraceReport};
use ironforge_report::html::{self, Links, Overview};

/// Runs the overview lists and the flame graph sums.
const RECENT_RUNS: usize = 50;
/// Violations decided this recently are active.
const ACTIVE_WINDOW: Duration = Duration::from_secs(3600);
/// Active violations read for the overview: as many as the monitor keeps. The page lists one row per
/// contract, so its size does not grow with them, and counting every one keeps its figures those of the
/// compliance table.
const ACTIVE_READ: usize = usize::MAX;

/// The pages, to merge into the admin router.
pub(crate) fn router(monitor: Arc<Monitor>) -> Router {
    Router::new()
        .route("/", get(overview))
        .route("/runs/{trace_id}", get(run))
        .route("/flame", get(flame))
        .with_state(monitor)
}

/// An HTML answer with the policy that keeps the page from fetching anything.
fn page(status: StatusCode, body: String) -> Response {
    let mut response = (status, Html(body)).into_response();
    response.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(html::CONTENT_SECURITY_POLICY),
    );
    response
}

/// The recent analysed runs that still have a verdict, oldest first.
fn recent_runs(monitor: &Monitor) -> Vec<TraceReport> {
    let Some(analyst) = monitor.outputs().analysis() else {
        return Vec::new();
    };
    let analyses = analyst.view().recent(RECENT_RUNS);
    analyses
        .into_iter()
        .filter_map(|analysis| {
            let mut report = TraceReport::new(monitor.verdict(&analysis.trace_id)?, Vec::new());
            report.analysis = Some((*analysis).clone());
            Some(report)
        })
        .collect()
}

async fn overview(State(monitor): State<Arc<Monitor>>) -> Response {
    let health = monitor.compliance();
    let runs = recent_runs(&monitor);
    let since = SystemTime::now()
        .checked_sub(ACTIVE_WINDOW)
        .and_then(|time| time.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |since| {
            u64::try_from(since.as_nanos()).unwrap_or(u64::MAX)
        });
    let mut violations = monitor.outputs().violations_since(since, ACTIVE_READ);
    violations.reverse();
    let body = html::overview_page(&Overview {
        health: &health,
        runs: &runs,
        violations: &violations,
        violations_left_out: 0,
        active_scope: "decided in the last hour",
        compliance_scope: "since the monitor started",
        links: Links::Pages,
    });
    page(StatusCode::OK, body)
}

async fn run(State(monitor): State<Arc<Monitor>>, Path(trace_id): Path<String>) -> Response {
    let Some(id) = TraceId::from_hex(&trace_id) else {
        return page(
            StatusCode::NOT_FOUND,
            html::not_found_page("A trace id is 32 hex digits, not all zero."),
        );
    };
    let Ok(verdict) = monitor.find_verdict(&id) else {
        return page(
            StatusCode::NOT_FOUND,
            html::not_found_page(&format!(
                "No verdict for trace {id}: it is still being assembled, was never seen, or was forgotten."
            )),
        );
    };
    let mut report = TraceReport::new(verdict, Vec::new());
    report.analysis = answers::trace(monitor.outputs().analysis(), &id)
        .ok()
        .map(|analysis| (*analysis).clone());
    let limits = Limits::from_contracts(&monitor.contracts());
    page(StatusCode::OK, html::run_page(&report, &limits))
}

async fn flame(State(monitor): State<Arc<Monitor>>) -> Response {
    let analyses = monitor
        .outputs()
        .analysis()
        .map(|analyst| analyst.view().recent(RECENT_RUNS))
        .unwrap_or_default();
    let graph = html::flame_graph(analyses.iter().map(|analysis| &**analysis));
    page(StatusCode::OK, html::flame_page(&graph))
}
