//! Session graphs, built as IRONFORGE's converter builds them.
//!
//! Every event with a parseable timestamp becomes a node; node ids are unique across the run (IRONFORGE's
//! `NodeIDManager`). Edges:
//!
//! - `TEMPORAL_NEXT` from each node to the next one in time;
//! - `MOVEMENT_TRANSITION` between consecutive nodes that both have a movement type and whose types differ (only
//!   price movements have one);
//! - `LIQ_LINK` from the price movement nearest in time to each liquidity event, when it lies within 30 seconds.
//!
//! The files hold nothing a `CONTEXT` edge could be built from, and IRONFORGE builds none, so neither does the
//! replay: a run never reports that intent, which the monitor is expected to notice.

use ironforge_instrument::GraphFacts;
use ironforge_proto::semconv::{EdgeIntent, EventType};

use crate::events::{Event, session_events};
use crate::features::{
    self, BASE_NODE_FEATURES, EDGE_FEATURES, EdgeEnd, HTF_NODE_FEATURES, SessionContext,
};
use crate::htf::{HtfContext, HtfPoint};
use crate::session::SessionFile;

/// Largest time gap, in seconds, between a liquidity event and the price movement it is linked to.
pub const LIQ_LINK_WINDOW_SECONDS: i64 = 30;

/// Allocates node ids that are unique across the sessions of one run.
#[derive(Debug, Clone)]
pub struct NodeIds {
    next: u64,
}

impl Default for NodeIds {
    fn default() -> Self {
        // IRONFORGE's counter starts at 1.
        NodeIds { next: 1 }
    }
}

impl NodeIds {
    fn take(&mut self) -> u64 {
        let id = self.next;
        self.next += 1;
        id
    }
}

/// A node id together with the session (by position in the run) that owns the node. Session ids can collide,
/// so ownership is by position, not by id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NodeRef {
    /// Position of the owning session in the run.
    pub session: usize,
    /// Run-wide node id.
    pub id: u64,
}

/// What a node is labelled with: a golden event type, or (only through fault injection) anything else.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventLabel {
    /// One of the six golden event types.
    Golden(EventType),
    /// A label outside the golden set.
    Other(String),
}

impl EventLabel {
    /// The wire spelling.
    pub fn as_str(&self) -> &str {
        match self {
            EventLabel::Golden(t) => t.as_str(),
            EventLabel::Other(s) => s,
        }
    }
}

/// One node.
#[derive(Debug, Clone)]
pub struct Node {
    /// Owner and id.
    pub node: NodeRef,
    /// Seconds since the session start.
    pub offset: i64,
    /// Price.
    pub price: f64,
    /// Whether the node is a liquidity event.
    pub liquidity: bool,
    /// Movement type of a price movement.
    pub movement_type: Option<String>,
    /// Event labels.
    pub labels: Vec<EventLabel>,
    /// Node features.
    pub features: Vec<f32>,
}

impl Node {
    fn golden_types(&self) -> Vec<EventType> {
        self.labels
            .iter()
            .filter_map(|l| match l {
                EventLabel::Golden(t) => Some(*t),
                EventLabel::Other(_) => None,
            })
            .collect()
    }
}

/// One edge.
#[derive(Debug, Clone)]
pub struct Edge {
    /// Source.
    pub src: NodeRef,
    /// Destination.
    pub dst: NodeRef,
    /// Intent.
    pub intent: EdgeIntent,
    /// Edge features.
    pub features: Vec<f32>,
}

/// How to build a graph.
#[derive(Debug, Clone, Copy, Default)]
pub struct BuildOptions {
    /// Drop the HTF features from the stored graph even when the session has HTF context (fault injection: 45
    /// instead of 51). They are still computed, so the HTF reads (and the `read_open_candle` fault) stay
    /// independent of this one.
    pub without_htf: bool,
    /// Read HTF features from the candle in progress (fault injection).
    pub read_open_candle: bool,
}

/// The graph of one session.
#[derive(Debug, Clone)]
pub struct SessionGraph {
    /// Position of the session in the run.
    pub session: usize,
    /// Nodes in time order.
    pub nodes: Vec<Node>,
    /// Edges.
    pub edges: Vec<Edge>,
    /// Length of every node's feature vector.
    pub node_feature_dim: usize,
    /// Length of every edge's feature vector.
    pub edge_feature_dim: usize,
    /// HTF feature reads from a candle that had not closed.
    pub htf_open_candle_reads: u64,
    /// Records left out because their timestamp does not parse (or a price movement has no price).
    pub dropped_events: usize,
}

/// Builds the graph of the session at position `session` in the run.
pub fn build_graph(
    session: usize,
    file: &SessionFile,
    ids: &mut NodeIds,
    options: BuildOptions,
) -> SessionGraph {
    let (events, dropped_events) = session_events(file);
    let ctx = SessionContext::new(file, &events);
    let with_htf = file.has_htf_context();
    let keep_htf = with_htf && !options.without_htf;
    let start = file.window().map_or(0, |w| i64::from(w.start.seconds()));
    let mut htf = with_htf.then(|| {
        let points: Vec<HtfPoint> = events
            .iter()
            .map(|e| HtfPoint {
                t: start + e.offset,
                price: e.price,
                liquidity: e.is_liquidity(),
            })
            .collect();
        HtfContext::new(&points, options.read_open_candle)
    });
    let node_feature_dim = BASE_NODE_FEATURES + if keep_htf { HTF_NODE_FEATURES } else { 0 };

    let nodes: Vec<Node> = events
        .iter()
        .map(|event| {
            let mut features = Vec::with_capacity(node_feature_dim);
            features.extend_from_slice(&features::base_node_features(event, &ctx));
            if let Some(htf) = htf.as_mut() {
                let htf_features = htf.features(start + event.offset, event.price);
                if keep_htf {
                    features.extend_from_slice(&htf_features);
                }
            }
            Node {
                node: NodeRef {
                    session,
                    id: ids.take(),
                },
                offset: event.offset,
                price: event.price,
                liquidity: event.is_liquidity(),
                movement_type: event.movement_type().map(str::to_owned),
                labels: event
                    .event_types
                    .iter()
                    .map(|t| EventLabel::Golden(*t))
                    .collect(),
                features,
            }
        })
        .collect();
    let edges = build_edges(&events, &nodes);

    SessionGraph {
        session,
        nodes,
        edges,
        node_feature_dim,
        edge_feature_dim: EDGE_FEATURES,
        htf_open_candle_reads: htf.as_ref().map_or(0, HtfContext::open_candle_reads),
        dropped_events,
    }
}

fn build_edges(events: &[Event<'_>], nodes: &[Node]) -> Vec<Edge> {
    let mut edges = Vec::new();
    let mut push = |src: usize, dst: usize, intent: EdgeIntent| {
        edges.push(edge_between(&nodes[src], &nodes[dst], intent));
    };
    for i in 1..nodes.len() {
        push(i - 1, i, EdgeIntent::TemporalNext);
    }
    for i in 1..nodes.len() {
        if let (Some(a), Some(b)) = (events[i - 1].movement_type(), events[i].movement_type())
            && !a.is_empty()
            && !b.is_empty()
            && a != b
        {
            push(i - 1, i, EdgeIntent::MovementTransition);
        }
    }
    let prices: Vec<usize> = (0..events.len())
        .filter(|&i| !events[i].is_liquidity())
        .collect();
    for liq in (0..events.len()).filter(|&i| events[i].is_liquidity()) {
        // Nearest price movement strictly within the window; the first of equally near ones wins, as in IRONFORGE.
        let mut best: Option<(i64, usize)> = None;
        for &p in &prices {
            let gap = (events[liq].offset - events[p].offset).abs();
            if gap < LIQ_LINK_WINDOW_SECONDS && best.is_none_or(|(g, _)| gap < g) {
                best = Some((gap, p));
            }
        }
        if let Some((_, p)) = best {
            push(p, liq, EdgeIntent::LiqLink);
        }
    }
    edges
}

/// An edge from `src` to `dst` with its features.
pub fn edge_between(src: &Node, dst: &Node, intent: EdgeIntent) -> Edge {
    let (src_types, dst_types) = (src.golden_types(), dst.golden_types());
    let features =
        features::edge_features(edge_end(src, &src_types), edge_end(dst, &dst_types), intent);
    Edge {
        src: src.node,
        dst: dst.node,
        intent,
        features,
    }
}

fn edge_end<'a>(node: &'a Node, event_types: &'a [EventType]) -> EdgeEnd<'a> {
    EdgeEnd {
        price: node.price,
        offset: node.offset,
        liquidity: node.liquidity,
        movement_type: node.movement_type.as_deref(),
        event_types,
    }
}

impl SessionGraph {
    /// The event labels the graph holds: golden ones in their canonical order, then any others sorted.
    pub fn event_types(&self) -> Vec<String> {
        let labels = || self.nodes.iter().flat_map(|n| &n.labels);
        let mut out: Vec<String> = EventType::ALL
            .iter()
            .filter(|t| labels().any(|l| *l == EventLabel::Golden(**t)))
            .map(|t| t.as_str().to_owned())
            .collect();
        let mut others: Vec<String> = labels()
            .filter_map(|l| match l {
                EventLabel::Other(s) => Some(s.clone()),
                EventLabel::Golden(_) => None,
            })
            .collect();
        others.sort();
        others.dedup();
        out.extend(others);
        out
    }

    /// The edge intents the graph holds, in canonical order.
    pub fn edge_intents(&self) -> Vec<EdgeIntent> {
        EdgeIntent::ALL
            .iter()
            .copied()
            .filter(|i| self.edges.iter().any(|e| e.intent == *i))
            .collect()
    }

    /// Edges whose ends lie in two different sessions.
    pub fn cross_session_edges(&self) -> u64 {
        self.edges
            .iter()
            .filter(|e| e.src.session != e.dst.session)
            .count() as u64
    }

    /// Edges with one intent.
    pub fn edges_with(&self, intent: EdgeIntent) -> usize {
        self.edges.iter().filter(|e| e.intent == intent).count()
    }

    /// The facts the monitor checks, as the instrumentation records them.
    pub fn facts(&self) -> GraphFacts {
        GraphFacts {
            event_types: self.event_types(),
            edge_intents: self
                .edge_intents()
                .iter()
                .map(|i| i.as_str().to_owned())
                .collect(),
            node_feature_dim: u32::try_from(self.node_feature_dim).unwrap_or(u32::MAX),
            edge_feature_dim: u32::try_from(self.edge_feature_dim).unwrap_or(u32::MAX),
            cross_session_edges: self.cross_session_edges(),
            htf_open_candle_reads: self.htf_open_candle_reads,
        }
    }

    /// Whether every node and edge has the stated feature dimension.
    pub fn dims_consistent(&self) -> bool {
        self.nodes
            .iter()
            .all(|n| n.features.len() == self.node_feature_dim)
            && self
                .edges
                .iter()
                .all(|e| e.features.len() == self.edge_feature_dim)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::{parse_session, read_session};

    fn fixture(name: &str) -> SessionFile {
        read_session(&std::path::Path::new(crate::DEFAULT_SESSIONS_DIR).join(name)).unwrap()
    }

    #[test]
    fn edges_follow_ironforge_rules() {
        let file = parse_session(
            r#"{"session_metadata": {"session_start": "09:30:00", "session_end": "10:30:00"},
                "price_movements": [
                    {"timestamp": "09:30:00", "price_level": 100.0, "movement_type": "open"},
                    {"timestamp": "09:35:00", "price_level": 101.0, "movement_type": "expansion_high"},
                    {"timestamp": "09:40:00", "price_level": 102.0, "movement_type": "expansion_high"}],
                "session_liquidity_events": [
                    {"timestamp": "09:35:20", "event_type": "redelivery"},
                    {"timestamp": "09:50:00", "event_type": "interaction"}]}"#,
        )
        .unwrap();
        let mut ids = NodeIds::default();
        let g = build_graph(3, &file, &mut ids, BuildOptions::default());
        assert_eq!(g.nodes.len(), 5);
        assert_eq!(g.edges_with(EdgeIntent::TemporalNext), 4);
        assert_eq!(
            g.edges_with(EdgeIntent::MovementTransition),
            1,
            "open -> expansion_high only"
        );
        assert_eq!(
            g.edges_with(EdgeIntent::LiqLink),
            1,
            "09:50 has no price movement within 30 s"
        );
        assert_eq!(g.edges_with(EdgeIntent::Context), 0);
        assert_eq!(g.cross_session_edges(), 0);
        assert_eq!(g.node_feature_dim, 45, "no HTF context in this file");
        assert!(g.dims_consistent());
        assert_eq!(g.nodes[0].node, NodeRef { session: 3, id: 1 });
        let again = build_graph(4, &file, &mut ids, BuildOptions::default());
        assert_eq!(again.nodes[0].node.id, 6, "ids continue across sessions");
    }

    /// Expected figures worked out by hand from the file: 11 price movements and 11 liquidity events (22 nodes);
    /// 21 temporal edges; once sorted, no two consecutive nodes both carry differing movement types (the typed
    /// price movements come in identical pairs separated by liquidity events), so there is no movement transition;
    /// every liquidity event shares its second with a price movement, so each gets a liquidity link. Event types:
    /// `touch opening_expansion_high` and the `level_break`s are expansions, `consolidation_break` is also a
    /// consolidation, `session_high` / `session_low` are reversals.
    #[test]
    fn graph_facts_of_ny_am_2025_07_24() {
        let file = fixture("enhanced_rel_NY_AM_Lvl-1_2025_07_24.json");
        let g = build_graph(0, &file, &mut NodeIds::default(), BuildOptions::default());
        assert_eq!(g.nodes.len(), 22);
        assert_eq!(g.edges_with(EdgeIntent::TemporalNext), 21);
        assert_eq!(g.edges_with(EdgeIntent::LiqLink), 11);
        assert_eq!(g.edges_with(EdgeIntent::MovementTransition), 0);
        assert_eq!(g.edges.len(), 32);
        let facts = g.facts();
        assert_eq!(facts.edge_intents, ["TEMPORAL_NEXT", "LIQ_LINK"]);
        assert_eq!(facts.node_feature_dim, 51);
        assert_eq!(facts.edge_feature_dim, 20);
        assert_eq!(facts.cross_session_edges, 0);
        assert_eq!(facts.htf_open_candle_reads, 0);
        assert_eq!(
            facts.event_types,
            ["Expansion", "Consolidation", "Reversal"]
        );
        assert!(g.dims_consistent());
    }

    #[test]
    fn every_fixture_builds_a_consistent_graph_without_context_edges() {
        let mut ids = NodeIds::default();
        let mut types = std::collections::BTreeSet::new();
        let mut intents = std::collections::BTreeSet::new();
        for (i, entry) in std::fs::read_dir(crate::DEFAULT_SESSIONS_DIR)
            .unwrap()
            .enumerate()
        {
            let file = read_session(&entry.unwrap().path()).unwrap();
            let g = build_graph(i, &file, &mut ids, BuildOptions::default());
            types.extend(g.event_types());
            intents.extend(g.edge_intents());
            assert!(g.dims_consistent());
            assert_eq!(g.node_feature_dim, 51);
            assert_eq!(g.htf_open_candle_reads, 0);
            assert_eq!(g.cross_session_edges(), 0);
            assert_eq!(g.edges_with(EdgeIntent::Context), 0);
            assert!(g.nodes.len() >= 16, "smallest fixture has 16 events");
        }
        assert_eq!(
            types.len(),
            6,
            "the run sees every golden event type: {types:?}"
        );
        let expected = [
            EdgeIntent::TemporalNext,
            EdgeIntent::MovementTransition,
            EdgeIntent::LiqLink,
        ];
        assert_eq!(intents.into_iter().collect::<Vec<_>>(), expected);
    }
}
