//! The reference run: the real sessions with their known defects repaired inside the replayed pipeline, so that
//! the run passes every contract of the processor's default contract file.
//!
//! The ordinary run replays the data and IRONFORGE's converter as they are, defects included, and fails
//! `pattern_authenticity`, `run_mean_authenticity`, `unique_session_ids`, `sessions_complete` and
//! `edge_intents_complete`. The reference run removes each defect where it arises; every span is still emitted
//! and every session still processed:
//!
//! | defect | contracts it breaks | repair |
//! |---|---|---|
//! | `NY_AM` and `NY_PM` both become `NY` (five ids twice) | `unique_session_ids`, `sessions_complete` | [`crate::session_id::derive_distinct_session_id`] keeps the whole session type |
//! | the `…_FRESH` file has no date where IRONFORGE looks | (its id is the file name) | the same function finds its date |
//! | events repeated by the recovery pass (236) | `pattern_authenticity`, `run_mean_authenticity` | each repeat is dropped; the first stays |
//! | `12:00:00` placeholder timestamps (161) | the same | the event is dropped: it has no real time to place it at |
//! | timestamps outside the session window (237, mostly the `12:30:00` of recovered files) | the same | the event is dropped: it belongs to no time of this session |
//! | price movements without `movement_type` (300) | the same | the type is filled in from the `action` and `context` text the event types were read from already |
//! | no `CONTEXT` edge (the converter builds none) | `edge_intents_complete` | [`add_context_edges`]: an edge from the event that closed the last closed H1 candle to each event reading its HTF context |
//!
//! What was repaired is counted per session ([`DataRepairs`]) and logged on the discovery session span.

use std::collections::HashSet;

use ironforge_proto::semconv::EdgeIntent;
use tracing::info;

use crate::authenticity::{liquidity_key, price_key};
use crate::events::untyped_description;
use crate::graph::{self, SessionGraph};
use crate::htf::H1;
use crate::otel::int;
use crate::session::{ClockTime, SessionFile};

/// What the repairs changed in one session file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DataRepairs {
    /// Events dropped as exact repeats of an earlier one.
    pub duplicates_dropped: usize,
    /// Events dropped for the `12:00:00` placeholder timestamp.
    pub placeholders_dropped: usize,
    /// Events dropped for a timestamp outside the session window (or one that does not parse).
    pub out_of_window_dropped: usize,
    /// Price movements whose `movement_type` was filled in.
    pub movement_types_filled: usize,
}

impl DataRepairs {
    /// Whether anything was repaired.
    pub fn any(&self) -> bool {
        *self != DataRepairs::default()
    }

    /// Logs the counts as an event of the current span (the discovery session's).
    pub fn log(&self) {
        if self.any() {
            info!(
                duplicates_dropped = int(self.duplicates_dropped),
                placeholders_dropped = int(self.placeholders_dropped),
                out_of_window_dropped = int(self.out_of_window_dropped),
                movement_types_filled = int(self.movement_types_filled),
                "reference run: session data repaired"
            );
        }
    }
}

/// Why an event cannot be kept.
enum Unusable {
    Placeholder,
    OutOfWindow,
    Repeat,
}

/// The session with the data defects repaired, and what was changed.
pub fn repair_session(file: &SessionFile) -> (SessionFile, DataRepairs) {
    let window = file.window();
    let mut repairs = DataRepairs::default();
    let mut seen: HashSet<String> = HashSet::new();
    // The same checks as authenticity, in the same order, so that what is kept scores as clean.
    let mut verdict = |timestamp: Option<&str>, key: String| {
        let time = timestamp.and_then(ClockTime::parse);
        let unusable = match time {
            Some(ClockTime::PLACEHOLDER) => Some(Unusable::Placeholder),
            Some(t) if window.is_some_and(|w| w.contains(t)) => None,
            _ => Some(Unusable::OutOfWindow),
        }
        .or_else(|| (!seen.insert(key)).then_some(Unusable::Repeat));
        match unusable {
            None => true,
            Some(Unusable::Placeholder) => {
                repairs.placeholders_dropped += 1;
                false
            }
            Some(Unusable::OutOfWindow) => {
                repairs.out_of_window_dropped += 1;
                false
            }
            Some(Unusable::Repeat) => {
                repairs.duplicates_dropped += 1;
                false
            }
        }
    };
    let mut repaired = file.clone();
    repaired
        .price_movements
        .retain(|pm| verdict(pm.timestamp.as_deref(), price_key(pm)));
    repaired
        .session_liquidity_events
        .retain(|le| verdict(le.timestamp.as_deref(), liquidity_key(le)));
    for pm in &mut repaired.price_movements {
        if pm.movement_type.is_none() {
            pm.movement_type = Some(untyped_description(pm));
            repairs.movement_types_filled += 1;
        }
    }
    (repaired, repairs)
}

/// Adds `CONTEXT` edges to a session graph: from the last event of the last closed H1 candle to each later event,
/// which is the candle its HTF features (f49, f50) are read from. Edges stay inside the session. Returns how many
/// were added.
pub fn add_context_edges(graph: &mut SessionGraph, file: &SessionFile) -> usize {
    let start = file.window().map_or(0, |w| i64::from(w.start.seconds()));
    let candle = |offset: i64| (start + offset).div_euclid(H1);
    let mut closed_by: Option<usize> = None;
    let mut added = Vec::new();
    for i in 1..graph.nodes.len() {
        let (previous, node) = (&graph.nodes[i - 1], &graph.nodes[i]);
        if candle(previous.offset) != candle(node.offset) {
            closed_by = Some(i - 1);
        }
        if let Some(source) = closed_by {
            added.push(graph::edge_between(
                &graph.nodes[source],
                node,
                EdgeIntent::Context,
            ));
        }
    }
    let count = added.len();
    graph.edges.extend(added);
    count
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::authenticity;
    use crate::graph::{BuildOptions, NodeIds, build_graph};
    use crate::session::{parse_session, read_session};

    #[test]
    fn each_defect_is_repaired_and_counted() {
        let file = parse_session(
            r#"{"session_metadata": {"session_start": "09:30:00", "session_end": "11:59:00"},
                "price_movements": [
                    {"timestamp": "09:30:00", "price_level": 1.0, "movement_type": "open"},
                    {"timestamp": "12:00:00", "price_level": 2.0, "movement_type": "session_high"},
                    {"timestamp": "12:30:00", "price_level": 3.0, "movement_type": "session_low"},
                    {"timestamp": "10:00:00", "price_level": 4.0, "action": "sweep", "context": "low taken"},
                    {"timestamp": "09:30:00", "price_level": 1.0, "movement_type": "open"}],
                "session_liquidity_events": [
                    {"timestamp": "10:00:00", "event_type": "redelivery"},
                    {"timestamp": "10:00:00", "event_type": "redelivery"}]}"#,
        )
        .unwrap();
        assert!(authenticity::score(&file).score < 0.87);
        let (repaired, repairs) = repair_session(&file);
        assert_eq!(
            repairs,
            DataRepairs {
                duplicates_dropped: 2,
                placeholders_dropped: 1,
                out_of_window_dropped: 1,
                movement_types_filled: 1,
            }
        );
        assert_eq!(repaired.price_movements.len(), 2);
        assert_eq!(
            repaired.price_movements[1].movement_type.as_deref(),
            Some("sweep low taken")
        );
        assert_eq!(authenticity::score(&repaired).score, 1.0);
        assert!(
            !repair_session(&repaired).1.any(),
            "a repaired file needs no repair"
        );
    }

    #[test]
    fn every_fixture_repairs_to_full_authenticity_with_context_edges() {
        let mut context_edges = 0;
        let mut ids = NodeIds::default();
        for (i, entry) in std::fs::read_dir(crate::DEFAULT_SESSIONS_DIR)
            .unwrap()
            .enumerate()
        {
            let (file, _) = repair_session(&read_session(&entry.unwrap().path()).unwrap());
            assert_eq!(authenticity::score(&file).score, 1.0);
            let mut g = build_graph(i, &file, &mut ids, BuildOptions::default());
            let added = add_context_edges(&mut g, &file);
            assert_eq!(g.edges_with(EdgeIntent::Context), added);
            assert_eq!(g.cross_session_edges(), 0);
            assert!(g.dims_consistent());
            context_edges += added;
        }
        assert!(context_edges > 0);
    }
}
