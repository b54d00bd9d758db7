//! The monitor's own state: contract file reloads, health scores overall and per pipeline, and the pipelines
//! and traces it lets go.

use std::borrow::Cow;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

use super::names::{label, metric, value};
use super::registry::{FloatGauge, Labels, register_default};

#[derive(Debug)]
pub(super) struct HealthMetrics {
    config_reloads: Family<Labels<1>, Counter>,
    health: FloatGauge,
    pipeline_health: Family<Labels<1>, FloatGauge>,
    pipelines_forgotten: Counter,
    traces_unmonitored: Counter,
}

impl HealthMetrics {
    pub(super) fn register(registry: &mut Registry) -> Self {
        Self {
            config_reloads: register_default(
                registry,
                metric::CONFIG_RELOADS,
                "Contract file reloads, by outcome",
            ),
            health: register_default(
                registry,
                metric::HEALTH_SCORE,
                "Health score over the verdicts of every monitored pipeline, 0 to 100",
            ),
            pipeline_health: register_default(
                registry,
                metric::PIPELINE_HEALTH_SCORE,
                "Health score of each monitored pipeline, 0 to 100",
            ),
            pipelines_forgotten: register_default(
                registry,
                metric::PIPELINES_FORGOTTEN,
                "Pipelines no longer tracked because more were seen than the processor keeps",
            ),
            traces_unmonitored: register_default(
                registry,
                metric::TRACES_UNMONITORED,
                "Traces with no IRONFORGE span kind, dropped without a verdict",
            ),
        }
    }

    pub(super) fn config_reload(&self, success: bool) {
        let outcome = if success {
            value::SUCCESS
        } else {
            value::FAILURE
        };
        self.config_reloads
            .get_or_create(&[(label::OUTCOME, Cow::Borrowed(outcome))])
            .inc();
    }

    pub(super) fn health(&self, score: f64) {
        set_score(&self.health, score);
    }

    pub(super) fn pipeline_health(&self, pipeline: &str, score: f64) {
        let labels = [(label::PIPELINE, Cow::Owned(pipeline.to_owned()))];
        set_score(&self.pipeline_health.get_or_create(&labels), score);
    }

    pub(super) fn pipeline_forgotten(&self, pipeline: &str) {
        self.pipeline_health
            .remove(&[(label::PIPELINE, Cow::Owned(pipeline.to_owned()))]);
        self.pipelines_forgotten.inc();
    }

    pub(super) fn trace_unmonitored(&self) {
        self.traces_unmonitored.inc();
    }
}

fn set_score(gauge: &FloatGauge, score: f64) {
    if !score.is_nan() {
        gauge.set(score.clamp(0.0, 100.0));
    }
}
