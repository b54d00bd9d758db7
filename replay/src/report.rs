//! The plain-text report the reporting stage writes.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use ironforge_proto::semconv::{EdgeIntent, EventType};

use crate::authenticity::Authenticity;
use crate::outcome::SessionOutcome;
use crate::session::SchemaVariant;
use crate::session_id;

/// The authenticity a production pattern must exceed.
const AUTHENTICITY_THRESHOLD: f64 = 0.87;

/// One line of the per-session table.
pub fn session_line(o: &SessionOutcome) -> String {
    let variant = o.variant.map_or("-", SchemaVariant::as_str);
    let (nodes, edges, dim) = o
        .graph
        .as_ref()
        .map_or((0, 0, 0), |g| (g.nodes, g.edges, g.node_feature_dim));
    let authenticity = o
        .authenticity
        .map_or_else(|| "-".to_owned(), |a| format!("{:.3}", a.score));
    let confluence = o
        .confluence
        .map_or_else(|| "-".to_owned(), |c| format!("{:.3}", c.score));
    let defects = o.authenticity.map_or_else(String::new, |a| {
        format!(
            "placeholder {} out-of-window {} untyped {} duplicate {}",
            a.placeholder_timestamps, a.out_of_window, a.missing_movement_type, a.duplicates
        )
    });
    format!(
        "{:>3} {:<28} {:<15} {:>5} {:>5} {:>3} {:>6} {:>6} {:>7.3}s  {}",
        o.position,
        o.id,
        variant,
        nodes,
        edges,
        dim,
        authenticity,
        confluence,
        o.discovery_time.as_secs_f64(),
        defects
    )
}

/// The whole report: run totals, then one line per parsed session, then the failures.
pub fn render(outcomes: &[SessionOutcome], lines: &[String], faults: &[&str]) -> String {
    let mut out = String::new();
    let parsed: Vec<&SessionOutcome> = outcomes
        .iter()
        .filter(|o| o.parse_error.is_none())
        .collect();
    write_sessions(&mut out, outcomes, &parsed);
    write_data_defects(&mut out, &parsed);
    write_graphs(&mut out, &parsed);
    let faults: Vec<String> = faults.iter().map(|f| (*f).to_owned()).collect();
    let _ = writeln!(out, "faults injected: {}", none_or(&faults));

    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "{:>3} {:<28} {:<15} {:>5} {:>5} {:>3} {:>6} {:>6} {:>8}  defects",
        "#", "session id", "variant", "nodes", "edges", "dim", "auth", "conf", "discover"
    );
    for line in lines {
        let _ = writeln!(out, "{line}");
    }
    for o in outcomes.iter().filter(|o| o.parse_error.is_some()) {
        let _ = writeln!(
            out,
            "{:>3} {:<28} FAILED: {}",
            o.position,
            o.id,
            o.parse_error.as_deref().unwrap_or("")
        );
    }
    out
}

/// The title, then the sessions: how many parsed, their schema variants, and their ids' problems.
fn write_sessions(out: &mut String, outcomes: &[SessionOutcome], parsed: &[&SessionOutcome]) {
    let _ = writeln!(out, "IRONFORGE replay report");
    let _ = writeln!(
        out,
        "sessions: {} given, {} parsed",
        outcomes.len(),
        parsed.len()
    );

    let mut variants: BTreeMap<SchemaVariant, usize> = BTreeMap::new();
    for v in parsed.iter().filter_map(|o| o.variant) {
        *variants.entry(v).or_default() += 1;
    }
    let variants: Vec<String> = variants.iter().map(|(v, n)| format!("{v} {n}")).collect();
    let _ = writeln!(out, "schema variants: {}", variants.join(", "));

    let duplicates = session_id::duplicate_ids(outcomes.iter().map(|o| o.id.as_str()));
    let duplicates: Vec<String> = duplicates
        .iter()
        .map(|(id, n)| format!("{id} x{n}"))
        .collect();
    let _ = writeln!(out, "duplicate session ids: {}", none_or(&duplicates));
    let as_is: Vec<String> = outcomes
        .iter()
        .filter(|o| o.id_as_is)
        .map(|o| o.id.clone())
        .collect();
    let _ = writeln!(
        out,
        "ids kept as-is (IRONFORGE cannot derive one): {}",
        none_or(&as_is)
    );
}

/// The events' defects summed over the parsed sessions, and the spread of their authenticity.
fn write_data_defects(out: &mut String, parsed: &[&SessionOutcome]) {
    let scored: Vec<_> = parsed.iter().filter_map(|o| o.authenticity).collect();
    let sum = |f: fn(&Authenticity) -> usize| scored.iter().map(f).sum::<usize>();
    let _ = writeln!(
        out,
        "events: {} (placeholder 12:00:00 {}, outside window {}, no movement_type {}, duplicates {}, unparseable {})",
        sum(|a| a.events),
        sum(|a| a.placeholder_timestamps),
        sum(|a| a.out_of_window),
        sum(|a| a.missing_movement_type),
        sum(|a| a.duplicates),
        sum(|a| a.unparseable_timestamps)
    );
    let mut scores: Vec<f64> = scored.iter().map(|a| a.score).collect();
    scores.sort_by(f64::total_cmp);
    if let (Some(min), Some(max)) = (scores.first(), scores.last()) {
        let mean = scores.iter().sum::<f64>() / scores.len() as f64;
        let median = scores[scores.len() / 2];
        let passing = scores
            .iter()
            .filter(|s| **s > AUTHENTICITY_THRESHOLD)
            .count();
        let _ = writeln!(
            out,
            "authenticity: min {min:.3}, median {median:.3}, mean {mean:.3}, max {max:.3}; \
             above {AUTHENTICITY_THRESHOLD}: {passing} of {}",
            scores.len()
        );
    }
}

/// The graphs' sizes and edges per intent, and the event types and edge intents no graph of the run holds.
fn write_graphs(out: &mut String, parsed: &[&SessionOutcome]) {
    let graphs: Vec<_> = parsed.iter().filter_map(|o| o.graph.as_ref()).collect();
    let nodes: Vec<usize> = graphs.iter().map(|g| g.nodes).collect();
    let edges: usize = graphs.iter().map(|g| g.edges).sum();
    let by_intent: Vec<String> = EdgeIntent::ALL
        .iter()
        .enumerate()
        .map(|(i, intent)| {
            format!(
                "{intent} {}",
                graphs.iter().map(|g| g.edges_by_intent[i]).sum::<usize>()
            )
        })
        .collect();
    let _ = writeln!(
        out,
        "graphs: {} nodes (per session {}..{}), {} edges ({})",
        nodes.iter().sum::<usize>(),
        nodes.iter().min().unwrap_or(&0),
        nodes.iter().max().unwrap_or(&0),
        edges,
        by_intent.join(", ")
    );
    let seen = |name: &str| {
        graphs
            .iter()
            .any(|g| g.event_types.iter().any(|t| t == name))
    };
    let missing_types: Vec<String> = EventType::ALL
        .iter()
        .filter(|t| !seen(t.as_str()))
        .map(|t| t.to_string())
        .collect();
    let intent_seen = |name: &str| {
        graphs
            .iter()
            .any(|g| g.edge_intents.iter().any(|i| i == name))
    };
    let missing_intents: Vec<String> = EdgeIntent::ALL
        .iter()
        .filter(|i| !intent_seen(i.as_str()))
        .map(|i| i.to_string())
        .collect();
    let _ = writeln!(
        out,
        "never seen in this run: event types {}; edge intents {}",
        none_or(&missing_types),
        none_or(&missing_intents)
    );
}

fn none_or(items: &[String]) -> String {
    if items.is_empty() {
        "none".to_owned()
    } else {
        items.join(", ")
    }
}
