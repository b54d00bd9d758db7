//! The metric instruments and counters one [`Instrumentation`](crate::Instrumentation) shares with
//! its layers, its span processor and the `record_*` helpers.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use ironforge_proto::semconv::{Stage, attr, metric};
use opentelemetry::KeyValue;
use opentelemetry::metrics::{BoundHistogram, Gauge, Histogram, Meter, ObservableCounter};

use crate::export::FailureLog;
use crate::overhead::OverheadStats;
use crate::sampler::SamplerState;

/// Bucket bounds in seconds: fine below a second for stages of a fast pipeline, and edges at the
/// default contract limits (3 s per session, 180 s per run) so a histogram alone can tell whether
/// they hold.
const DURATION_BOUNDS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 30.0, 60.0, 120.0, 180.0,
    300.0,
];

/// Authenticity scores live in `0..=1`; the bounds are dense around the 0.87 production threshold.
const AUTHENTICITY_BOUNDS: &[f64] = &[0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.87, 0.9, 0.95, 1.0];

/// The stage a span named, as the metrics label it.
#[derive(Debug, Clone)]
pub(crate) enum StageLabel {
    Known(Stage),
    /// A value outside the conventions, kept as given: judging it is the monitor's job.
    Other(Arc<str>),
}

impl StageLabel {
    pub(crate) fn key_value(&self) -> KeyValue {
        match self {
            StageLabel::Known(stage) => KeyValue::new(attr::STAGE, stage.as_str()),
            StageLabel::Other(value) => KeyValue::new(attr::STAGE, Arc::clone(value)),
        }
    }
}

/// Sessions closed, by stage. A synchronous SDK counter costs an attribute-set lookup per add
/// (about 55 ns); an atomic per known stage costs a few, and an observable counter reports them.
#[derive(Debug, Default)]
pub(crate) struct SessionCounts {
    known: [AtomicU64; 4],
    unstaged: AtomicU64,
    other: Mutex<Vec<(Arc<str>, u64)>>,
}

impl SessionCounts {
    pub(crate) fn add(&self, stage: Option<&StageLabel>) {
        match stage {
            None => {
                self.unstaged.fetch_add(1, Ordering::Relaxed);
            }
            Some(StageLabel::Known(stage)) => {
                if let Some(n) = self.known.get(*stage as usize) {
                    n.fetch_add(1, Ordering::Relaxed);
                }
            }
            Some(StageLabel::Other(value)) => {
                if let Ok(mut other) = self.other.lock() {
                    match other.iter_mut().find(|(v, _)| v == value) {
                        Some((_, n)) => *n += 1,
                        None => other.push((Arc::clone(value), 1)),
                    }
                }
            }
        }
    }

    fn observe(&self, mut report: impl FnMut(u64, &[KeyValue])) {
        for (stage, n) in Stage::ALL.iter().zip(&self.known) {
            let n = n.load(Ordering::Relaxed);
            if n > 0 {
                report(n, &[KeyValue::new(attr::STAGE, stage.as_str())]);
            }
        }
        let n = self.unstaged.load(Ordering::Relaxed);
        if n > 0 {
            report(n, &[]);
        }
        if let Ok(other) = self.other.lock() {
            for (value, n) in other.iter() {
                report(*n, &[KeyValue::new(attr::STAGE, Arc::clone(value))]);
            }
        }
    }
}

/// A duration histogram whose points are labelled by stage.
///
/// A record with an attribute makes the SDK hash the attribute set and look it up in a map behind
/// a lock (about 40 ns of the ~85 ns a record costs). Each of the four known stages gets a handle
/// bound to its attribute set instead, so recording goes straight to the stage's buckets. A handle
/// is bound when its stage is first recorded, not up front: the SDK exports a bound series even
/// before anything is recorded in it, and a stage the pipeline never ran must not appear as an
/// empty series. Other labels and spans without a stage take the ordinary path.
pub(crate) struct StageHistogram {
    histogram: Histogram<f64>,
    bound: [OnceLock<BoundHistogram<f64>>; 4],
}

impl StageHistogram {
    /// A histogram of durations in seconds, with bucket edges at the default contract limits.
    fn durations(meter: &Meter, name: &'static str, description: &'static str) -> Self {
        StageHistogram {
            histogram: meter
                .f64_histogram(name)
                .with_unit("s")
                .with_description(description)
                .with_boundaries(DURATION_BOUNDS.to_vec())
                .build(),
            bound: Default::default(),
        }
    }

    pub(crate) fn record(&self, seconds: f64, stage: Option<&StageLabel>) {
        let bound = match stage {
            Some(StageLabel::Known(known)) => self.bound.get(*known as usize),
            _ => None,
        };
        match (bound, stage) {
            (Some(bound), Some(label)) => bound
                .get_or_init(|| self.histogram.bind(&[label.key_value()]))
                .record(seconds),
            (_, Some(label)) => self.histogram.record(seconds, &[label.key_value()]),
            (_, None) => self.histogram.record(seconds, &[]),
        }
    }
}

pub(crate) struct Shared {
    pub(crate) stage_duration: StageHistogram,
    pub(crate) session_duration: StageHistogram,
    pub(crate) sessions: Arc<SessionCounts>,
    /// Bound to the empty attribute set, which the SDK exports only once something is recorded.
    pub(crate) authenticity: BoundHistogram<f64>,
    pub(crate) memory: Gauge<u64>,
    pub(crate) overhead: Arc<OverheadStats>,
    pub(crate) sampler: Arc<SamplerState>,
    // Held so the callbacks stay tied to this instrumentation's lifetime.
    _overhead_counter: ObservableCounter<f64>,
    _failure_counter: ObservableCounter<u64>,
    _sessions_counter: ObservableCounter<u64>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("overhead", &self.overhead)
            .field("sampler", &self.sampler)
            .finish_non_exhaustive()
    }
}

impl Shared {
    pub(crate) fn new(
        meter: &Meter,
        overhead: Arc<OverheadStats>,
        sampler: Arc<SamplerState>,
        failures: Arc<FailureLog>,
    ) -> Self {
        let overhead_for_callback = Arc::clone(&overhead);
        let _overhead_counter = meter
            .f64_observable_counter(metric::INSTRUMENT_OVERHEAD)
            .with_unit("s")
            .with_description("Time the instrumentation spent on the pipeline's threads.")
            .with_callback(move |observer| {
                let secs = overhead_for_callback.total_nanos() as f64 / 1e9;
                observer.observe(secs, &[]);
            })
            .build();
        let _failure_counter = meter
            .u64_observable_counter(metric::EXPORT_FAILURES)
            .with_unit("{failure}")
            .with_description("OTLP export attempts (spans or metrics) that failed.")
            .with_callback(move |observer| observer.observe(failures.count(), &[]))
            .build();
        let sessions = Arc::new(SessionCounts::default());
        let sessions_for_callback = Arc::clone(&sessions);
        let _sessions_counter = meter
            .u64_observable_counter(metric::SESSIONS_PROCESSED)
            .with_unit("{session}")
            .with_description("Session spans closed.")
            .with_callback(move |observer| {
                sessions_for_callback.observe(|n, attributes| observer.observe(n, attributes));
            })
            .build();
        Shared {
            stage_duration: StageHistogram::durations(
                meter,
                metric::STAGE_DURATION,
                "Duration of each stage span.",
            ),
            session_duration: StageHistogram::durations(
                meter,
                metric::SESSION_DURATION,
                "Duration of each session span.",
            ),
            sessions,
            authenticity: meter
                .f64_histogram(metric::PATTERN_AUTHENTICITY)
                .with_unit("1")
                .with_description("Authenticity scores recorded.")
                .with_boundaries(AUTHENTICITY_BOUNDS.to_vec())
                .build()
                .bind(&[]),
            memory: meter
                .u64_gauge(metric::PROCESS_MEMORY_USAGE)
                .with_unit("By")
                .with_description("Resident memory of the process at the last record_memory call.")
                .build(),
            overhead,
            sampler,
            _overhead_counter,
            _failure_counter,
            _sessions_counter,
        }
    }
}
