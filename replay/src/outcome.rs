//! What a run produced, session by session and in total: the pipeline fills it in, the report and the binary read
//! it.

use std::path::PathBuf;
use std::time::Duration;

use ironforge_proto::semconv::{EdgeIntent, Stage};

use crate::authenticity::Authenticity;
use crate::confluence::Confluence;
use crate::graph::SessionGraph;
use crate::session::SchemaVariant;

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
    pub(crate) fn of(graph: &SessionGraph) -> GraphSummary {
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
