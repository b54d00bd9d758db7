//! The instrumented run: init, then discovery, confluence, validation and reporting over every session.
//!
//! One run is one trace:
//!
//! ```text
//! run                      kind=run, run.session_count
//! ├── init                 kind=init
//! ├── discovery            kind=stage  ── discovery.session  × sessions   (graph facts)
//! ├── confluence           kind=stage  ── confluence.session × parsed sessions
//! ├── validation           kind=stage  ── validation.session × parsed sessions (authenticity)
//! └── reporting            kind=stage  ── reporting.session  × parsed sessions
//! ```
//!
//! A session file that fails to parse still gets its discovery session span, which carries the error (file name
//! and cause) and no graph facts; later stages have nothing to work on for it and give it no span. The run carries
//! on with the other sessions. Stage spans record memory when they end; the run span records the
//! instrumentation's overhead and memory just before it ends.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use ironforge_proto::semconv::{EdgeIntent, SpanKind, Stage, attr};
use opentelemetry::trace::TraceContextExt;
use tracing::{debug, error, info, warn};
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::authenticity::{self, Authenticity};
use crate::confluence::{Confluence, ConfluenceIndex, SessionLevels};
use crate::faults::{self, Ballast, Faults, SLOW_SESSION_SLEEP, UNKNOWN_EVENT_TYPE};
use crate::graph::{self, BuildOptions, EventLabel, NodeIds, SessionGraph};
use crate::session::{self, SchemaVariant, SessionFile};
use crate::session_id::{self, IdDerivation, SessionId};
use crate::{repair, report};

/// Where the session fixtures live, relative to this crate.
pub const DEFAULT_SESSIONS_DIR: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../fixtures/ironforge/sessions"
);

/// What to replay and which faults to inject.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplayOptions {
    /// Directory holding `enhanced_*.json` session files.
    pub sessions_dir: PathBuf,
    /// Replay only the first N files (in name order).
    pub sessions_limit: Option<usize>,
    /// Write the report to this file; otherwise it is only returned in the summary.
    pub report: Option<PathBuf>,
    /// Faults to inject.
    pub faults: Faults,
    /// Reference run: repair the sessions' known data defects (see [`crate::repair`]) so that the run passes
    /// every default contract. Faults still apply on top.
    pub reference: bool,
}

impl Default for ReplayOptions {
    fn default() -> Self {
        ReplayOptions {
            sessions_dir: PathBuf::from(DEFAULT_SESSIONS_DIR),
            sessions_limit: None,
            report: None,
            faults: Faults::default(),
            reference: false,
        }
    }
}

/// Why a run could not complete.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// The sessions directory cannot be listed.
    #[error("cannot read the sessions directory {}: {source}", dir.display())]
    SessionsDir {
        /// The directory.
        dir: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// The directory holds no session file.
    #[error("no session files (enhanced_*.json) in {}", dir.display())]
    NoSessions {
        /// The directory.
        dir: PathBuf,
    },
    /// The report cannot be written.
    #[error("cannot write the report {}: {source}", path.display())]
    Report {
        /// The report file.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
}

/// What happened to one session during the run.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionOutcome {
    /// Position in the run, 0-based.
    pub position: usize,
    /// File name.
    pub file: String,
    /// Session id as it appears on spans.
    pub id: String,
    /// Whether the id is the file name as-is because IRONFORGE's rule fails for it.
    pub id_as_is: bool,
    /// Schema variant, once parsed.
    pub variant: Option<SchemaVariant>,
    /// Why the file did not parse.
    pub parse_error: Option<String>,
    /// Graph figures, once built.
    pub graph: Option<GraphSummary>,
    /// Confluence with the other sessions of the day.
    pub confluence: Option<Confluence>,
    /// Authenticity and its counts.
    pub authenticity: Option<Authenticity>,
    /// Time the discovery session span took.
    pub discovery_time: Duration,
}

/// The figures of one session graph.
#[derive(Debug, Clone, PartialEq)]
pub struct GraphSummary {
    /// Nodes.
    pub nodes: usize,
    /// Edges.
    pub edges: usize,
    /// Edges per intent, in [`EdgeIntent::ALL`] order.
    pub edges_by_intent: [usize; 4],
    /// Event types held.
    pub event_types: Vec<String>,
    /// Edge intents held.
    pub edge_intents: Vec<String>,
    /// Node feature dimension.
    pub node_feature_dim: usize,
    /// Edge feature dimension.
    pub edge_feature_dim: usize,
    /// Edges joining two sessions.
    pub cross_session_edges: u64,
    /// HTF reads from an open candle.
    pub htf_open_candle_reads: u64,
    /// Records left out for an unusable timestamp.
    pub dropped_events: usize,
}

impl GraphSummary {
    fn of(graph: &SessionGraph) -> GraphSummary {
        let facts = graph.facts();
        GraphSummary {
            nodes: graph.nodes.len(),
            edges: graph.edges.len(),
            edges_by_intent: std::array::from_fn(|i| {
                EdgeIntent::ALL
                    .get(i)
                    .map_or(0, |intent| graph.edges_with(*intent))
            }),
            event_types: facts.event_types,
            edge_intents: facts.edge_intents,
            node_feature_dim: graph.node_feature_dim,
            edge_feature_dim: graph.edge_feature_dim,
            cross_session_edges: facts.cross_session_edges,
            htf_open_candle_reads: facts.htf_open_candle_reads,
            dropped_events: graph.dropped_events,
        }
    }
}

/// The result of a run.
#[derive(Debug, Clone, PartialEq)]
pub struct RunSummary {
    /// Trace id of the run (32 hex digits), when an OpenTelemetry layer was recording.
    pub trace_id: Option<String>,
    /// Directory the sessions were read from.
    pub sessions_dir: PathBuf,
    /// Every session of the run, in order.
    pub sessions: Vec<SessionOutcome>,
    /// Session ids that occur more than once, with their count.
    pub duplicate_ids: Vec<(String, usize)>,
    /// Spans the run opened (run, init, stages, sessions).
    pub span_count: u64,
    /// Time of the init span.
    pub init_time: Duration,
    /// Time of each stage span.
    pub stage_times: Vec<(Stage, Duration)>,
    /// Time of the whole run span.
    pub total_time: Duration,
    /// Faults injected.
    pub faults: Vec<&'static str>,
    /// Bytes the memory-growth fault held.
    pub ballast_bytes: usize,
    /// The report text.
    pub report: String,
    /// Where the report was written, if anywhere.
    pub report_path: Option<PathBuf>,
}

impl RunSummary {
    /// Sessions the run was given.
    pub fn sessions_given(&self) -> usize {
        self.sessions.len()
    }

    /// Sessions that parsed.
    pub fn sessions_parsed(&self) -> usize {
        self.sessions
            .iter()
            .filter(|s| s.parse_error.is_none())
            .count()
    }

    /// `(file, error)` of each session that did not parse.
    pub fn parse_failures(&self) -> Vec<(&str, &str)> {
        self.sessions
            .iter()
            .filter_map(|s| Some((s.file.as_str(), s.parse_error.as_deref()?)))
            .collect()
    }
}

/// One session file scheduled for the run.
#[derive(Debug, Clone)]
struct Planned {
    path: PathBuf,
    file: String,
    id: SessionId,
}

/// Fault targets resolved to positions.
#[derive(Debug, Clone, Default)]
struct Targets {
    slow_session: Option<usize>,
    target: Option<usize>,
}

/// Everything the stages share.
#[derive(Debug)]
struct RunState<'o> {
    options: &'o ReplayOptions,
    planned: Vec<Planned>,
    targets: Targets,
    files: Vec<Option<SessionFile>>,
    graphs: Vec<Option<SessionGraph>>,
    outcomes: Vec<SessionOutcome>,
    node_ids: NodeIds,
    pending_cross_edge: bool,
    ballast: Ballast,
    spans: u64,
    stage_times: Vec<(Stage, Duration)>,
    report: String,
}

impl RunState<'_> {
    fn parsed(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.planned.len()).filter(|&i| self.files[i].is_some())
    }

    fn is_target(&self, position: usize) -> bool {
        self.targets.target == Some(position)
    }
}

/// Runs the pipeline once over the sessions of `options`, inside the caller's tracing subscriber.
pub fn run(options: &ReplayOptions) -> Result<RunSummary, ReplayError> {
    run_span(options)
}

#[tracing::instrument(
    name = "run",
    skip_all,
    err(Display),
    fields({ attr::SPAN_KIND } = SpanKind::Run.as_str(), { attr::RUN_SESSION_COUNT } = tracing::field::Empty)
)]
fn run_span(options: &ReplayOptions) -> Result<RunSummary, ReplayError> {
    let started = Instant::now();
    let trace_id = current_trace_id();
    let init_started = Instant::now();
    let (planned, targets) = init(options)?;
    let init_time = init_started.elapsed();
    tracing::Span::current().record(attr::RUN_SESSION_COUNT, int(planned.len()));

    let n = planned.len();
    let mut state = RunState {
        options,
        outcomes: planned
            .iter()
            .enumerate()
            .map(|(position, p)| SessionOutcome {
                position,
                file: p.file.clone(),
                id: p.id.id.clone(),
                id_as_is: matches!(p.id.derivation, IdDerivation::AsIs { .. }),
                variant: None,
                parse_error: None,
                graph: None,
                confluence: None,
                authenticity: None,
                discovery_time: Duration::ZERO,
            })
            .collect(),
        planned,
        targets,
        files: vec![None; n],
        graphs: vec![None; n],
        node_ids: NodeIds::default(),
        pending_cross_edge: false,
        ballast: Ballast::default(),
        spans: 2,
        stage_times: Vec::new(),
        report: String::new(),
    };

    timed(&mut state, Stage::Discovery, discovery);
    timed(&mut state, Stage::Confluence, confluence);
    timed(&mut state, Stage::Validation, validation);
    let reporting_started = Instant::now();
    let written = reporting(&mut state);
    state
        .stage_times
        .push((Stage::Reporting, reporting_started.elapsed()));
    written?;

    if let Some(extra) = options.faults.slow_run {
        warn!(
            fault = "slow_run",
            seconds = extra.as_secs_f64(),
            "fault injected: the run sleeps"
        );
        std::thread::sleep(extra);
    }

    ironforge_instrument::record_overhead();
    ironforge_instrument::record_memory();

    let duplicate_ids = session_id::duplicate_ids(state.outcomes.iter().map(|o| o.id.as_str()));
    Ok(RunSummary {
        trace_id,
        sessions_dir: options.sessions_dir.clone(),
        duplicate_ids,
        span_count: state.spans,
        init_time,
        stage_times: state.stage_times,
        total_time: started.elapsed(),
        faults: options.faults.names(),
        ballast_bytes: state.ballast.bytes(),
        report: state.report,
        report_path: options.report.clone(),
        sessions: state.outcomes,
    })
}

fn timed(state: &mut RunState<'_>, stage: Stage, body: fn(&mut RunState<'_>)) {
    let started = Instant::now();
    body(state);
    state.stage_times.push((stage, started.elapsed()));
}

/// A count as a signed integer: OpenTelemetry has no unsigned integers, and the tracing bridge records `u64` and
/// `usize` values as strings.
pub(crate) fn int(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// The trace id of the current span, if an OpenTelemetry layer is recording it.
fn current_trace_id() -> Option<String> {
    let cx = tracing::Span::current().context();
    let span = cx.span();
    let sc = span.span_context();
    sc.is_valid().then(|| sc.trace_id().to_string())
}

#[tracing::instrument(name = "init", skip_all, err(Display), fields({ attr::SPAN_KIND } = SpanKind::Init.as_str()))]
fn init(options: &ReplayOptions) -> Result<(Vec<Planned>, Targets), ReplayError> {
    let dir = &options.sessions_dir;
    let mut paths = list_session_files(dir)?;
    if paths.is_empty() {
        return Err(ReplayError::NoSessions { dir: dir.clone() });
    }
    if let Some(limit) = options.sessions_limit {
        paths.truncate(limit);
    }
    let planned: Vec<Planned> = paths
        .into_iter()
        .map(|path| {
            let file = session::display_name(&path);
            let id = if options.reference {
                session_id::derive_distinct_session_id(&file)
            } else {
                session_id::derive_session_id(&file)
            };
            if let IdDerivation::AsIs { reason } = &id.derivation {
                warn!(file = %file, session_id = %id.id, reason = %reason, "IRONFORGE cannot derive a session id; using the file name as-is");
            }
            Planned { path, file, id }
        })
        .collect();

    for (id, count) in session_id::duplicate_ids(planned.iter().map(|p| p.id.id.as_str())) {
        warn!(session_id = %id, count = int(count), "session id occurs more than once in this run");
    }

    let ids = || planned.iter().map(|p| p.id.id.as_str());
    let faults = &options.faults;
    let targets = Targets {
        slow_session: faults.slow_session.as_ref().and_then(|s| s.resolve(ids())),
        target: faults.target.resolve(ids()),
    };
    if let Some(selector) = &faults.slow_session
        && targets.slow_session.is_none()
    {
        warn!(selector = %selector, "slow-session fault names no session of this run");
    }
    if faults.any() {
        if targets.target.is_none() {
            warn!(selector = %faults.target, "fault target names no session of this run");
        }
        info!(faults = ?faults.names(), target = ?targets.target, "faults to inject");
    }
    info!(sessions = int(planned.len()), dir = %dir.display(), reference = options.reference, "sessions planned");
    ironforge_instrument::record_memory();
    Ok((planned, targets))
}

/// The `enhanced_*.json` files of a directory, sorted by name.
fn list_session_files(dir: &Path) -> Result<Vec<PathBuf>, ReplayError> {
    let entries = std::fs::read_dir(dir).map_err(|source| ReplayError::SessionsDir {
        dir: dir.to_owned(),
        source,
    })?;
    let mut paths: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            let name = session::display_name(p);
            name.starts_with(session_id::ENHANCED_PREFIX) && name.ends_with(".json") && p.is_file()
        })
        .collect();
    paths.sort();
    Ok(paths)
}

#[tracing::instrument(
    name = "discovery",
    skip_all,
    fields({ attr::SPAN_KIND } = SpanKind::Stage.as_str(), { attr::STAGE } = Stage::Discovery.as_str())
)]
fn discovery(state: &mut RunState<'_>) {
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
    let planned = &state.planned[position];
    let file = match session::read_session(&planned.path) {
        Ok(file) if state.options.reference => {
            let (file, repairs) = repair::repair_session(&file);
            repairs.log();
            file
        }
        Ok(file) => file,
        Err(e) => {
            error!(file = %planned.file, error = %e, "session file does not parse; the run goes on without it");
            state.outcomes[position].parse_error = Some(e.to_string());
            return;
        }
    };
    let variant = file.variant();
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
    let mut graph = graph::build_graph(position, &file, &mut state.node_ids, options);
    if state.options.reference {
        repair::add_context_edges(&mut graph, &file);
    }

    if faults.unknown_event_type && is_target {
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
    if faults.cross_session_edge && is_target {
        state.pending_cross_edge = true;
    }
    if state.pending_cross_edge {
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

#[tracing::instrument(
    name = "confluence",
    skip_all,
    fields({ attr::SPAN_KIND } = SpanKind::Stage.as_str(), { attr::STAGE } = Stage::Confluence.as_str())
)]
fn confluence(state: &mut RunState<'_>) {
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
fn validation(state: &mut RunState<'_>) {
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

#[tracing::instrument(
    name = "reporting",
    skip_all,
    err(Display),
    fields({ attr::SPAN_KIND } = SpanKind::Stage.as_str(), { attr::STAGE } = Stage::Reporting.as_str())
)]
fn reporting(state: &mut RunState<'_>) -> Result<(), ReplayError> {
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
