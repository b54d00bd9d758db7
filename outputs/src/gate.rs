//! Aggregation and rate limits for violation events, so a run that breaks one contract on every session
//! yields one readable event per window instead of thousands, and a flood never drowns the outputs.
//!
//! Windows are per pipeline, contract and stage: one pipeline's flood never hides another's first event.
//! Suppressed events are never lost silently: each is counted in the metrics, and the next event of the
//! same pipeline, contract and stage says how many it stands for.

use std::time::{Duration, Instant};

use foldhash::fast::RandomState;
use hashbrown::{Equivalent, HashMap};

use ironforge_engine::config::EventsConfig;

/// The gate's answer for one violation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GateDecision {
    /// Emit the event; `folded` earlier violations of the same pipeline, contract and stage were
    /// suppressed since the last event.
    Emit { folded: u64 },
    /// Suppressed by the aggregation window of its pipeline, contract and stage.
    Aggregated,
    /// Suppressed by the hourly event budget.
    OverBudget,
}

#[derive(Debug)]
struct Window {
    opened_at: Instant,
    suppressed: u64,
}

/// What a window is kept for: one pipeline's violations of one contract on one stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct WindowKey<'a> {
    pub pipeline: Option<&'a str>,
    pub contract_id: &'a str,
    pub stage: Option<&'a str>,
}

/// A [`WindowKey`] kept in the map. Its fields hash in the same order as the key's, so a violation finds its
/// window without copying its strings; they are copied once, when the window opens.
type OwnedKey = (Option<Box<str>>, Box<str>, Option<Box<str>>);

impl Equivalent<OwnedKey> for WindowKey<'_> {
    fn equivalent(&self, key: &OwnedKey) -> bool {
        self.pipeline == key.0.as_deref()
            && self.contract_id == &*key.1
            && self.stage == key.2.as_deref()
    }
}

impl WindowKey<'_> {
    fn to_owned_key(self) -> OwnedKey {
        (
            self.pipeline.map(Box::from),
            Box::from(self.contract_id),
            self.stage.map(Box::from),
        )
    }
}

/// Per pipeline, contract and stage windows plus an hourly token bucket.
#[derive(Debug)]
pub struct EventGate {
    window: Duration,
    per_hour: f64,
    tokens: f64,
    refilled_at: Instant,
    windows: HashMap<OwnedKey, Window, RandomState>,
}

impl EventGate {
    pub fn new(config: &EventsConfig, now: Instant) -> Self {
        let per_hour = f64::from(config.max_events_per_hour);
        Self {
            window: Duration::from_secs_f64(config.aggregation_window_seconds),
            per_hour,
            tokens: per_hour,
            refilled_at: now,
            windows: HashMap::default(),
        }
    }

    /// Applies new limits, keeping the counts already gathered.
    pub fn reconfigure(&mut self, config: &EventsConfig) {
        self.window = Duration::from_secs_f64(config.aggregation_window_seconds);
        self.per_hour = f64::from(config.max_events_per_hour);
        self.tokens = self.tokens.min(self.per_hour);
    }

    pub fn admit(&mut self, key: WindowKey<'_>, now: Instant) -> GateDecision {
        let elapsed = now.duration_since(self.refilled_at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.per_hour / 3600.0).min(self.per_hour);
        self.refilled_at = now;

        let window_open = self
            .windows
            .get(&key)
            .is_some_and(|window| now.duration_since(window.opened_at) < self.window);
        if window_open {
            if let Some(window) = self.windows.get_mut(&key) {
                window.suppressed += 1;
            }
            return GateDecision::Aggregated;
        }
        if self.tokens < 1.0 {
            if let Some(window) = self.windows.get_mut(&key) {
                window.suppressed += 1;
            }
            return GateDecision::OverBudget;
        }
        self.tokens -= 1.0;
        let folded = self
            .windows
            .insert(
                key.to_owned_key(),
                Window {
                    opened_at: now,
                    suppressed: 0,
                },
            )
            .map_or(0, |previous| previous.suppressed);
        GateDecision::Emit { folded }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key<'a>(contract_id: &'a str, stage: Option<&'a str>) -> WindowKey<'a> {
        WindowKey {
            pipeline: Some("ironforge"),
            contract_id,
            stage,
        }
    }

    fn gate(window: f64, per_hour: u32) -> (EventGate, Instant) {
        let now = Instant::now();
        let config = EventsConfig {
            aggregation_window_seconds: window,
            max_events_per_hour: per_hour,
        };
        (EventGate::new(&config, now), now)
    }

    #[test]
    fn one_event_per_contract_and_stage_per_window_then_the_count() {
        let (mut gate, t0) = gate(10.0, 3600);
        assert_eq!(
            gate.admit(key("session_duration", Some("discovery")), t0),
            GateDecision::Emit { folded: 0 }
        );
        assert_eq!(
            gate.admit(key("session_duration", Some("discovery")), t0),
            GateDecision::Aggregated
        );
        assert_eq!(
            gate.admit(key("session_duration", Some("discovery")), t0),
            GateDecision::Aggregated
        );
        // Another stage and another contract have windows of their own.
        assert_eq!(
            gate.admit(key("session_duration", Some("validation")), t0),
            GateDecision::Emit { folded: 0 }
        );
        assert_eq!(
            gate.admit(key("node_feature_dim", Some("discovery")), t0),
            GateDecision::Emit { folded: 0 }
        );
        let later = t0 + Duration::from_secs(10);
        assert_eq!(
            gate.admit(key("session_duration", Some("discovery")), later),
            GateDecision::Emit { folded: 2 }
        );
    }

    #[test]
    fn each_pipeline_has_windows_of_its_own() {
        let (mut gate, t0) = gate(10.0, 3600);
        let of = |pipeline| WindowKey {
            pipeline,
            contract_id: "session_duration",
            stage: Some("discovery"),
        };
        assert_eq!(
            gate.admit(of(Some("a")), t0),
            GateDecision::Emit { folded: 0 }
        );
        assert_eq!(gate.admit(of(Some("a")), t0), GateDecision::Aggregated);
        assert_eq!(
            gate.admit(of(Some("b")), t0),
            GateDecision::Emit { folded: 0 }
        );
        assert_eq!(gate.admit(of(None), t0), GateDecision::Emit { folded: 0 });
    }

    #[test]
    fn zero_window_emits_everything() {
        let (mut gate, t0) = gate(0.0, 3600);
        for _ in 0..5 {
            assert_eq!(
                gate.admit(key("c", None), t0),
                GateDecision::Emit { folded: 0 }
            );
        }
    }

    #[test]
    fn hourly_budget_suppresses_and_refills() {
        let (mut gate, t0) = gate(0.0, 2);
        assert_eq!(
            gate.admit(key("a", None), t0),
            GateDecision::Emit { folded: 0 }
        );
        assert_eq!(
            gate.admit(key("a", None), t0),
            GateDecision::Emit { folded: 0 }
        );
        assert_eq!(gate.admit(key("a", None), t0), GateDecision::OverBudget);
        // Two per hour: one token every 30 minutes, and the suppressed event is folded into the next.
        let later = t0 + Duration::from_secs(1800);
        assert_eq!(
            gate.admit(key("a", None), later),
            GateDecision::Emit { folded: 1 }
        );
    }
}
