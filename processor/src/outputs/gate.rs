//! Aggregation and rate limits for violation events, so a run that breaks one contract on every session
//! yields one readable event per window instead of thousands, and a flood never drowns the outputs.
//!
//! Suppressed events are never lost silently: each is counted in the metrics, and the next event of the
//! same contract and stage says how many it stands for.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::config::EventsConfig;

/// The gate's answer for one violation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GateDecision {
    /// Emit the event; `folded` earlier violations of the same contract and stage were suppressed since
    /// the last event.
    Emit { folded: u64 },
    /// Suppressed by the aggregation window of its contract and stage.
    Aggregated,
    /// Suppressed by the hourly event budget.
    OverBudget,
}

#[derive(Debug)]
struct Window {
    opened_at: Instant,
    suppressed: u64,
}

/// Per-contract-and-stage windows plus an hourly token bucket.
#[derive(Debug)]
pub struct EventGate {
    window: Duration,
    per_hour: f64,
    tokens: f64,
    refilled_at: Instant,
    windows: HashMap<(String, Option<String>), Window>,
}

impl EventGate {
    pub fn new(config: &EventsConfig, now: Instant) -> Self {
        let per_hour = f64::from(config.max_events_per_hour);
        Self {
            window: Duration::from_secs_f64(config.aggregation_window_seconds),
            per_hour,
            tokens: per_hour,
            refilled_at: now,
            windows: HashMap::new(),
        }
    }

    /// Applies new limits, keeping the counts already gathered.
    pub fn reconfigure(&mut self, config: &EventsConfig) {
        self.window = Duration::from_secs_f64(config.aggregation_window_seconds);
        self.per_hour = f64::from(config.max_events_per_hour);
        self.tokens = self.tokens.min(self.per_hour);
    }

    pub fn admit(&mut self, contract_id: &str, stage: Option<&str>, now: Instant) -> GateDecision {
        let elapsed = now.duration_since(self.refilled_at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.per_hour / 3600.0).min(self.per_hour);
        self.refilled_at = now;

        let key = (contract_id.to_owned(), stage.map(str::to_owned));
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
                key,
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
            gate.admit("session_duration", Some("discovery"), t0),
            GateDecision::Emit { folded: 0 }
        );
        assert_eq!(
            gate.admit("session_duration", Some("discovery"), t0),
            GateDecision::Aggregated
        );
        assert_eq!(
            gate.admit("session_duration", Some("discovery"), t0),
            GateDecision::Aggregated
        );
        // Another stage and another contract have windows of their own.
        assert_eq!(
            gate.admit("session_duration", Some("validation"), t0),
            GateDecision::Emit { folded: 0 }
        );
        assert_eq!(
            gate.admit("node_feature_dim", Some("discovery"), t0),
            GateDecision::Emit { folded: 0 }
        );
        let later = t0 + Duration::from_secs(10);
        assert_eq!(
            gate.admit("session_duration", Some("discovery"), later),
            GateDecision::Emit { folded: 2 }
        );
    }

    #[test]
    fn zero_window_emits_everything() {
        let (mut gate, t0) = gate(0.0, 3600);
        for _ in 0..5 {
            assert_eq!(gate.admit("c", None, t0), GateDecision::Emit { folded: 0 });
        }
    }

    #[test]
    fn hourly_budget_suppresses_and_refills() {
        let (mut gate, t0) = gate(0.0, 2);
        assert_eq!(gate.admit("a", None, t0), GateDecision::Emit { folded: 0 });
        assert_eq!(gate.admit("a", None, t0), GateDecision::Emit { folded: 0 });
        assert_eq!(gate.admit("a", None, t0), GateDecision::OverBudget);
        // Two per hour: one token every 30 minutes, and the suppressed event is folded into the next.
        let later = t0 + Duration::from_secs(1800);
        assert_eq!(
            gate.admit("a", None, later),
            GateDecision::Emit { folded: 1 }
        );
    }
}
