//! Authenticity of a session: how much of its data can be taken at face value.
//!
//! ```text
//! authenticity = clean events / all events        (0 for a session without events)
//! ```
//!
//! An event (a price movement or a liquidity event) is clean when all of these hold:
//!
//! 1. its timestamp parses as `HH:MM:SS`;
//! 2. the timestamp is not the placeholder `12:00:00` that IRONFORGE's legacy converter wrote where it had no
//!    time. In the eight lunch sessions the window opens at 12:00, so some of their `12:00:00` events are the real
//!    open; the data cannot tell which, and the score errs on the side of doubt;
//! 3. the timestamp lies inside the session window (`session_start..=session_end`);
//! 4. a price movement carries a `movement_type` (300 do not);
//! 5. it is not an exact repeat of an earlier event of the session (same kind, time, type and price): the recovery
//!    pass that rebuilt the legacy files appended some events twice.
//!
//! The counts behind the score are reported beside it; an event can fail several checks, so they overlap.
//! The score is this replay's own measure, not IRONFORGE's (whose run scored a mean of 3.3e-5 on these files).

use std::collections::HashSet;

use crate::session::{ClockTime, LiquidityEvent, PriceMovement, SessionFile};

/// The authenticity of one session and the counts it comes from.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Authenticity {
    /// Score in `0..=1`.
    pub score: f64,
    /// Price movements plus liquidity events.
    pub events: usize,
    /// Events passing every check.
    pub clean: usize,
    /// Timestamps that do not parse (or are missing).
    pub unparseable_timestamps: usize,
    /// `12:00:00` timestamps.
    pub placeholder_timestamps: usize,
    /// Timestamps outside the session window (placeholders included).
    pub out_of_window: usize,
    /// Price movements without `movement_type`.
    pub missing_movement_type: usize,
    /// Exact repeats of an earlier event.
    pub duplicates: usize,
}

/// Scores one session.
pub fn score(file: &SessionFile) -> Authenticity {
    let window = file.window();
    let mut a = Authenticity::default();
    let mut seen: HashSet<String> = HashSet::new();

    let mut check = |timestamp: Option<&str>, missing_type: bool, key: String| {
        a.events += 1;
        let time = timestamp.and_then(ClockTime::parse);
        let mut clean = true;
        match time {
            None => {
                a.unparseable_timestamps += 1;
                clean = false;
            }
            Some(t) => {
                if t == ClockTime::PLACEHOLDER {
                    a.placeholder_timestamps += 1;
                    clean = false;
                }
                // Without a window nothing can be shown to lie inside it.
                if !window.is_some_and(|w| w.contains(t)) {
                    a.out_of_window += 1;
                    clean = false;
                }
            }
        }
        if missing_type {
            a.missing_movement_type += 1;
            clean = false;
        }
        if !seen.insert(key) {
            a.duplicates += 1;
            clean = false;
        }
        if clean {
            a.clean += 1;
        }
    };

    for pm in &file.price_movements {
        check(
            pm.timestamp.as_deref(),
            pm.movement_type.is_none(),
            price_key(pm),
        );
    }
    for le in &file.session_liquidity_events {
        check(le.timestamp.as_deref(), false, liquidity_key(le));
    }

    a.score = if a.events == 0 {
        0.0
    } else {
        a.clean as f64 / a.events as f64
    };
    a
}

/// What makes two price movements the same event: kind, time, type, description and price.
pub(crate) fn price_key(pm: &PriceMovement) -> String {
    format!(
        "p|{:?}|{:?}|{:?}|{:?}|{:?}",
        pm.timestamp, pm.movement_type, pm.action, pm.context, pm.price_level
    )
}

/// What makes two liquidity events the same event.
pub(crate) fn liquidity_key(le: &LiquidityEvent) -> String {
    format!(
        "l|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}",
        le.timestamp, le.event_type, le.price_level, le.target_level, le.liquidity_type, le.context
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::{parse_session, read_session};

    #[test]
    fn the_formula_on_a_crafted_session() {
        let file = parse_session(
            r#"{"session_metadata": {"session_start": "09:30:00", "session_end": "11:59:00"},
                "price_movements": [
                    {"timestamp": "09:30:00", "price_level": 1.0, "movement_type": "open"},
                    {"timestamp": "12:00:00", "price_level": 2.0, "movement_type": "session_high"},
                    {"timestamp": "13:00:00", "price_level": 3.0, "movement_type": "session_low"},
                    {"timestamp": "10:00:00", "price_level": 4.0, "action": "touch"},
                    {"timestamp": "09:30:00", "price_level": 1.0, "movement_type": "open"},
                    {"price_level": 5.0, "movement_type": "close"}],
                "session_liquidity_events": [
                    {"timestamp": "10:00:00", "event_type": "redelivery"},
                    {"timestamp": "11:59:00", "event_type": "rebalance"}]}"#,
        )
        .unwrap();
        let a = score(&file);
        assert_eq!(a.events, 8);
        assert_eq!(a.placeholder_timestamps, 1);
        assert_eq!(a.out_of_window, 2, "12:00 and 13:00");
        assert_eq!(a.missing_movement_type, 1);
        assert_eq!(a.duplicates, 1);
        assert_eq!(a.unparseable_timestamps, 1);
        assert_eq!(a.clean, 3, "the first open and both liquidity events");
        assert!((a.score - 3.0 / 8.0).abs() < 1e-12);
    }

    #[test]
    fn empty_and_windowless_sessions_score_zero() {
        assert_eq!(
            score(&parse_session(r#"{"session_metadata": {}}"#).unwrap()).score,
            0.0
        );
        let file = parse_session(
            r#"{"session_metadata": {}, "session_liquidity_events": [{"timestamp": "10:00:00"}]}"#,
        )
        .unwrap();
        let a = score(&file);
        assert_eq!((a.out_of_window, a.score), (1, 0.0));
    }

    #[test]
    fn fixture_totals_match_the_documented_defects() {
        let mut total = Authenticity::default();
        for entry in std::fs::read_dir(crate::DEFAULT_SESSIONS_DIR).unwrap() {
            let a = score(&read_session(&entry.unwrap().path()).unwrap());
            assert!((0.0..=1.0).contains(&a.score));
            total.events += a.events;
            total.placeholder_timestamps += a.placeholder_timestamps;
            total.out_of_window += a.out_of_window;
            total.missing_movement_type += a.missing_movement_type;
            total.unparseable_timestamps += a.unparseable_timestamps;
        }
        assert_eq!(total.events, 2_111);
        assert_eq!(total.placeholder_timestamps, 161);
        assert_eq!(total.out_of_window, 237);
        assert_eq!(total.missing_movement_type, 300);
        assert_eq!(total.unparseable_timestamps, 0);
    }
}
