//! The events of one session in one timeline: price movements and liquidity events, as IRONFORGE's converter
//! merges them before building a graph.

use ironforge_proto::semconv::EventType;

use crate::classify;
use crate::session::{ClockTime, LiquidityEvent, PriceMovement, SessionFile, Window};

/// Where an event comes from.
#[derive(Debug, Clone, Copy)]
pub enum EventSource<'a> {
    /// An entry of `price_movements`.
    Price(&'a PriceMovement),
    /// An entry of `session_liquidity_events`.
    Liquidity(&'a LiquidityEvent),
}

/// One event of a session, in the order the graph uses.
#[derive(Debug, Clone)]
pub struct Event<'a> {
    /// The file's record.
    pub source: EventSource<'a>,
    /// Time of day from the record.
    pub time: ClockTime,
    /// Seconds since the session start on the session's timeline (negative before the window opens).
    pub offset: i64,
    /// Price: the record's own, or for a liquidity event without a usable one, that of the price movement
    /// nearest in time (as IRONFORGE estimates it).
    pub price: f64,
    /// Whether [`price`](Self::price) was estimated.
    pub price_estimated: bool,
    /// The text the event type is read from (see [`classify`]).
    pub description: String,
    /// Golden event types the description matches.
    pub event_types: Vec<EventType>,
}

impl Event<'_> {
    /// Whether this is a liquidity event.
    pub fn is_liquidity(&self) -> bool {
        matches!(self.source, EventSource::Liquidity(_))
    }

    /// The price movement's `movement_type`, if any.
    pub fn movement_type(&self) -> Option<&str> {
        match self.source {
            EventSource::Price(p) => p.movement_type.as_deref(),
            EventSource::Liquidity(_) => None,
        }
    }
}

/// The session's events with parseable timestamps, sorted by time (stable: price movements before liquidity
/// events at the same second, as IRONFORGE's merge leaves them), and how many records were left out because their
/// timestamp does not parse or a price movement has no price.
pub fn session_events(file: &SessionFile) -> (Vec<Event<'_>>, usize) {
    let window = file.window();
    let offset_of = |t: ClockTime| match window {
        Some(w) => w.offset(t),
        None => i64::from(t.seconds()),
    };
    let mut dropped = 0;
    let mut events = Vec::new();

    for pm in &file.price_movements {
        let (Some(time), Some(price)) = (
            pm.timestamp.as_deref().and_then(ClockTime::parse),
            pm.price_level,
        ) else {
            dropped += 1;
            continue;
        };
        let description = match &pm.movement_type {
            Some(mt) => mt.clone(),
            None => untyped_description(pm),
        };
        let event_types = classify::classify(&description);
        events.push(Event {
            source: EventSource::Price(pm),
            time,
            offset: offset_of(time),
            price,
            price_estimated: false,
            description,
            event_types,
        });
    }

    for le in &file.session_liquidity_events {
        let Some(time) = le.timestamp.as_deref().and_then(ClockTime::parse) else {
            dropped += 1;
            continue;
        };
        // Six liquidity events carry a price of 0, which is no price; they get an estimate like events without one.
        let own_price = le.price_level.filter(|p| *p > 0.0);
        let price = own_price.unwrap_or_else(|| nearest_price(time, window, &file.price_movements));
        let description = le.event_type.clone().unwrap_or_default();
        let event_types = classify::classify(&description);
        events.push(Event {
            source: EventSource::Liquidity(le),
            time,
            offset: offset_of(time),
            price,
            price_estimated: own_price.is_none(),
            description,
            event_types,
        });
    }

    events.sort_by_key(|e| e.offset);
    (events, dropped)
}

/// The description of a price movement without a `movement_type`: its `action` and `context` text.
pub fn untyped_description(pm: &PriceMovement) -> String {
    [pm.action.as_deref(), pm.context.as_deref()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ")
}

/// Price of the price movement nearest in time to `t`, or 0 when there is none.
fn nearest_price(t: ClockTime, window: Option<Window>, movements: &[PriceMovement]) -> f64 {
    let at = |c: ClockTime| window.map_or(i64::from(c.seconds()), |w| w.offset(c));
    movements
        .iter()
        .filter_map(|pm| {
            Some((
                at(pm.timestamp.as_deref().and_then(ClockTime::parse)?),
                pm.price_level?,
            ))
        })
        .min_by_key(|(when, _)| (when - at(t)).abs())
        .map_or(0.0, |(_, price)| price)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::parse_session;

    #[test]
    fn events_merge_sort_and_estimate_prices() {
        let file = parse_session(
            r#"{"session_metadata": {"session_start": "09:30:00", "session_end": "10:00:00"},
                "price_movements": [
                    {"timestamp": "09:40:00", "price_level": 101.0, "movement_type": "expansion_high"},
                    {"timestamp": "09:30:00", "price_level": 100.0, "movement_type": "open"},
                    {"timestamp": "bad", "price_level": 1.0},
                    {"timestamp": "09:35:00", "price_level": 99.0, "action": "sweep", "context": "low taken"}],
                "session_liquidity_events": [
                    {"timestamp": "09:39:00", "event_type": "redelivery"},
                    {"timestamp": "09:30:00", "event_type": "volume_spike", "price_level": 0}]}"#,
        )
        .unwrap();
        let (events, dropped) = session_events(&file);
        assert_eq!(dropped, 1);
        let order: Vec<(i64, f64, bool)> = events
            .iter()
            .map(|e| (e.offset, e.price, e.price_estimated))
            .collect();
        assert_eq!(
            order,
            [
                (0, 100.0, false),
                (0, 100.0, true),
                (300, 99.0, false),
                (540, 101.0, true),
                (600, 101.0, false)
            ]
        );
        assert_eq!(events[2].description, "sweep low taken");
        assert_eq!(events[2].event_types, [EventType::LiquidityTaken]);
        assert_eq!(events[3].event_types, [EventType::Redelivery]);
    }
}
