//! The confluence and validation stages: every parsed session scored against the other sessions of its day, then
//! for the authenticity of its data.

use ironforge_proto::semconv::{SpanKind, Stage, attr};
use tracing::{debug, info, warn};

use super::state::RunState;
use crate::authenticity::{self, Authenticity};
use crate::confluence::{Confluence, ConfluenceIndex, SessionLevels};
use crate::otel::int;
use crate::session::SessionFile;

#[tracing::instrument(
    name = "confluence",
    skip_all,
    fields({ attr::SPAN_KIND } = SpanKind::Stage.as_str(), { attr::STAGE } = Stage::Confluence.as_str())
)]
pub(super) fn confluence(state: &mut RunState<'_>) {
    state.spans += 1;
    let levels: Vec<SessionLevels> = state
        .parsed()
        .map(|i| SessionLevels {
            session: i,
            date: state.files[i]
                .as_ref()
                .and_then(|f| f.session_metadata.session_date.clone()),
            levels: state.graphs[i]
                .iter()
                .flat_map(|g| g.nodes.iter().filter(|n| !n.liquidity).map(|n| n.price))
                .collect(),
        })
        .collect();
    let index = ConfluenceIndex::new(&levels);
    for position in state.parsed().collect::<Vec<_>>() {
        let id = state.planned[position].id.id.clone();
        state.outcomes[position].confluence = Some(confluence_session(&index, position, &id));
        state.spans += 1;
    }
    ironforge_instrument::record_memory();
}

#[tracing::instrument(
    name = "confluence.session",
    skip_all,
    fields(
        { attr::SPAN_KIND } = SpanKind::Session.as_str(),
        { attr::STAGE } = Stage::Confluence.as_str(),
        { attr::SESSION_ID } = id,
    )
)]
fn confluence_session(index: &ConfluenceIndex, position: usize, id: &str) -> Confluence {
    let c = index.score(position);
    debug!(
        score = c.score,
        levels = int(c.levels),
        matched = int(c.matched),
        peers = int(c.peers),
        "confluence scored"
    );
    c
}

#[tracing::instrument(
    name = "validation",
    skip_all,
    fields({ attr::SPAN_KIND } = SpanKind::Stage.as_str(), { attr::STAGE } = Stage::Validation.as_str())
)]
pub(super) fn validation(state: &mut RunState<'_>) {
    state.spans += 1;
    for position in state.parsed().collect::<Vec<_>>() {
        let id = state.planned[position].id.id.clone();
        let corrupt = state.options.faults.low_authenticity && state.is_target(position);
        if let Some(file) = &state.files[position] {
            state.outcomes[position].authenticity = Some(validate_session(file, corrupt, &id));
            state.spans += 1;
        }
    }
    ironforge_instrument::record_memory();
}

#[tracing::instrument(
    name = "validation.session",
    skip_all,
    fields(
        { attr::SPAN_KIND } = SpanKind::Session.as_str(),
        { attr::STAGE } = Stage::Validation.as_str(),
        { attr::SESSION_ID } = id,
    )
)]
fn validate_session(file: &SessionFile, corrupt: bool, id: &str) -> Authenticity {
    let a = if corrupt {
        warn!(
            fault = "low_authenticity",
            "fault injected: every timestamp replaced by the 12:00:00 placeholder"
        );
        authenticity::score(&with_placeholder_timestamps(file))
    } else {
        authenticity::score(file)
    };
    ironforge_instrument::record_authenticity(a.score);
    let defects = a.placeholder_timestamps
        + a.out_of_window
        + a.missing_movement_type
        + a.duplicates
        + a.unparseable_timestamps;
    if defects > 0 {
        warn!(
            score = a.score,
            events = int(a.events),
            clean = int(a.clean),
            placeholder_timestamps = int(a.placeholder_timestamps),
            out_of_window = int(a.out_of_window),
            missing_movement_type = int(a.missing_movement_type),
            duplicates = int(a.duplicates),
            unparseable_timestamps = int(a.unparseable_timestamps),
            "session data defects"
        );
    } else {
        info!(
            score = a.score,
            events = int(a.events),
            "session data clean"
        );
    }
    a
}

/// A copy of the session with every timestamp set to the placeholder (the `low_authenticity` fault).
fn with_placeholder_timestamps(file: &SessionFile) -> SessionFile {
    let placeholder = || Some("12:00:00".to_owned());
    let mut copy = file.clone();
    copy.price_movements
        .iter_mut()
        .for_each(|p| p.timestamp = placeholder());
    copy.session_liquidity_events
        .iter_mut()
        .for_each(|l| l.timestamp = placeholder());
    copy
}
