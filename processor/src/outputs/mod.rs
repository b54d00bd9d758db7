//! Where decisions go: metrics, the console, the `WatchViolations` stream, OTLP logs downstream, and the
//! bounded memory the HTTP API reads.
//!
//! Metrics and verdicts count every violation; the event outputs (console, stream, logs) pass through the
//! [`EventGate`] so floods are folded and counted instead of drowning them.
//!
//! The gate, the recent list and the OTLP logs exporter are the `ironforge-outputs` crate; this module is the
//! fan-out that feeds them, beside the metrics, the console, the watch stream and the analyst.

mod events;

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use tokio::sync::broadcast;

use crate::analysis::Analyst;
use crate::config::EventsConfig;
use crate::verdict::{TraceVerdict, Violation};
use events::{EventsSuppressed, TraceDecided, ViolationDecided};
use ironforge_outputs::gate::{EventGate, GateDecision, WindowKey};
use ironforge_outputs::otlp_logs::{DownstreamStatus, OtlpLogsExporter};
use ironforge_outputs::{RecentViolations, ViolationPage};
use ironforge_telemetry::{InternalEvent, Metrics};

/// Violations kept for the HTTP API.
const RECENT_VIOLATIONS_KEPT: usize = 10_000;
/// Violations buffered per `WatchViolations` subscriber before it lags.
const WATCH_BUFFER: usize = 4096;

#[derive(Debug)]
pub struct Outputs {
    metrics: Arc<Metrics>,
    watch: broadcast::Sender<Arc<Violation>>,
    logs: Option<OtlpLogsExporter>,
    gate: Mutex<EventGate>,
    recent: Mutex<RecentViolations>,
    analysis: Option<Analyst>,
}

impl Outputs {
    pub fn new(
        metrics: Arc<Metrics>,
        events: &EventsConfig,
        logs: Option<OtlpLogsExporter>,
    ) -> Self {
        Self {
            metrics,
            watch: broadcast::channel(WATCH_BUFFER).0,
            logs,
            gate: Mutex::new(EventGate::new(events, Instant::now())),
            recent: Mutex::new(RecentViolations::new(RECENT_VIOLATIONS_KEPT)),
            analysis: None,
        }
    }

    /// Decided traces also go to `analyst`: the engine then hands over each trace's spans with its verdict.
    pub fn with_analysis(mut self, analyst: Analyst) -> Self {
        self.analysis = Some(analyst);
        self
    }

    pub fn analysis(&self) -> Option<&Analyst> {
        self.analysis.as_ref()
    }

    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// Where delivery to the OTLP logs endpoint stands; `None` without one.
    pub fn downstream(&self) -> Option<DownstreamStatus> {
        self.logs.as_ref().map(OtlpLogsExporter::status)
    }

    pub fn reconfigure(&self, events: &EventsConfig) {
        self.gate
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .reconfigure(events);
    }

    /// A stream of the violation events that pass the gate.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Violation>> {
        self.watch.subscribe()
    }

    pub fn violations_since(&self, since_unix_nano: u64, limit: usize) -> Vec<Violation> {
        self.recent
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .since(since_unix_nano, limit)
    }

    /// The newest kept violations; see [`RecentViolations::latest`].
    pub fn latest_violations(&self, since_unix_nano: u64, limit: usize) -> (Vec<Violation>, u64) {
        self.recent
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .latest(since_unix_nano, limit)
    }

    /// A page of the kept violations; see [`RecentViolations::page`].
    pub fn violations_page(&self, from: u64, since_unix_nano: u64, limit: usize) -> ViolationPage {
        self.recent
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .page(from, since_unix_nano, limit)
    }

    /// Lists violations given before a restart, as they were, without handing them on again.
    pub fn restore_violations(&self, violations: impl IntoIterator<Item = Violation>) {
        let mut recent = self.recent.lock().unwrap_or_else(PoisonError::into_inner);
        for violation in violations {
            recent.push(violation);
        }
    }

    pub fn violation(&self, mut violation: Violation, now: Instant) {
        self.metrics.violation(&violation);
        self.recent
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(violation.clone());
        let decision = self
            .gate
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .admit(
                WindowKey {
                    pipeline: violation.pipeline.as_deref(),
                    contract_id: &violation.contract_id,
                    stage: violation.stage.as_deref(),
                },
                now,
            );
        let folded = match decision {
            GateDecision::Emit { folded } => folded,
            GateDecision::Aggregated | GateDecision::OverBudget => {
                EventsSuppressed {
                    contract_id: &violation.contract_id,
                    decision,
                    metrics: &self.metrics,
                }
                .emit();
                return;
            }
        };
        if folded > 0 {
            violation.message.push_str(&format!(
                " (+{folded} similar of this pipeline on this contract and stage suppressed since the last event)"
            ));
        }
        ViolationDecided {
            violation: &violation,
        }
        .emit();
        if let Some(logs) = &self.logs {
            logs.send(&violation);
        }
        // No subscriber is not an error: the stream is optional.
        let _ = self.watch.send(Arc::new(violation));
    }

    pub fn verdict(&self, verdict: &TraceVerdict, revised: bool) {
        if !revised {
            self.metrics.verdict(verdict);
        }
        TraceDecided { verdict, revised }.emit();
    }
}
