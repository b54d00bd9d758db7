//! The instrumented run: init, then discovery, confluence, validation and reporting over every session.
//!
//! One run is one trace:
//!
//! ```text
//! run                      kind=run, run.session_count
//! ├── init                 kind=init
//! ├── discovery            kind=stage  ── discovery.session  × sessions   (graph facts)
//! ├── confluence           kind=stage  ── confluence.session × parsed sessions
//! ├── validation           kind=stage  ── validation.session × parsed sessions (authenticity)
//! └── reporting            kind=stage  ── reporting.session  × parsed sessions
//! ```
//!
//! A session file that fails to parse still gets its discovery session span, which carries the error (file name
//! and cause) and no graph facts; later stages have nothing to work on for it and give it no span. The run carries
//! on with the other sessions. Stage spans record memory when they end; the run span records the
//! instrumentation's overhead and memory just before it ends.

mod discovery;
mod init;
mod reporting;
mod scoring;
mod state;

use std::time::Instant;

use ironforge_proto::semconv::{SpanKind, Stage, attr};
use tracing::warn;

use crate::options::{ReplayError, ReplayOptions};
use crate::otel::{current_trace_id, int};
use crate::outcome::RunSummary;
use crate::session_id;
use state::RunState;

/// Runs the pipeline once over the sessions of `options`, inside the caller's tracing subscriber.
pub fn run(options: &ReplayOptions) -> Result<RunSummary, ReplayError> {
    run_span(options)
}

#[tracing::instrument(
    name = "run",
    skip_all,
    err(Display),
    fields({ attr::SPAN_KIND } = SpanKind::Run.as_str(), { attr::RUN_SESSION_COUNT } = tracing::field::Empty)
)]
fn run_span(options: &ReplayOptions) -> Result<RunSummary, ReplayError> {
    let started = Instant::now();
    let trace_id = current_trace_id();
    let init_started = Instant::now();
    let (planned, targets) = init::init(options)?;
    let init_time = init_started.elapsed();
    tracing::Span::current().record(attr::RUN_SESSION_COUNT, int(planned.len()));

    let mut state = RunState::new(options, planned, targets);
    timed(&mut state, Stage::Discovery, discovery::discovery);
    timed(&mut state, Stage::Confluence, scoring::confluence);
    timed(&mut state, Stage::Validation, scoring::validation);
    let reporting_started = Instant::now();
    let written = reporting::reporting(&mut state);
    state
        .stage_times
        .push((Stage::Reporting, reporting_started.elapsed()));
    written?;

    if let Some(extra) = options.faults.slow_run {
        warn!(
            fault = "slow_run",
            seconds = extra.as_secs_f64(),
            "fault injected: the run sleeps"
        );
        std::thread::sleep(extra);
    }

    ironforge_instrument::record_overhead();
    ironforge_instrument::record_memory();

    let duplicate_ids = session_id::duplicate_ids(state.outcomes.iter().map(|o| o.id.as_str()));
    Ok(RunSummary {
        trace_id,
        sessions_dir: options.sessions_dir.clone(),
        duplicate_ids,
        span_count: state.spans,
        init_time,
        stage_times: state.stage_times,
        total_time: started.elapsed(),
        faults: options.faults.names(),
        ballast_bytes: state.ballast.bytes(),
        report: state.report,
        report_path: options.report.clone(),
        sessions: state.outcomes,
    })
}

fn timed(state: &mut RunState<'_>, stage: Stage, body: fn(&mut RunState<'_>)) {
    let started = Instant::now();
    body(state);
    state.stage_times.push((stage, started.elapsed()));
}
