//! Declaring a metric: one call registers it under its name, help text and unit and hands back the handle the
//! processor records through, so a metric's declaration is one statement. Also the series types the metric
//! groups share.
//!
//! Each group declares its metrics as the fields of one struct literal. Fields are evaluated in the order
//! written, and the registry lists metrics in the order they were registered, so that order is the
//! exposition's: reordering fields reorders the `/metrics` text.

use std::borrow::Cow;
use std::sync::atomic::AtomicU64;

use prometheus_client::metrics::exemplar::HistogramWithExemplars;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Metric, Registry, Unit};

use super::names::exemplar;
use ironforge_engine::model::TraceId;

/// A label set: label names are fixed per metric, values may be owned (contract or pipeline ids).
pub(super) type Labels<const N: usize> = [(&'static str, Cow<'static, str>); N];
pub(super) type TraceExemplar = [(&'static str, String); 1];
pub(super) type ExemplarHistogram = HistogramWithExemplars<TraceExemplar>;
pub(super) type ExemplarHistograms<const N: usize> =
    Family<Labels<N>, ExemplarHistogram, fn() -> ExemplarHistogram>;
pub(super) type Histograms<const N: usize> = Family<Labels<N>, Histogram, fn() -> Histogram>;
pub(super) type FloatGauge = Gauge<f64, AtomicU64>;

/// Registers `metric` and returns it; the registry keeps a clone, which shares the handle's series.
pub(super) fn register<M: Metric + Clone>(
    registry: &mut Registry,
    name: &'static str,
    help: &str,
    metric: M,
) -> M {
    registry.register(name, help, metric.clone());
    metric
}

/// Registers a metric whose name ends in its unit, so the exposition carries a `# UNIT` line. The library
/// appends the unit itself, so it is given the name without it.
pub(super) fn register_with_unit<M: Metric + Clone>(
    registry: &mut Registry,
    name: &'static str,
    help: &str,
    unit: Unit,
    metric: M,
) -> M {
    let stem = name
        .strip_suffix(unit.as_str())
        .and_then(|stem| stem.strip_suffix('_'))
        .unwrap_or(name);
    registry.register_with_unit(stem, help, unit, metric.clone());
    metric
}

/// Registers a metric that starts empty: a counter or gauge at zero, or a family of labelled series in which a
/// series appears once it is first touched.
pub(super) fn register_default<M: Metric + Clone + Default>(
    registry: &mut Registry,
    name: &'static str,
    help: &str,
) -> M {
    register(registry, name, help, M::default())
}

pub(super) fn exemplar_histogram(buckets: &[f64]) -> ExemplarHistogram {
    HistogramWithExemplars::new(buckets.iter().copied())
}

/// A family of exemplar histograms; taking a function pointer keeps the family's type nameable.
pub(super) fn exemplar_histograms<const N: usize>(
    constructor: fn() -> ExemplarHistogram,
) -> ExemplarHistograms<N> {
    Family::new_with_constructor(constructor)
}

pub(super) fn trace_exemplar(trace_id: TraceId) -> TraceExemplar {
    [(exemplar::TRACE_ID, trace_id.to_hex())]
}
