//! Mapping of the files' free-form event descriptions onto the six golden event types.
//!
//! IRONFORGE's converter sets six semantic flags per node (f0..f5) by substring tests on `movement_type`
//! (and `event_type` for liquidity sweeps). The rules below follow it and extend it only where the data says more:
//!
//! | event type | matched in the description |
//! |---|---|
//! | Redelivery | `redeliver`, `rebalance`, `delivery` |
//! | Expansion | `expansion`, `break` |
//! | Consolidation | `consolidation`, `range` |
//! | Retracement | `retracement`, `pullback` |
//! | Reversal | `reversal`, `failure_swing`, or exactly `session_high` / `session_low` |
//! | Liquidity Taken | `sweep`, `taken`, `takeout`, `liquidity` |
//!
//! A description may match several types (`expansion_low_london_fpfvg_redelivery` is both an expansion and a
//! redelivery), as IRONFORGE's flags may. Anchors (`open`, `close`) and plain level touches match none: they are
//! nodes without an event type. The description of a price event is its `movement_type`; the 300 price events
//! without one are described by their `action` and `context` text instead (they still count as lacking a
//! movement type for authenticity). A liquidity event is described by its `event_type`.

use ironforge_proto::semconv::EventType;

/// Substrings (lower case) that mark each golden type, in [`EventType::ALL`] order.
const RULES: [(EventType, &[&str]); 6] = [
    (EventType::Expansion, &["expansion", "break"]),
    (EventType::Consolidation, &["consolidation", "range"]),
    (EventType::Retracement, &["retracement", "pullback"]),
    (EventType::Reversal, &["reversal", "failure_swing"]),
    (
        EventType::LiquidityTaken,
        &["sweep", "taken", "takeout", "liquidity"],
    ),
    (
        EventType::Redelivery,
        &["redeliver", "rebalance", "delivery"],
    ),
];

/// Movement types that IRONFORGE counts as reversals outright: the session extremes.
const REVERSAL_EXACT: [&str; 2] = ["session_high", "session_low"];

/// The golden event types a description matches, in [`EventType::ALL`] order, without repeats.
pub fn classify(description: &str) -> Vec<EventType> {
    let text = description.to_ascii_lowercase();
    let mut types: Vec<EventType> = RULES
        .iter()
        .filter(|(_, needles)| needles.iter().any(|n| text.contains(n)))
        .map(|(event_type, _)| *event_type)
        .collect();
    if REVERSAL_EXACT.contains(&text.as_str()) && !types.contains(&EventType::Reversal) {
        types.push(EventType::Reversal);
        types.sort();
    }
    types
}

/// Whether a description names a premium/discount array interaction (IRONFORGE's f6).
pub fn is_pd_array(description: &str) -> bool {
    let text = description.to_ascii_lowercase();
    text.contains("premium") || text.contains("discount")
}

/// Whether a movement type is one of the session's anchors.
pub fn is_anchor(movement_type: &str) -> bool {
    matches!(
        movement_type,
        "open" | "close" | "session_high" | "session_low"
    )
}

/// IRONFORGE's numeric movement-type code (f9); 0 for anything it does not list.
pub fn movement_type_code(movement_type: Option<&str>) -> f32 {
    match movement_type {
        Some("open") => 1.0,
        Some("close") => 2.0,
        Some("session_high") => 3.0,
        Some("session_low") => 4.0,
        Some("fpfvg_formation_premium") => 5.0,
        Some("fpfvg_formation_discount") => 6.0,
        Some("rebalance") => 7.0,
        Some("expansion") => 8.0,
        Some("consolidation") => 9.0,
        _ => 0.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use EventType::*;

    #[test]
    fn movement_types_map_onto_golden_types() {
        assert_eq!(classify("expansion_high"), [Expansion]);
        assert_eq!(classify("consolidation_start_high"), [Consolidation]);
        assert_eq!(classify("retracement_low"), [Retracement]);
        assert_eq!(classify("session_high"), [Reversal]);
        assert_eq!(classify("session_high_reversal_point"), [Reversal]);
        assert_eq!(
            classify("expansion_low_liquidity_sweep"),
            [Expansion, LiquidityTaken]
        );
        assert_eq!(
            classify("expansion_low_london_fpfvg_redelivery"),
            [Expansion, Redelivery]
        );
        assert_eq!(classify("fpfvg_rebalance"), [Redelivery]);
        assert_eq!(classify("asia_session_high_takeout"), [LiquidityTaken]);
    }

    #[test]
    fn anchors_and_touches_have_no_type() {
        assert!(classify("open").is_empty());
        assert!(classify("close").is_empty());
        assert!(classify("touch asia_fpfvg_formation").is_empty());
        assert!(classify("").is_empty());
    }

    #[test]
    fn liquidity_event_types_map_too() {
        assert_eq!(classify("redelivery"), [Redelivery]);
        assert_eq!(classify("liquidity_sweep"), [LiquidityTaken]);
        assert_eq!(classify("level_break"), [Expansion]);
        assert_eq!(classify("consolidation_break"), [Expansion, Consolidation]);
        assert!(classify("volume_spike").is_empty());
    }

    #[test]
    fn descriptions_are_case_insensitive() {
        assert_eq!(
            classify("sweep London session low created, Asia session low taken"),
            [LiquidityTaken]
        );
        assert_eq!(
            classify("delivery Midnight_FPFVG_redelivered"),
            [Redelivery]
        );
    }
}
