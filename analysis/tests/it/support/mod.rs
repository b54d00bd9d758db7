//! Traces drawn by hand, with times in seconds, so each test's right answer can be worked out on paper.

use std::sync::Arc;

use ironforge_engine::model::{SpanId, TraceId};
use ironforge_engine::verdict::{TraceVerdict, VerdictStatus};
use ironforge_engine::{DecidedSpan, DecidedTrace};
use ironforge_proto::semconv::{SpanKind, Stage};

pub(crate) struct TraceBuilder {
    spans: Vec<DecidedSpan>,
    trace_id: TraceId,
}

impl Default for TraceBuilder {
    fn default() -> Self {
        Self::new(1)
    }
}

impl TraceBuilder {
    pub(crate) fn new(trace: u8) -> Self {
        let mut id = [0u8; 16];
        id[15] = trace.max(1);
        Self {
            spans: Vec::new(),
            trace_id: TraceId(id),
        }
    }

    fn push(
        &mut self,
        parent: Option<SpanId>,
        name: &str,
        kind: SpanKind,
        stage: Option<Stage>,
        session: Option<&str>,
        (start, end): (f64, f64),
    ) -> SpanId {
        let number = u64::try_from(self.spans.len() + 1).unwrap_or(u64::MAX);
        let span_id = SpanId(number.to_be_bytes());
        let nanos = |seconds: f64| (1_000_000_000.0 + seconds * 1e9).round() as u64;
        self.spans.push(DecidedSpan {
            span_id,
            parent_span_id: parent,
            start_unix_nano: nanos(start),
            end_unix_nano: nanos(end),
            name: Arc::from(name),
            session_id: session.map(Arc::from),
            kind: Some(kind),
            stage,
            memory_bytes: None,
        });
        span_id
    }

    pub(crate) fn run(&mut self, times: (f64, f64)) -> SpanId {
        self.push(None, "run", SpanKind::Run, None, None, times)
    }

    pub(crate) fn stage(&mut self, run: SpanId, stage: Stage, times: (f64, f64)) -> SpanId {
        self.push(
            Some(run),
            stage.as_str(),
            SpanKind::Stage,
            Some(stage),
            None,
            times,
        )
    }

    pub(crate) fn session(
        &mut self,
        parent: SpanId,
        stage: Stage,
        session: &str,
        times: (f64, f64),
    ) -> SpanId {
        self.push(
            Some(parent),
            "session",
            SpanKind::Session,
            Some(stage),
            Some(session),
            times,
        )
    }

    /// A span with a parent id no span of the trace has.
    pub(crate) fn orphan(&mut self, times: (f64, f64)) -> SpanId {
        self.push(
            Some(SpanId([9; 8])),
            "orphan",
            SpanKind::Pattern,
            None,
            None,
            times,
        )
    }

    pub(crate) fn spans_mut(&mut self) -> &mut Vec<DecidedSpan> {
        &mut self.spans
    }

    pub(crate) fn build(self) -> DecidedTrace {
        decided(self.trace_id, self.spans)
    }
}

/// A passed trace of these spans.
pub(crate) fn decided(trace_id: TraceId, spans: Vec<DecidedSpan>) -> DecidedTrace {
    DecidedTrace {
        verdict: TraceVerdict {
            trace_id,
            status: VerdictStatus::Pass,
            production_ready: true,
            violations: Vec::new(),
            violations_over_limit: 0,
            stage_durations: Vec::new(),
            span_count: u32::try_from(spans.len()).unwrap_or(u32::MAX),
            incomplete_reason: None,
            decided_unix_nano: 0,
            service_name: Some("ironforge".to_owned()),
            evicted: false,
            attributes_truncated: 0,
        },
        spans,
        observations: Vec::new(),
    }
}

/// A run of one discovery stage whose sessions take the given times, one after another from 0.
pub(crate) fn serial_stage(durations: &[f64]) -> DecidedTrace {
    let total: f64 = durations.iter().sum();
    let mut trace = TraceBuilder::default();
    let run = trace.run((0.0, total));
    let stage = trace.stage(run, Stage::Discovery, (0.0, total));
    let mut at = 0.0;
    for (index, seconds) in durations.iter().enumerate() {
        trace.session(
            stage,
            Stage::Discovery,
            &format!("s{index}"),
            (at, at + seconds),
        );
        at += seconds;
    }
    trace.build()
}

/// A discovery stage of `sessions` one-second sessions run `wide` at a time.
pub(crate) fn wide_stage(sessions: usize, wide: usize) -> DecidedTrace {
    let waves = sessions.div_ceil(wide.max(1)) as f64;
    let mut trace = TraceBuilder::default();
    let run = trace.run((0.0, waves));
    let stage = trace.stage(run, Stage::Discovery, (0.0, waves));
    for index in 0..sessions {
        let wave = (index / wide.max(1)) as f64;
        trace.session(
            stage,
            Stage::Discovery,
            &format!("s{index}"),
            (wave, wave + 1.0),
        );
    }
    trace.build()
}

pub(crate) fn assert_close(actual: f64, expected: f64, what: &str) {
    assert!(
        (actual - expected).abs() < 1e-6,
        "{what}: expected {expected}, got {actual}"
    );
}
