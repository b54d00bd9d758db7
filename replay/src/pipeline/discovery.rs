//! The discovery stage: each session file read (and repaired in a reference run) and built into its graph, with
//! the faults that act on discovery injected on the way.

use std::time::Instant;

use ironforge_proto::semconv::{EdgeIntent, SpanKind, Stage, attr};
use tracing::{debug, error, info, warn};

use super::state::RunState;
use crate::faults::{self, SLOW_SESSION_SLEEP, UNKNOWN_EVENT_TYPE};
use crate::graph::{self, BuildOptions, EventLabel, SessionGraph};
use crate::otel::int;
use crate::outcome::GraphSummary;
use crate::repair;
use crate::session::{self, SessionFile};

#[tracing::instrument(
    name = "discovery",
    skip_all,
    fields({ attr::SPAN_KIND } = SpanKind::Stage.as_str(), { attr::STAGE } = Stage::Discovery.as_str())
)]
pub(super) fn discovery(state: &mut RunState<'_>) {
    state.spans += 1;
    for position in 0..state.planned.len() {
        let id = state.planned[position].id.id.clone();
        let started = Instant::now();
        discover_session(state, position, &id);
        state.outcomes[position].discovery_time = started.elapsed();
    }
    let parsed = state.parsed().count();
    info!(
        sessions = int(state.planned.len()),
        parsed = int(parsed),
        "discovery done"
    );
    ironforge_instrument::record_memory();
}

#[tracing::instrument(
    name = "discovery.session",
    skip_all,
    fields(
        { attr::SPAN_KIND } = SpanKind::Session.as_str(),
        { attr::STAGE } = Stage::Discovery.as_str(),
        { attr::SESSION_ID } = id,
    )
)]
fn discover_session(state: &mut RunState<'_>, position: usize, id: &str) {
    state.spans += 1;
    inject_discovery_faults(state, position);
    let Some(file) = read_session(state, position) else {
        return;
    };
    let variant = file.variant();
    let mut graph = build_session_graph(state, position, &file);

    let faults = &state.options.faults;
    let is_target = state.is_target(position);
    if faults.unknown_event_type && is_target {
        label_unknown_event_type(&mut graph);
    }
    if faults.cross_session_edge && is_target {
        state.pending_cross_edge = true;
    }
    if state.pending_cross_edge {
        join_previous_session(state, position, &mut graph);
    }

    let facts = graph.facts();
    ironforge_instrument::record_graph(&facts);
    // Per-session detail: the graph's facts are on the span already; the console stays readable.
    debug!(
        variant = variant.as_str(),
        nodes = int(graph.nodes.len()),
        edges = int(graph.edges.len()),
        dropped_events = int(graph.dropped_events),
        "graph built"
    );

    state.outcomes[position].variant = Some(variant);
    state.outcomes[position].graph = Some(GraphSummary::of(&graph));
    state.graphs[position] = Some(graph);
    state.files[position] = Some(file);
}

/// The session's file, repaired in a reference run; `None`, with the cause on its outcome, when it does not parse.
fn read_session(state: &mut RunState<'_>, position: usize) -> Option<SessionFile> {
    let planned = &state.planned[position];
    match session::read_session(&planned.path) {
        Ok(file) if state.options.reference => {
            let (file, repairs) = repair::repair_session(&file);
            repairs.log();
            Some(file)
        }
        Ok(file) => Some(file),
        Err(e) => {
            error!(file = %planned.file, error = %e, "session file does not parse; the run goes on without it");
            state.outcomes[position].parse_error = Some(e.to_string());
            None
        }
    }
}

/// The session's graph, with the faults that change how it is built and, in a reference run, its CONTEXT edges.
fn build_session_graph(
    state: &mut RunState<'_>,
    position: usize,
    file: &SessionFile,
) -> SessionGraph {
    let faults = &state.options.faults;
    let is_target = state.is_target(position);
    let options = BuildOptions {
        without_htf: faults.wrong_feature_dim && is_target,
        read_open_candle: faults.open_candle_read && is_target,
    };
    if options.without_htf {
        warn!(
            fault = "wrong_feature_dim",
            "fault injected: HTF features left out of the graph"
        );
    }
    if options.read_open_candle {
        warn!(
            fault = "open_candle_read",
            "fault injected: HTF features read from the candle in progress"
        );
    }
    let mut graph = graph::build_graph(position, file, &mut state.node_ids, options);
    if state.options.reference {
        repair::add_context_edges(&mut graph, file);
    }
    graph
}

/// The `unknown_event_type` fault: the first node also gets a label outside the six event types.
fn label_unknown_event_type(graph: &mut SessionGraph) {
    match graph.nodes.first_mut() {
        Some(node) => {
            node.labels
                .push(EventLabel::Other(UNKNOWN_EVENT_TYPE.to_owned()));
            warn!(
                fault = "unknown_event_type",
                label = UNKNOWN_EVENT_TYPE,
                "fault injected: unknown event type"
            );
        }
        None => warn!(
            fault = "unknown_event_type",
            "fault not injected: the session has no nodes"
        ),
    }
}

/// The `cross_session_edge` fault: an edge from the last node of the latest earlier graph to this graph's first
/// node. While no earlier session has a node, the edge stays pending for the next session.
fn join_previous_session(state: &mut RunState<'_>, position: usize, graph: &mut SessionGraph) {
    let previous = state.graphs[..position]
        .iter()
        .rev()
        .flatten()
        .find_map(|g| g.nodes.last());
    match (previous, graph.nodes.first()) {
        (Some(prev), Some(first)) => {
            let edge = graph::edge_between(prev, first, EdgeIntent::TemporalNext);
            graph.edges.push(edge);
            state.pending_cross_edge = false;
            warn!(
                fault = "cross_session_edge",
                "fault injected: an edge joins this session to the previous one"
            );
        }
        _ => info!(
            fault = "cross_session_edge",
            "no earlier session to join; the next session gets the edge"
        ),
    }
}

/// The faults that act on a discovery session span whether or not its file parses: memory growth and the slow
/// session.
fn inject_discovery_faults(state: &mut RunState<'_>, position: usize) {
    let faults = &state.options.faults;
    if let Some(mb) = faults.memory_growth_mb {
        let total = usize::try_from(mb)
            .unwrap_or(usize::MAX)
            .saturating_mul(1 << 20);
        // Spread over the sessions so memory climbs through discovery instead of jumping once.
        state
            .ballast
            .grow(faults::share(total, state.planned.len(), position));
        ironforge_instrument::record_memory();
    }
    if state.targets.slow_session == Some(position) {
        warn!(
            fault = "slow_session",
            seconds = SLOW_SESSION_SLEEP.as_secs_f64(),
            "fault injected: slow session"
        );
        std::thread::sleep(SLOW_SESSION_SLEEP);
    }
}
