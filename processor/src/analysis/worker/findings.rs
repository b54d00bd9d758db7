//! What the worker finds across a pipeline's runs: change points for the worse in each measure and memory that
//! keeps growing, each published as a gauge and logged once when it first appears.

use std::collections::{BTreeMap, HashSet};

use ironforge_analysis::memory::{MemorySample, MemoryTrend, memory_trend};
use ironforge_analysis::regression::change_points;
use ironforge_engine::model::TraceId;
use ironforge_history::SeriesPoint;
use ironforge_telemetry::{InternalEvent, MemoryScope};

use super::Worker;
use crate::analysis::events::{MemoryLeakSuspected, RegressionFound};
use crate::analysis::measures::{self, MEMORY_PEAK};
use crate::analysis::view::Regression;

impl Worker {
    pub(super) fn regressions(
        &mut self,
        pipeline: &str,
        history: &BTreeMap<String, Vec<SeriesPoint>>,
    ) -> Vec<Regression> {
        let mut found = Vec::new();
        for (name, series) in history {
            let Some(direction) = measures::direction(name, &self.contracts) else {
                continue;
            };
            let values: Vec<f64> = series.iter().map(|point| point.value).collect();
            let points = change_points(&values, &self.config.regression);
            let newest = points.last().map(|point| point.index);
            let mut regressed_now = false;
            for point in points {
                if !point.is_regression(direction) {
                    continue;
                }
                let Some(first) = series.get(point.index) else {
                    continue;
                };
                let current = Some(point.index) == newest;
                regressed_now |= current;
                found.push(Regression {
                    measure: name.clone(),
                    direction,
                    first_trace_id: TraceId(first.trace_id),
                    first_decided_unix_nano: first.decided_unix_nano,
                    runs: series.len(),
                    current,
                    change_point: point,
                });
            }
            self.metrics
                .analysis()
                .regression(pipeline, name, regressed_now);
        }
        let current: HashSet<(String, TraceId)> = found
            .iter()
            .map(|r| (r.measure.clone(), r.first_trace_id))
            .collect();
        let before = self.reported.entry(pipeline.to_owned()).or_default();
        for regression in &found {
            if !before.contains(&(regression.measure.clone(), regression.first_trace_id)) {
                RegressionFound {
                    pipeline,
                    regression,
                }
                .emit();
            }
        }
        *before = current;
        found.sort_by(|a, b| b.change_point.impact.total_cmp(&a.change_point.impact));
        found
    }

    pub(super) fn memory_across_runs(
        &mut self,
        pipeline: &str,
        history: &BTreeMap<String, Vec<SeriesPoint>>,
    ) -> Option<MemoryTrend> {
        let series = history.get(MEMORY_PEAK)?;
        let samples: Vec<MemorySample> = series
            .iter()
            .map(|point| MemorySample {
                unix_nano: point.decided_unix_nano,
                bytes: point.value,
            })
            .collect();
        let trend = memory_trend(&samples, &self.config.leak);
        self.memory_trend(pipeline, MemoryScope::History, &trend);
        Some(trend)
    }

    pub(super) fn memory_trend(&mut self, pipeline: &str, scope: MemoryScope, trend: &MemoryTrend) {
        self.metrics.analysis().memory_trend(
            pipeline,
            scope,
            trend.leak,
            trend.growth_bytes_per_second,
        );
        let was = self
            .leaking
            .insert((pipeline.to_owned(), scope), trend.leak)
            .unwrap_or(false);
        if trend.leak && !was {
            MemoryLeakSuspected {
                pipeline,
                scope,
                trend,
            }
            .emit();
        }
    }
}
