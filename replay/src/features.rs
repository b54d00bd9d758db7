//! Node and edge features, laid out as IRONFORGE's converter lays them out.
//!
//! Nodes have 45 base features (f0..f44) and, when the session carries HTF context, six more (f45..f50, see
//! [`crate::htf`]): 51 in all. IRONFORGE fills f12..f44 with zeros; the replay puts the data the files hold there
//! instead, so the features carry real information, and keeps zeros where a field is absent:
//!
//! | features | meaning |
//! |---|---|
//! | f0..f5 | flags: Redelivery, Expansion, Consolidation, Retracement, Reversal, Liquidity Taken (IRONFORGE's order) |
//! | f6 | premium/discount array flag; f7 reserved (0) |
//! | f8 | price; f9 movement-type code (IRONFORGE's table); f10 position in the session window (0..1, outside when the event is); f11 position in the session's price range |
//! | f12..f15 | liquidity event?, anchor (open/close/high/low)?, placeholder `12:00:00`?, inside the window? |
//! | f16..f24 | the price movement's relativity fields (normalized price, % from open/high/low, seconds since open, normalized time, seconds to next event, momentum, range position) |
//! | f25..f29 | the liquidity event's intensity, impact duration, magnitude code, liquidity-type code, event-type code |
//! | f30, f31 | inside an expansion / consolidation phase of `phase_transitions`? |
//! | f32..f35 | session energy density, HTF carry-over strength, cross-session inheritance, window length in minutes |
//! | f36..f44 | reserved (0) |
//!
//! Edges have 20 features (e0..e19): e0 semantic link (movement transition or liquidity link), e1 causality
//! (IRONFORGE's heuristic), e2 relationship code (the intent's position in the golden list), e3 |Δprice|,
//! e4 direction (±1), e5 same movement type?, e6 Δt in seconds capped at one hour, e7 same node kind?, e8/e9 the
//! ends' kinds, e10 overlap of the ends' event types (Jaccard), e11..e19 reserved (0).

use ironforge_proto::semconv::{EdgeIntent, EventType};

use crate::classify;
use crate::events::{Event, EventSource};
use crate::session::{ClockTime, SessionFile, Window};

/// Node features without HTF context.
pub const BASE_NODE_FEATURES: usize = 45;
/// HTF context features.
pub const HTF_NODE_FEATURES: usize = 6;
/// Edge features.
pub const EDGE_FEATURES: usize = 20;

/// Flags f0..f5, in IRONFORGE's order.
const FLAG_ORDER: [EventType; 6] = [
    EventType::Redelivery,
    EventType::Expansion,
    EventType::Consolidation,
    EventType::Retracement,
    EventType::Reversal,
    EventType::LiquidityTaken,
];

/// Liquidity event types in the order of their code (f29); 0 is "other".
const LIQUIDITY_EVENT_TYPES: [&str; 13] = [
    "interaction",
    "rebalance",
    "redelivery",
    "volume_spike",
    "price_gap",
    "trend_continuation",
    "momentum_shift",
    "support_test",
    "level_break",
    "consolidation_break",
    "fvg_creation",
    "liquidity_sweep",
    "resistance_test",
];

/// What node features need from the session as a whole.
#[derive(Debug, Clone)]
pub struct SessionContext {
    window: Option<Window>,
    high: Option<f64>,
    low: Option<f64>,
    expansion_phases: Vec<(i64, i64)>,
    consolidation_phases: Vec<(i64, i64)>,
    energy_density: f64,
    carryover: f64,
    inheritance: f64,
}

impl SessionContext {
    /// Gathers the session-level figures. The price range comes from `relativity_stats`, or from the price
    /// movements when the file has none.
    pub fn new(file: &SessionFile, events: &[Event<'_>]) -> SessionContext {
        let window = file.window();
        let stats = file.relativity_stats.as_ref();
        let prices = || events.iter().filter(|e| !e.is_liquidity()).map(|e| e.price);
        let high = stats
            .and_then(|s| s.session_high)
            .or_else(|| prices().reduce(f64::max));
        let low = stats
            .and_then(|s| s.session_low)
            .or_else(|| prices().reduce(f64::min));
        let mut expansion_phases = Vec::new();
        let mut consolidation_phases = Vec::new();
        for phase in file.phase_transitions.iter().flatten() {
            let (Some(start), Some(end)) = (
                phase.start_time.as_deref().and_then(ClockTime::parse),
                phase.end_time.as_deref().and_then(ClockTime::parse),
            ) else {
                continue;
            };
            let span = match window {
                Some(w) => (w.offset(start), w.offset(end)),
                None => (i64::from(start.seconds()), i64::from(end.seconds())),
            };
            match phase.phase_type.as_deref() {
                Some("expansion") => expansion_phases.push(span),
                Some("consolidation") => consolidation_phases.push(span),
                _ => {}
            }
        }
        let contamination = file.htf_contamination();
        SessionContext {
            window,
            high,
            low,
            expansion_phases,
            consolidation_phases,
            energy_density: file.energy_density().unwrap_or(0.0),
            carryover: file.htf_carryover_strength().unwrap_or(0.0),
            inheritance: contamination
                .and_then(|c| c.cross_session_inheritance)
                .unwrap_or(0.0),
        }
    }
}

/// The 45 base features of an event's node (see the module documentation for the layout).
pub fn base_node_features(event: &Event<'_>, ctx: &SessionContext) -> [f32; BASE_NODE_FEATURES] {
    let mut f = [0.0_f32; BASE_NODE_FEATURES];
    for (slot, event_type) in FLAG_ORDER.iter().enumerate() {
        f[slot] = flag(event.event_types.contains(event_type));
    }
    f[6] = flag(classify::is_pd_array(&event.description));
    f[8] = event.price as f32;
    f[9] = classify::movement_type_code(event.movement_type());
    if let Some(w) = ctx.window {
        f[10] = (event.offset as f64 / w.length() as f64) as f32;
        f[15] = flag(w.contains(event.time));
    }
    if let (Some(high), Some(low)) = (ctx.high, ctx.low) {
        f[11] = if high > low {
            ((event.price - low) / (high - low)) as f32
        } else {
            0.5
        };
    }
    f[12] = flag(event.is_liquidity());
    f[13] = flag(event.movement_type().is_some_and(classify::is_anchor));
    f[14] = flag(event.time == ClockTime::PLACEHOLDER);
    match event.source {
        EventSource::Price(pm) => {
            let relativity = [
                pm.normalized_price,
                pm.pct_from_open,
                pm.pct_from_high,
                pm.pct_from_low,
                pm.time_since_session_open,
                pm.normalized_time,
                pm.time_to_next_event,
                pm.price_momentum,
                pm.range_position,
            ];
            for (slot, value) in (16..).zip(relativity) {
                f[slot] = value.unwrap_or(0.0) as f32;
            }
        }
        EventSource::Liquidity(le) => {
            f[25] = le.intensity.unwrap_or(0.0) as f32;
            f[26] = le.impact_duration.unwrap_or(0.0) as f32;
            f[27] = match le.magnitude.as_deref() {
                Some("low") => 1.0,
                Some("medium") => 2.0,
                Some("high") => 3.0,
                _ => 0.0,
            };
            f[28] = match le.liquidity_type.as_deref() {
                Some("internal") => 1.0,
                Some("fpfvg") => 2.0,
                Some("cross_session") => 3.0,
                _ => 0.0,
            };
            f[29] = le
                .event_type
                .as_deref()
                .and_then(|t| LIQUIDITY_EVENT_TYPES.iter().position(|known| *known == t))
                .map_or(0.0, |i| (i + 1) as f32);
        }
    }
    let inside = |phases: &[(i64, i64)]| {
        phases
            .iter()
            .any(|&(s, e)| s <= event.offset && event.offset <= e)
    };
    f[30] = flag(inside(&ctx.expansion_phases));
    f[31] = flag(inside(&ctx.consolidation_phases));
    f[32] = ctx.energy_density as f32;
    f[33] = ctx.carryover as f32;
    f[34] = ctx.inheritance as f32;
    f[35] = ctx
        .window
        .map_or(0.0, |w| (w.length() as f64 / 60.0) as f32);
    f
}

/// The ends of an edge as its features see them.
#[derive(Debug, Clone, Copy)]
pub struct EdgeEnd<'a> {
    /// Price.
    pub price: f64,
    /// Seconds on the session timeline.
    pub offset: i64,
    /// Whether the end is a liquidity event.
    pub liquidity: bool,
    /// Movement type, if any.
    pub movement_type: Option<&'a str>,
    /// Golden event types.
    pub event_types: &'a [EventType],
}

/// The 20 features of an edge (see the module documentation for the layout).
pub fn edge_features(src: EdgeEnd<'_>, dst: EdgeEnd<'_>, intent: EdgeIntent) -> Vec<f32> {
    let mut f = vec![0.0_f32; EDGE_FEATURES];
    let intent_code = EdgeIntent::ALL
        .iter()
        .position(|i| *i == intent)
        .unwrap_or(0);
    f[0] = flag(matches!(
        intent,
        EdgeIntent::MovementTransition | EdgeIntent::LiqLink
    ));
    let (src_type, dst_type) = (
        src.movement_type.unwrap_or(""),
        dst.movement_type.unwrap_or(""),
    );
    f[1] = if src_type == dst_type {
        0.8
    } else if src_type.contains("fpfvg") && dst_type.contains("rebalance") {
        0.9
    } else {
        0.3
    };
    f[2] = intent_code as f32;
    f[3] = (dst.price - src.price).abs() as f32;
    f[4] = if dst.price > src.price { 1.0 } else { -1.0 };
    f[5] = flag(src_type == dst_type);
    f[6] = (dst.offset - src.offset).abs().min(3_600) as f32;
    f[7] = flag(src.liquidity == dst.liquidity);
    f[8] = flag(src.liquidity);
    f[9] = flag(dst.liquidity);
    let shared = src
        .event_types
        .iter()
        .filter(|t| dst.event_types.contains(t))
        .count();
    let union = src.event_types.len() + dst.event_types.len() - shared;
    f[10] = if union == 0 {
        0.0
    } else {
        shared as f32 / union as f32
    };
    f
}

fn flag(value: bool) -> f32 {
    if value { 1.0 } else { 0.0 }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::session_events;
    use crate::session::parse_session;

    #[test]
    fn base_features_carry_flags_and_file_fields() {
        let file = parse_session(
            r#"{"session_metadata": {"session_start": "09:30:00", "session_end": "10:30:00"},
                "relativity_stats": {"session_high": 110.0, "session_low": 90.0},
                "phase_transitions": [{"phase_type": "expansion", "start_time": "09:30:00", "end_time": "09:45:00"}],
                "price_movements": [
                    {"timestamp": "09:45:00", "price_level": 105.0, "movement_type": "expansion_low_fpfvg_redelivery",
                     "pct_from_open": 1.5}],
                "session_liquidity_events": [
                    {"timestamp": "12:00:00", "event_type": "liquidity_sweep", "magnitude": "high",
                     "liquidity_type": "fpfvg", "price_level": 95.0}]}"#,
        )
        .unwrap();
        let (events, _) = session_events(&file);
        let ctx = SessionContext::new(&file, &events);
        let price = base_node_features(&events[0], &ctx);
        assert_eq!(&price[0..6], &[1.0, 1.0, 0.0, 0.0, 0.0, 0.0]);
        assert_eq!(price[8], 105.0);
        assert!((price[10] - 0.25).abs() < 1e-6);
        assert_eq!(price[11], 0.75);
        assert_eq!((price[14], price[15]), (0.0, 1.0));
        assert_eq!(price[17], 1.5);
        assert_eq!(price[30], 1.0);
        let liq = base_node_features(&events[1], &ctx);
        assert_eq!(liq[5], 1.0);
        assert_eq!(
            (liq[12], liq[14], liq[15]),
            (1.0, 1.0, 0.0),
            "placeholder time outside the window"
        );
        assert_eq!((liq[27], liq[28], liq[29]), (3.0, 2.0, 12.0));
    }

    #[test]
    fn edge_features_have_twenty_slots() {
        let end = |price, offset| EdgeEnd {
            price,
            offset,
            liquidity: false,
            movement_type: Some("expansion_high"),
            event_types: &[EventType::Expansion],
        };
        let f = edge_features(
            end(100.0, 0),
            end(98.0, 7_200),
            EdgeIntent::MovementTransition,
        );
        assert_eq!(f.len(), EDGE_FEATURES);
        assert_eq!(&f[0..7], &[1.0, 0.8, 1.0, 2.0, -1.0, 1.0, 3_600.0]);
        assert_eq!(f[10], 1.0);
    }
}
