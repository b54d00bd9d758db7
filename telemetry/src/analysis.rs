//! The analysis metrics: where the latest run's critical path went, regression and leak flags, and what
//! analysing costs.

use std::borrow::Cow;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

use super::labels::MemoryScope;
use super::names::{label, metric};
use super::registry::{FloatGauge, Labels, register_default, register_with_unit};

/// From a small trace's tens of microseconds to a history query on a loaded disk.
const ANALYSIS_BUCKETS: &[f64] = &[
    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
];

#[derive(Debug)]
pub struct AnalysisMetrics {
    critical_path_share: Family<Labels<2>, FloatGauge>,
    regression: Family<Labels<2>, Gauge>,
    memory_leak: Family<Labels<2>, Gauge>,
    memory_growth: Family<Labels<2>, FloatGauge>,
    analysed: Counter,
    dropped: Counter,
    duration: Histogram,
    history_errors: Counter,
}

fn pipeline_and<'a>(
    pipeline: &str,
    name: &'static str,
    value: impl Into<Cow<'a, str>>,
) -> Labels<2> {
    [
        (label::PIPELINE, Cow::Owned(pipeline.to_owned())),
        (name, Cow::Owned(value.into().into_owned())),
    ]
}

impl AnalysisMetrics {
    pub(super) fn register(registry: &mut Registry) -> Self {
        Self {
            critical_path_share: register_default(
                registry,
                metric::CRITICAL_PATH_SHARE,
                "Share of the latest run's critical path spent in each stage, 0 to 1",
            ),
            regression: register_default(
                registry,
                metric::REGRESSION,
                "1 when the newest change point of a measure over the run history is a regression",
            ),
            memory_leak: register_default(
                registry,
                metric::MEMORY_LEAK,
                "1 when memory grows like a leak, within the latest run or across runs",
            ),
            memory_growth: register_default(
                registry,
                metric::MEMORY_GROWTH,
                "Least-squares memory growth, in bytes per second",
            ),
            analysed: register_default(
                registry,
                metric::TRACES_ANALYSED,
                "Decided traces analysed",
            ),
            dropped: register_default(
                registry,
                metric::ANALYSIS_DROPPED,
                "Decided traces not analysed because the analysis queue was full",
            ),
            duration: register_with_unit(
                registry,
                metric::ANALYSIS_DURATION,
                "Time the analysis thread spends on one decided trace, with the history write and comparison across runs that follow it (once for a burst)",
                Unit::Seconds,
                Histogram::new(ANALYSIS_BUCKETS.iter().copied()),
            ),
            history_errors: register_default(
                registry,
                metric::HISTORY_ERRORS,
                "Failed reads and writes of the run history database",
            ),
        }
    }

    pub fn critical_path_share(&self, pipeline: &str, stage: &'static str, share: f64) {
        self.critical_path_share
            .get_or_create(&pipeline_and(pipeline, label::STAGE, stage))
            .set(share);
    }

    pub fn regression(&self, pipeline: &str, measure: &str, regressed: bool) {
        self.regression
            .get_or_create(&pipeline_and(pipeline, label::MEASURE, measure))
            .set(i64::from(regressed));
    }

    pub fn memory_trend(&self, pipeline: &str, scope: MemoryScope, leak: bool, growth: f64) {
        let labels = pipeline_and(pipeline, label::SCOPE, scope.as_str());
        self.memory_leak.get_or_create(&labels).set(i64::from(leak));
        self.memory_growth
            .get_or_create(&labels)
            .set(if growth.is_finite() { growth } else { 0.0 });
    }

    pub fn analysed(&self, seconds: f64) {
        self.analysed.inc();
        self.duration.observe(seconds);
    }

    pub fn dropped(&self) {
        self.dropped.inc();
    }

    pub fn history_error(&self) {
        self.history_errors.inc();
    }
}
