//! The output metrics: violation events held back, and what each output delivered, lost, retried and keeps
//! queued.

use std::borrow::Cow;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::{Registry, Unit};

use super::names::{label, metric, value};
use super::registry::{Labels, register_default, register_with_unit};

type PerOutput<M> = Family<Labels<1>, M>;

#[derive(Debug)]
pub(super) struct OutputMetrics {
    events_suppressed: PerOutput<Counter>,
    exported: PerOutput<Counter>,
    dropped: PerOutput<Counter>,
    queue_depth: PerOutput<Gauge>,
    queue_bytes: PerOutput<Gauge>,
    retries: PerOutput<Counter>,
    overflow: PerOutput<Counter>,
}

impl OutputMetrics {
    pub(super) fn register(registry: &mut Registry) -> Self {
        let metrics = Self {
            events_suppressed: register_default(
                registry,
                metric::EVENTS_SUPPRESSED,
                "Violation events not emitted because of rate limiting or deduplication",
            ),
            exported: register_default(
                registry,
                metric::OUTPUT_EXPORTED,
                "Records an output delivered downstream",
            ),
            dropped: register_default(
                registry,
                metric::OUTPUT_DROPPED,
                "Records an output lost: queue full, export failed after retries, or refused downstream",
            ),
            queue_depth: register_default(
                registry,
                metric::QUEUE_DEPTH,
                "Records waiting in an output's queue",
            ),
            queue_bytes: register_with_unit(
                registry,
                metric::QUEUE_BYTES,
                "What the records waiting in an output's queue take on disk",
                Unit::Bytes,
                Family::default(),
            ),
            retries: register_default(
                registry,
                metric::OUTPUT_RETRIES,
                "Failed export attempts of an output that it tries again",
            ),
            overflow: register_default(
                registry,
                metric::OUTPUT_OVERFLOW,
                "Records an output dropped because its queue was full",
            ),
        };
        // The watch stream is always there; its losses read 0 until it has any.
        metrics
            .dropped
            .get_or_create_owned(&labels(value::WATCH_STREAM));
        metrics
    }

    /// Starts an output's counters and queue gauges at zero, so they read 0 rather than nothing until its
    /// first event.
    pub(super) fn started(&self, output: &str) {
        let labels = labels(output);
        for family in [&self.exported, &self.dropped, &self.retries, &self.overflow] {
            family.get_or_create_owned(&labels);
        }
        for family in [&self.queue_depth, &self.queue_bytes] {
            family.get_or_create_owned(&labels);
        }
    }

    /// Starts the held-back count of each contract at zero.
    pub(super) fn contracts<'a>(&self, contracts: impl IntoIterator<Item = &'a str>) {
        for contract in contracts {
            self.events_suppressed
                .get_or_create_owned(&[(label::CONTRACT, Cow::Owned(contract.to_owned()))]);
        }
    }

    pub(super) fn events_suppressed(&self, contract: &str, count: u64) {
        self.events_suppressed
            .get_or_create(&[(label::CONTRACT, Cow::Owned(contract.to_owned()))])
            .inc_by(count);
    }

    pub(super) fn exported(&self, output: &str, count: u64) {
        self.exported.get_or_create(&labels(output)).inc_by(count);
    }

    pub(super) fn dropped(&self, output: &str, count: u64) {
        self.dropped.get_or_create(&labels(output)).inc_by(count);
    }

    pub(super) fn queue_depth(&self, output: &str, depth: usize) {
        self.queue_depth
            .get_or_create(&labels(output))
            .set(i64::try_from(depth).unwrap_or(i64::MAX));
    }

    pub(super) fn queue_bytes(&self, output: &str, bytes: u64) {
        self.queue_bytes
            .get_or_create(&labels(output))
            .set(i64::try_from(bytes).unwrap_or(i64::MAX));
    }

    pub(super) fn retry(&self, output: &str) {
        self.retries.get_or_create(&labels(output)).inc();
    }

    pub(super) fn overflow(&self, output: &str, count: u64) {
        self.overflow.get_or_create(&labels(output)).inc_by(count);
    }
}

fn labels(output: &str) -> Labels<1> {
    [(label::OUTPUT, Cow::Owned(output.to_owned()))]
}
