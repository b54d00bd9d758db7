//! The reporting stage: one report line per parsed session, the report rendered, and written when the run was
//! given a file for it.

use ironforge_proto::semconv::{SpanKind, Stage, attr};
use tracing::info;

use super::state::RunState;
use crate::options::ReplayError;
use crate::otel::int;
use crate::outcome::SessionOutcome;
use crate::report;

#[tracing::instrument(
    name = "reporting",
    skip_all,
    err(Display),
    fields({ attr::SPAN_KIND } = SpanKind::Stage.as_str(), { attr::STAGE } = Stage::Reporting.as_str())
)]
pub(super) fn reporting(state: &mut RunState<'_>) -> Result<(), ReplayError> {
    state.spans += 1;
    let mut lines = Vec::with_capacity(state.planned.len());
    for position in state.parsed().collect::<Vec<_>>() {
        let id = state.planned[position].id.id.clone();
        lines.push(report_session(&state.outcomes[position], &id));
        state.spans += 1;
    }
    state.report = report::render(&state.outcomes, &lines, &state.options.faults.names());
    if let Some(path) = &state.options.report {
        std::fs::write(path, &state.report).map_err(|source| ReplayError::Report {
            path: path.clone(),
            source,
        })?;
        info!(path = %path.display(), bytes = int(state.report.len()), "report written");
    }
    ironforge_instrument::record_memory();
    Ok(())
}

#[tracing::instrument(
    name = "reporting.session",
    skip_all,
    fields(
        { attr::SPAN_KIND } = SpanKind::Session.as_str(),
        { attr::STAGE } = Stage::Reporting.as_str(),
        { attr::SESSION_ID } = id,
    )
)]
fn report_session(outcome: &SessionOutcome, id: &str) -> String {
    report::session_line(outcome)
}
