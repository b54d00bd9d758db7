//! What the engine keeps for one trace while it is being assembled.
//!
//! Span-scoped contracts are decided as each span arrives, so a trace keeps of its spans only what the
//! trace-scoped measures and the verdict read later: ids, times, kind, stage, and the name and session as
//! indexes into a per-trace string table. Attribute values feed running accumulators and are dropped.

use std::sync::Arc;
use std::time::Instant;

use foldhash::HashSet;

use ironforge_proto::semconv::{SpanKind, Stage, attr};

use super::contracts::{ContractSet, SpanView};
use super::decide::Tally;
use super::kept_ids::KeptIds;
use crate::config::MeasureConfig;
use crate::decided_trace::DecidedSpan;
use crate::intern::Interner;
use crate::model::{SpanId, SpanRecord};
use crate::verdict::Violation;

/// A span as a trace in flight keeps it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KeptSpan {
    pub span_id: SpanId,
    pub parent_span_id: Option<SpanId>,
    pub start_unix_nano: u64,
    pub end_unix_nano: u64,
    /// Index into the trace's string table.
    name: u32,
    /// Index into the trace's string table, [`NO_STRING`] when the span has no session.
    session: u32,
    pub kind: Option<SpanKind>,
    pub stage: Option<Stage>,
    /// `process.memory.usage` in KiB, [`NO_MEMORY`] when the span carries none: analysis reads a run's
    /// memory over time from it. KiB in 32 bits keeps a kept span within 48 bytes and reaches 4 TiB.
    memory_kib: u32,
}

const NO_STRING: u32 = u32::MAX;
const NO_MEMORY: u32 = u32::MAX;

impl KeptSpan {
    /// A span with this id and nothing else, for tests of what keys spans by id.
    #[cfg(test)]
    pub(super) fn with_id(span_id: SpanId) -> Self {
        Self {
            span_id,
            parent_span_id: None,
            start_unix_nano: 0,
            end_unix_nano: 0,
            name: NO_STRING,
            session: NO_STRING,
            kind: None,
            stage: None,
            memory_kib: NO_MEMORY,
        }
    }

    pub fn duration_seconds(&self) -> f64 {
        self.end_unix_nano.saturating_sub(self.start_unix_nano) as f64 / 1e9
    }

    pub fn memory_bytes(&self) -> Option<u64> {
        (self.memory_kib != NO_MEMORY).then_some(u64::from(self.memory_kib) * 1024)
    }
}

/// A running measure of one trace-scoped contract.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Accumulator {
    /// The contract is span-scoped or reads the kept spans at decision time.
    None,
    Max(Option<f64>),
    Mean {
        sum: f64,
        count: u64,
    },
    /// Which required members were seen; `None` until a span in scope carried the attribute.
    Seen(Option<Vec<bool>>),
}

/// Where a trace's string table is searched from: span names are few and come first; a session's spans
/// come together, after the sessions before it.
#[derive(Debug, Clone, Copy)]
enum Scan {
    FromFirst,
    FromLast,
}

/// Where a stage's counts sit in [`TraceState::stage_spans`]: its place in [`Stage::ALL`].
pub(super) fn stage_slot(stage: Stage) -> Option<usize> {
    Stage::ALL.iter().position(|s| *s == stage)
}

/// How many spans of one stage a trace holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct StageSpans {
    pub spans: u32,
    pub sessions: u32,
}

/// A trace in flight.
#[derive(Debug)]
pub(crate) struct TraceState {
    /// The contracts the trace began under: its accumulators follow their layout, so a reload decides the
    /// traces in flight under the contracts that measured them.
    pub contracts: Arc<ContractSet>,
    pub spans: Vec<KeptSpan>,
    /// Every span id the trace was given is here or in `over_limit_ids`: an exporter retries a request
    /// whose answer it did not get, and a span given twice must count once.
    kept_ids: KeptIds,
    /// Ids of the spans given past the trace's limits, which `spans` does not hold.
    over_limit_ids: HashSet<SpanId>,
    /// The trace's distinct span names and sessions, each once: they come through the engine's
    /// [`Interner`], so one address is one text. A trace holds a few dozen, which a scan finds without the
    /// memory of an index beside them.
    strings: Vec<Arc<str>>,
    pub accumulators: Vec<Accumulator>,
    /// `ironforge.run.session_count` of the trace's run span.
    pub declared_sessions: Option<i64>,
    /// Per stage of [`Stage::ALL`]: spans of that stage, and session spans among them. Every span counts,
    /// kept or over the limits, so a partial trace is told from a whole one however large.
    stage_spans: [StageSpans; Stage::ALL.len()],
    /// Attribute values cut or dropped by the attribute limits, over the trace's spans.
    pub attributes_truncated: u64,
    pub service_name: Option<Arc<str>>,
    /// Whether any span carried an IRONFORGE span kind: traces with none are not monitored.
    pub monitored: bool,
    /// When the root span (a span without parent) arrived.
    pub root_seen_at: Option<Instant>,
    pub last_seen_at: Instant,
    /// Approximate bytes this trace holds, as counted against the engine's memory budget.
    pub bytes: usize,
    /// Spans checked against span-scoped contracts but not kept, because the trace was over its limits.
    pub spans_over_limit: u64,
    /// Span-scoped violations already emitted, up to `max_violations_per_trace`.
    pub violations: Vec<Violation>,
    /// Violations emitted but left out of `violations` by the per-trace bound.
    pub violations_over_limit: u64,
    /// What all the trace's violations add up to, those left out included.
    pub tally: Tally,
}

impl TraceState {
    /// The spans of `stage` the trace holds, kept or over its limits.
    pub(super) fn stage_spans(&self, stage: Stage) -> StageSpans {
        stage_slot(stage)
            .and_then(|slot| self.stage_spans.get(slot))
            .copied()
            .unwrap_or_default()
    }

    pub(super) fn new(contracts: Arc<ContractSet>, now: Instant) -> Self {
        let accumulators = contracts
            .contracts()
            .iter()
            .map(|contract| match &contract.config.measure {
                MeasureConfig::AttributeMax(_) => Accumulator::Max(None),
                MeasureConfig::AttributeMean(_) => Accumulator::Mean { sum: 0.0, count: 0 },
                MeasureConfig::ValuesMissing(_) => Accumulator::Seen(None),
                _ => Accumulator::None,
            })
            .collect::<Vec<_>>();
        let bytes = size_of::<Self>() + accumulators.len() * size_of::<Accumulator>();
        Self {
            contracts,
            spans: Vec::new(),
            kept_ids: KeptIds::default(),
            over_limit_ids: HashSet::default(),
            strings: Vec::new(),
            accumulators,
            declared_sessions: None,
            stage_spans: Default::default(),
            attributes_truncated: 0,
            service_name: None,
            monitored: false,
            root_seen_at: None,
            last_seen_at: now,
            bytes,
            spans_over_limit: 0,
            violations: Vec::new(),
            violations_over_limit: 0,
            tally: Tally::default(),
        }
    }

    /// Whether the trace was given a span of this id already.
    pub(super) fn has_seen(&self, span_id: SpanId) -> bool {
        self.kept_ids.contains(span_id, &self.spans) || self.over_limit_ids.contains(&span_id)
    }

    /// Remembers the id of a span checked but not kept. Returns the bytes it added.
    pub(super) fn over_limit(&mut self, span_id: SpanId) -> usize {
        self.spans_over_limit += 1;
        self.over_limit_ids.insert(span_id);
        self.bytes += OVER_LIMIT_ID_BYTES;
        OVER_LIMIT_ID_BYTES
    }

    /// The ids of every span the trace was given, sorted, for the decided trace to know its own spans.
    pub(super) fn seen_ids(&self) -> Box<[SpanId]> {
        let mut ids: Vec<SpanId> = self.spans.iter().map(|span| span.span_id).collect();
        ids.extend(self.over_limit_ids.iter().copied());
        ids.sort_unstable();
        ids.into_boxed_slice()
    }

    /// Folds a span's facts into the trace-scoped accumulators. Every span counts, kept or over the limits.
    pub(super) fn accumulate(&mut self, span: &SpanRecord) {
        self.monitored |= span.kind.is_some();
        if span.kind == Some(SpanKind::Run)
            && let Some(count) = span.facts.int(attr::RUN_SESSION_COUNT)
        {
            self.declared_sessions = Some(count);
        }
        if self.service_name.is_none() {
            self.service_name.clone_from(&span.service_name);
        }
        self.attributes_truncated += u64::from(span.facts.truncated);
        if let Some(counts) = span
            .stage
            .and_then(stage_slot)
            .and_then(|slot| self.stage_spans.get_mut(slot))
        {
            counts.spans = counts.spans.saturating_add(1);
            if span.kind == Some(SpanKind::Session) {
                counts.sessions = counts.sessions.saturating_add(1);
            }
        }
        let view = SpanView::from(span);
        for (index, contract) in self.contracts.accumulating(span.kind) {
            let Some(accumulator) = self.accumulators.get_mut(index) else {
                continue;
            };
            if !contract.admits_beyond_kind(view) {
                continue;
            }
            match (&contract.config.measure, accumulator) {
                (MeasureConfig::AttributeMax(_), Accumulator::Max(max)) => {
                    if let Some(value) = span.facts.number(contract.key()) {
                        *max = Some(max.map_or(value, |m| m.max(value)));
                    }
                }
                (MeasureConfig::AttributeMean(_), Accumulator::Mean { sum, count }) => {
                    if let Some(value) = span.facts.number(contract.key()) {
                        *sum += value;
                        *count += 1;
                    }
                }
                (MeasureConfig::ValuesMissing(rule), Accumulator::Seen(seen)) => {
                    let required = &rule.required;
                    let present = |values: &[Arc<str>]| {
                        required
                            .iter()
                            .map(|member| values.iter().any(|value| **value == **member))
                            .collect::<Vec<bool>>()
                    };
                    if let Some(present) = contract.in_members(&span.facts, present) {
                        let seen = seen.get_or_insert_with(|| vec![false; required.len()]);
                        for (seen, present) in seen.iter_mut().zip(present.iter()) {
                            *seen |= present;
                        }
                    }
                }
                _ => {}
            }
        }
    }

    /// Keeps the span's place in the trace, its strings shared through `strings`. Returns the bytes it
    /// added.
    pub(super) fn keep(&mut self, span: &SpanRecord, strings: &mut Interner) -> usize {
        let before = self.strings.len();
        let name = self.index_of(&span.name, strings, Scan::FromFirst);
        let session = span.session_id.as_ref().map_or(NO_STRING, |session| {
            self.index_of(session, strings, Scan::FromLast)
        });
        self.spans.push(KeptSpan {
            span_id: span.span_id,
            parent_span_id: span.parent_span_id,
            start_unix_nano: span.start_unix_nano,
            end_unix_nano: span.end_unix_nano,
            name,
            session,
            kind: span.kind,
            stage: span.stage,
            memory_kib: span
                .facts
                .number(attr::PROCESS_MEMORY_USAGE)
                .filter(|bytes| bytes.is_finite() && *bytes >= 0.0)
                // Saturating: 4 TiB is past any memory a pipeline process reports.
                .map_or(NO_MEMORY, |bytes| {
                    ((bytes / 1024.0).round() as u32).min(NO_MEMORY - 1)
                }),
        });
        self.kept_ids.insert_last(&self.spans);
        let added_strings = self.strings.len() - before;
        let added = size_of::<KeptSpan>()
            + KEPT_ID_BYTES
            + added_strings * size_of::<Arc<str>>()
            + self.strings[before..]
                .iter()
                .map(|s| s.len())
                .sum::<usize>();
        self.bytes += added;
        added
    }

    /// Counts a violation's bytes and keeps it while under `max`. Returns the bytes added.
    pub(super) fn keep_violation(&mut self, violation: Violation, max: usize) -> usize {
        if self.violations.len() >= max {
            self.violations_over_limit += 1;
            return 0;
        }
        // The list's spare room counts too: it grows by doubling, and holds as much again at worst.
        let capacity = self.violations.capacity();
        let mut bytes = violation_bytes(&violation) - size_of::<Violation>();
        self.violations.push(violation);
        bytes += (self.violations.capacity() - capacity) * size_of::<Violation>();
        self.bytes += bytes;
        bytes
    }

    /// The place of `text` in the trace's strings, which hold the shard's shared copy of each text (`strings`
    /// shares them), added when new. A span decoded on the thread that decoded the first one with the text
    /// carries that very copy: found by address, without hashing the text in the shard's table.
    fn index_of(&mut self, text: &Arc<str>, strings: &mut Interner, scan: Scan) -> u32 {
        if let Some(index) = self.position(text, scan) {
            return index;
        }
        let shared = strings.share(text);
        if let Some(index) = self.position(&shared, scan) {
            return index;
        }
        let index = u32::try_from(self.strings.len()).unwrap_or(NO_STRING - 1);
        self.strings.push(shared);
        index
    }

    fn position(&self, text: &Arc<str>, scan: Scan) -> Option<u32> {
        let same = |kept: &Arc<str>| Arc::ptr_eq(kept, text);
        let found = match scan {
            Scan::FromFirst => self.strings.iter().position(same),
            Scan::FromLast => self.strings.iter().rposition(same),
        }?;
        Some(u32::try_from(found).unwrap_or(NO_STRING - 1))
    }

    pub(super) fn name(&self, span: &KeptSpan) -> &str {
        self.strings.get(span.name as usize).map_or("", |s| s)
    }

    /// The span's session as its place in the trace's strings, which hold each text once: two spans have
    /// the same session exactly when they have the same index.
    pub(super) fn session_index(&self, span: &KeptSpan) -> Option<u32> {
        (span.session != NO_STRING).then_some(span.session)
    }

    /// The text at a place in the trace's strings.
    pub(super) fn string(&self, index: u32) -> Option<&str> {
        self.strings.get(index as usize).map(|s| &**s)
    }

    /// The kept spans as analysis reads them, with their names and sessions resolved.
    pub(super) fn decided_spans(&self) -> Vec<DecidedSpan> {
        self.spans
            .iter()
            .map(|span| DecidedSpan {
                span_id: span.span_id,
                parent_span_id: span.parent_span_id,
                start_unix_nano: span.start_unix_nano,
                end_unix_nano: span.end_unix_nano,
                name: self
                    .strings
                    .get(span.name as usize)
                    .map_or_else(|| Arc::from(""), Arc::clone),
                session_id: self.strings.get(span.session as usize).map(Arc::clone),
                kind: span.kind,
                stage: span.stage,
                memory_bytes: span.memory_bytes(),
            })
            .collect()
    }

    pub(super) fn view<'a>(&'a self, span: &KeptSpan) -> SpanView<'a> {
        SpanView {
            kind: span.kind,
            stage: span.stage,
            name: self.name(span),
            service: self.service_name.as_deref(),
        }
    }
}

/// Approximate heap and inline size of a violation, for the memory budget.
pub(crate) fn violation_bytes(violation: &Violation) -> usize {
    size_of::<Violation>()
        + violation.contract_id.capacity()
        + violation.unit.capacity()
        + violation.message.capacity()
        + violation.stage.as_ref().map_or(0, String::capacity)
        + violation.session_id.as_ref().map_or(0, String::capacity)
}

/// Approximate bytes a batch of spans will take once kept, for admission before it is.
pub fn batch_bytes(spans: &[SpanRecord]) -> usize {
    spans.iter().map(span_bytes_estimate).sum()
}

/// Approximate bytes a kept span's place in the table of ids takes: its position, a control byte and the
/// table's spare room.
const KEPT_ID_BYTES: usize = 8;
/// Approximate bytes a span id past the limits takes in its set: the id, a control byte and spare room.
const OVER_LIMIT_ID_BYTES: usize = 16;

/// Approximate bytes a span will take once kept, for admission before it is.
pub(crate) fn span_bytes_estimate(span: &SpanRecord) -> usize {
    size_of::<KeptSpan>()
        + KEPT_ID_BYTES
        + span.name.len()
        + span.session_id.as_ref().map_or(0, |s| s.len())
}
