//! The run's readings the pages set against limits, taken from where the contracts take them: the peak
//! memory from `ironforge.memory.peak` (what `run_memory_peak` reads), the mean and lowest authenticity from
//! `ironforge.pattern.authenticity`. The analysis carries every trace-scoped contract's reading, held or
//! broken; without an analysis the verdict keeps a reading only when it broke, so a reading it lacks is said
//! to be within its limit, and memory falls back, labelled, to the `process.memory.usage` readings.

use ironforge_analysis::TraceAnalysis;
use ironforge_proto::semconv::attr;

use super::{AUTHENTICITY_CONTRACT, MEAN_AUTHENTICITY_CONTRACT, MEMORY_CONTRACT};
use crate::verdict::{TraceVerdict, Violation};

/// Where the memory figure on a run's page comes from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum MemoryPeak {
    /// `ironforge.memory.peak` as the memory contract read it, held or broken.
    Contract(f64),
    /// The contract kept no reading (it held, or the run reported no `ironforge.memory.peak`); this is the
    /// highest `process.memory.usage` a span reported at its end.
    ProcessUsage(f64),
    /// No memory figure at all.
    Unknown,
}

impl MemoryPeak {
    pub(super) fn of(verdict: &TraceVerdict, analysis: Option<&TraceAnalysis>) -> Self {
        let read = analysis
            .and_then(|a| {
                a.contract_readings
                    .iter()
                    .find(|reading| reading.contract_id == MEMORY_CONTRACT)
            })
            .map(|reading| reading.value);
        let broken = verdict
            .violations
            .iter()
            .filter(|v| v.contract_id == MEMORY_CONTRACT)
            .map(|v| v.observed);
        let peak = read
            .into_iter()
            .chain(broken)
            .filter(|peak| peak.is_finite())
            .reduce(f64::max);
        match (peak, analysis.and_then(|a| a.memory.as_ref())) {
            (Some(peak), _) => MemoryPeak::Contract(peak),
            (None, Some(trend)) => MemoryPeak::ProcessUsage(trend.peak_bytes),
            (None, None) => MemoryPeak::Unknown,
        }
    }

    pub(super) fn bytes(self) -> Option<f64> {
        match self {
            MemoryPeak::Contract(bytes) | MemoryPeak::ProcessUsage(bytes) => Some(bytes),
            MemoryPeak::Unknown => None,
        }
    }

    /// The attribute the figure is read from.
    pub(super) fn source(self) -> &'static str {
        match self {
            MemoryPeak::Contract(_) => attr::MEMORY_PEAK,
            MemoryPeak::ProcessUsage(_) | MemoryPeak::Unknown => attr::PROCESS_MEMORY_USAGE,
        }
    }
}

/// The run's authenticity as far as the verdict tells it.
#[derive(Debug, Clone)]
pub(super) struct Authenticity<'a> {
    /// The run's mean, when it broke its floor.
    pub mean: Option<&'a Violation>,
    /// Each scored session or pattern that broke the floor.
    pub below: Vec<&'a Violation>,
}

impl<'a> Authenticity<'a> {
    pub(super) fn of(verdict: &'a TraceVerdict) -> Self {
        let of = |id: &'static str| {
            verdict
                .violations
                .iter()
                .filter(move |v| v.contract_id == id)
        };
        Self {
            mean: of(MEAN_AUTHENTICITY_CONTRACT).next(),
            below: of(AUTHENTICITY_CONTRACT).collect(),
        }
    }

    /// The lowest score below the floor.
    pub(super) fn lowest(&self) -> Option<&'a Violation> {
        self.below
            .iter()
            .copied()
            .min_by(|a, b| a.observed.total_cmp(&b.observed))
    }
}
