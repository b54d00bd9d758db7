//! The `pipeline` label of the run metrics (verdicts, violations, durations, memory, authenticity): a
//! pipeline's `service.name`, bounded so that a flood of service names cannot grow the exposition without
//! end.
//!
//! The first [`MAX_PIPELINES`] names seen keep their own series; later names share
//! [`OTHER_PIPELINES`](super::names::value::OTHER_PIPELINES) until the process restarts. Series are never
//! removed here, unlike the health gauges: a removed counter would read as a reset.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use super::labels::MAX_PIPELINES;
use super::names::value;

/// The admitted pipelines, each with the series handles `T` bound for it on first use.
#[derive(Debug)]
pub(super) struct PipelineSeries<T> {
    bound: RwLock<HashMap<Arc<str>, Arc<Bound<T>>>>,
}

/// One pipeline's label value and its series.
#[derive(Debug)]
pub(super) struct Bound<T> {
    pub(super) pipeline: Arc<str>,
    pub(super) series: T,
}

impl<T> Default for PipelineSeries<T> {
    fn default() -> Self {
        Self {
            bound: RwLock::default(),
        }
    }
}

impl<T> PipelineSeries<T> {
    /// The series of `service` (a verdict's or span's `service.name`), bound by `bind` with the pipeline's
    /// label value the first time that value is seen.
    pub(super) fn of(
        &self,
        service: Option<&str>,
        bind: impl FnOnce(&Arc<str>) -> T,
    ) -> Arc<Bound<T>> {
        let name = service.unwrap_or(value::UNKNOWN_SERVICE);
        if let Some(bound) = self.read().get(name) {
            return Arc::clone(bound);
        }
        let mut map = self
            .bound
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let key: &str = if map.contains_key(name) || map.len() < MAX_PIPELINES {
            name
        } else {
            value::OTHER_PIPELINES
        };
        if let Some(bound) = map.get(key) {
            return Arc::clone(bound);
        }
        let pipeline: Arc<str> = Arc::from(key);
        let bound = Arc::new(Bound {
            series: bind(&pipeline),
            pipeline: Arc::clone(&pipeline),
        });
        map.insert(pipeline, Arc::clone(&bound));
        bound
    }

    /// The label values admitted so far.
    pub(super) fn labels(&self) -> Vec<Arc<str>> {
        self.read().keys().cloned().collect()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<Arc<str>, Arc<Bound<T>>>> {
        self.bound
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_past_the_bound_share_one_series() {
        let series = PipelineSeries::<String>::default();
        for index in 0..MAX_PIPELINES {
            let name = format!("pipeline-{index}");
            let bound = series.of(Some(&name), |pipeline| pipeline.to_string());
            assert_eq!(&*bound.pipeline, name);
        }
        let late = series.of(Some("one-too-many"), |pipeline| pipeline.to_string());
        assert_eq!(&*late.pipeline, value::OTHER_PIPELINES);
        let later = series.of(Some("and-another"), |_| unreachable!("bound once"));
        assert!(Arc::ptr_eq(&late, &later));
        // An admitted name keeps its own series after the bound is reached.
        let first = series.of(Some("pipeline-0"), |_| unreachable!("bound once"));
        assert_eq!(&*first.pipeline, "pipeline-0");
        assert_eq!(series.read().len(), MAX_PIPELINES + 1);
    }

    #[test]
    fn a_span_without_a_service_counts_under_the_sdk_default() {
        let series = PipelineSeries::<()>::default();
        assert_eq!(&*series.of(None, |_| ()).pipeline, value::UNKNOWN_SERVICE);
    }
}
