//! The span metrics: session and run durations, peak memory and authenticity, recorded for every monitored
//! span under its pipeline. The hot path of the metrics, so it records through handles bound once per
//! pipeline and takes exemplars sparingly.

use std::borrow::Cow;
use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use ironforge_proto::semconv::{SpanKind, Stage, attr};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

use super::names::{label, metric, value};
use super::pipelines::{Bound, PipelineSeries};
use super::registry::{
    ExemplarHistogram, ExemplarHistograms, FloatGauge, Histograms, Labels, exemplar_histogram,
    exemplar_histograms, register, register_with_unit, trace_exemplar,
};
use ironforge_engine::model::SpanRecord;

/// Session durations, 10 ms to 10 s: 3 s is the default single-session contract, and a fast session (the
/// bundled replay's take microseconds) still falls in a bucket that reads as "under 10 ms".
const SESSION_BUCKETS: &[f64] = &[0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0];
/// Run durations, 100 ms to 10 min: 180 s is the default full-discovery contract.
const RUN_BUCKETS: &[f64] = &[
    0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 180.0, 300.0, 600.0,
];
/// Authenticity scores in 0..1; 0.87 is the default production threshold.
/// Memory peaks, 16 MiB to 1 GiB: 100 MiB is the default span and run memory contract.
const MEMORY_BUCKETS: &[f64] = &[
    16.0 * MIB,
    32.0 * MIB,
    64.0 * MIB,
    100.0 * MIB,
    128.0 * MIB,
    256.0 * MIB,
    512.0 * MIB,
    1024.0 * MIB,
];
const MIB: f64 = 1024.0 * 1024.0;
const AUTHENTICITY_BUCKETS: &[f64] = &[
    0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.87, 0.9, 0.95, 0.99, 1.0,
];

#[derive(Debug)]
pub(super) struct SpanMetrics {
    session_duration: ExemplarHistograms<2>,
    run_duration: ExemplarHistograms<1>,
    memory_peak: Family<Labels<2>, FloatGauge>,
    memory_peaks: Histograms<2>,
    authenticity: ExemplarHistograms<2>,
    bound: PipelineSeries<BoundSeries>,
    /// Tells these metrics apart in [`LAST_BOUND`], which outlives them.
    id: u64,
    /// Exemplar gates of the session-duration, run-duration and authenticity histograms.
    exemplars: [SpanExemplars; 3],
}

impl SpanMetrics {
    pub(super) fn register(registry: &mut Registry) -> Self {
        Self {
            session_duration: register_with_unit(
                registry,
                metric::SESSION_DURATION,
                "Duration of each session span",
                Unit::Seconds,
                exemplar_histograms(|| exemplar_histogram(SESSION_BUCKETS)),
            ),
            run_duration: register_with_unit(
                registry,
                metric::RUN_DURATION,
                "Duration of each run span",
                Unit::Seconds,
                exemplar_histograms(|| exemplar_histogram(RUN_BUCKETS)),
            ),
            memory_peak: register_with_unit(
                registry,
                metric::MEMORY_PEAK,
                "Peak memory reported by the latest span of each kind",
                Unit::Bytes,
                Family::default(),
            ),
            memory_peaks: register_with_unit(
                registry,
                metric::MEMORY_PEAKS,
                "Peak memory reported by each monitored span",
                Unit::Bytes,
                Family::new_with_constructor(|| Histogram::new(MEMORY_BUCKETS.iter().copied())),
            ),
            authenticity: register(
                registry,
                metric::PATTERN_AUTHENTICITY,
                "Authenticity scores reported by pattern and session spans",
                exemplar_histograms(|| exemplar_histogram(AUTHENTICITY_BUCKETS)),
            ),
            bound: PipelineSeries::default(),
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            exemplars: [
                SpanExemplars::new(),
                SpanExemplars::new(),
                SpanExemplars::new(),
            ],
        }
    }

    /// A trace-id exemplar (a hex string to format) is taken at most once per [`SpanExemplars::INTERVAL`].
    pub(super) fn span(&self, span: &SpanRecord, now: Instant) {
        let Some(kind) = span.kind else { return };
        let observe = |histogram: &ExemplarHistogram, gate: &SpanExemplars, value: f64| {
            let (label_set, at) = gate
                .admit(now)
                .then(|| (trace_exemplar(span.trace_id), SystemTime::now()))
                .unzip();
            histogram.observe(value, label_set, at);
        };
        let gates = &self.exemplars;
        let bound = self.bound_for(span.service_name.as_ref());
        let (pipeline, series) = (&bound.pipeline, &bound.series);
        let with_pipeline = |name: &'static str, value: &'static str| {
            [
                (label::PIPELINE, Cow::Owned(pipeline.to_string())),
                (name, Cow::Borrowed(value)),
            ]
        };
        let seconds = span.duration_seconds();
        match kind {
            SpanKind::Session => {
                let stage = span.stage.map_or(value::UNKNOWN, |stage| stage.as_str());
                let index = span.stage.map_or(Stage::ALL.len(), |stage| stage as usize);
                let histogram = series.session_duration[index].get_or_init(|| {
                    self.session_duration
                        .get_or_create(&with_pipeline(label::STAGE, stage))
                        .clone()
                });
                observe(histogram, &gates[0], seconds);
            }
            SpanKind::Run => {
                let histogram = series.run_duration.get_or_init(|| {
                    let labels = [(label::PIPELINE, Cow::Owned(pipeline.to_string()))];
                    self.run_duration.get_or_create(&labels).clone()
                });
                observe(histogram, &gates[1], seconds);
            }
            SpanKind::Init | SpanKind::Stage | SpanKind::Pattern => {}
        }
        let kind_labels = || with_pipeline(label::SPAN_KIND, kind.as_str());
        if let Some(peak) = span
            .facts
            .number(attr::MEMORY_PEAK)
            .filter(|peak| peak.is_finite())
        {
            series.memory_peak[kind as usize]
                .get_or_init(|| self.memory_peak.get_or_create(&kind_labels()).clone())
                .set(peak);
            series.memory_peaks[kind as usize]
                .get_or_init(|| self.memory_peaks.get_or_create(&kind_labels()).clone())
                .observe(peak);
        }
        if let Some(score) = span
            .facts
            .number(attr::PATTERN_AUTHENTICITY)
            .filter(|score| score.is_finite())
        {
            let histogram = series.authenticity[kind as usize]
                .get_or_init(|| self.authenticity.get_or_create(&kind_labels()).clone());
            observe(histogram, &gates[2], score);
        }
    }

    /// The series of a span's pipeline: the last one this thread recorded under when the span names the
    /// same service (the same interned `service.name`), which saves a shared lock and a hash per span, as
    /// spans come in runs of one pipeline.
    fn bound_for(&self, service: Option<&Arc<str>>) -> Arc<Bound<BoundSeries>> {
        let same = |(id, last, _): &LastBound| {
            *id == self.id && last.as_ref().map(Arc::as_ptr) == service.map(Arc::as_ptr)
        };
        let cached = LAST_BOUND.with(|last| {
            let last = last.borrow();
            last.as_ref()
                .filter(|entry| same(entry))
                .map(|(_, _, bound)| Arc::clone(bound))
        });
        if let Some(bound) = cached {
            return bound;
        }
        let bound = self
            .bound
            .of(service.map(|name| &**name), |_| BoundSeries::default());
        LAST_BOUND.with(|last| {
            *last.borrow_mut() = Some((self.id, service.cloned(), Arc::clone(&bound)));
        });
        bound
    }
}

/// Numbers each [`SpanMetrics`], so a thread's [`LAST_BOUND`] never serves another's series.
static NEXT_ID: AtomicU64 = AtomicU64::new(0);

/// Which metrics, which service (held, so its address cannot name another), and its series.
type LastBound = (u64, Option<Arc<str>>, Arc<Bound<BoundSeries>>);

thread_local! {
    static LAST_BOUND: RefCell<Option<LastBound>> = const { RefCell::new(None) };
}

/// One pipeline's series handles, bound on first use, so a span's record hashes no label set. Bound lazily,
/// so a stage or kind that never occurs exports no empty series.
#[derive(Debug, Default)]
struct BoundSeries {
    /// Per stage, in `Stage::ALL` order, then spans without a stage.
    session_duration: [OnceLock<ExemplarHistogram>; Stage::ALL.len() + 1],
    run_duration: OnceLock<ExemplarHistogram>,
    /// Per span kind, in `SpanKind::ALL` order.
    memory_peak: [OnceLock<FloatGauge>; SpanKind::ALL.len()],
    memory_peaks: [OnceLock<Histogram>; SpanKind::ALL.len()],
    authenticity: [OnceLock<ExemplarHistogram>; SpanKind::ALL.len()],
}

/// How often span histograms take a new exemplar. Each exemplar is a formatted trace id; taking one per
/// span cost more than the rest of the record, and a bucket's exemplar only needs to be recent.
#[derive(Debug)]
struct SpanExemplars {
    start: Instant,
    /// Milliseconds after `start` of the last exemplar taken; `u64::MAX` before the first.
    last_ms: AtomicU64,
}

impl SpanExemplars {
    const INTERVAL: Duration = Duration::from_secs(1);

    fn new() -> Self {
        Self {
            start: Instant::now(),
            last_ms: AtomicU64::new(u64::MAX),
        }
    }

    /// Whether a record at `now` takes an exemplar.
    fn admit(&self, now: Instant) -> bool {
        let now = u64::try_from(now.saturating_duration_since(self.start).as_millis())
            .unwrap_or(u64::MAX);
        let last = self.last_ms.load(Ordering::Relaxed);
        let due = last == u64::MAX || now.saturating_sub(last) >= Self::INTERVAL.as_millis() as u64;
        due && self
            .last_ms
            .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
    }
}
