//! A violation as the engine raises it, for the tests of what reports violations onward.

use ironforge_processor::model::{SpanId, TraceId};
use ironforge_processor::verdict::{Category, Severity, Violation};

/// The critical timing violation of one slow session: NY_AM_2025-08-04 took 3.4 s in discovery, against a
/// 3.0 s limit, which blocks production.
pub(crate) fn slow_session(trace_id: TraceId, span_id: SpanId, time_unix_nano: u64) -> Violation {
    Violation {
        trace_id,
        span_id: Some(span_id),
        contract_id: "single_session_processing".to_owned(),
        pipeline: Some("ironforge".into()),
        category: Category::Timing,
        severity: Severity::Critical,
        blocks_production: true,
        observed: 3.4,
        threshold: 3.0,
        unit: "s".to_owned(),
        stage: Some("discovery".to_owned()),
        session_id: Some("NY_AM_2025-08-04".to_owned()),
        message: "session NY_AM_2025-08-04 (discovery) took 3.4 s".to_owned(),
        time_unix_nano,
    }
}
