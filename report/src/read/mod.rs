//! A check's reading of recordings: every input fed to one engine on the spans' own time (`clock.rs`), each
//! trace decided once trace time passes its completion and the rest when the input ends, so memory follows
//! the traces in flight, not the input's size. Inputs are read request by request (`input.rs`) on a thread
//! of their own (`ahead.rs`); what is decided is collected (`collect.rs`) with where each trace came from
//! (`source.rs`).

mod ahead;
mod clock;
mod collect;
mod input;
mod source;

use std::path::PathBuf;
use std::sync::Arc;

pub use crate::input_error::InputError;
pub use input::STDIN;

use self::clock::TraceClock;
use self::collect::Collector;
use self::input::display_name;
use self::source::Sources;
use crate::check::{Checked, TraceReport};
use crate::verdict::TraceVerdict;
use ironforge_analysis::{AnalysisOptions, Budgets, analyse};
use ironforge_engine::Overloaded;
use ironforge_engine::config::ContractFile;
use ironforge_engine::decode::Decoded;
use ironforge_engine::{ContractSet, Engine, EngineEvent};

/// What reading reports as it goes: a progress bar, or nothing.
pub trait Progress {
    /// Bytes of an input file (as stored, before any inflating) just read.
    fn read(&self, bytes: u64);
    /// Spans just decoded.
    fn spans(&self, count: usize);
    /// Every input has been read.
    fn finish(&self);
}

/// Decided verdicts the check's engine keeps, at most, for spans that arrive after their trace was decided.
/// A verdict with its violations is about 16 KB for a replay run (BENCHMARKS.md, `check`): the production default of 10,000 would
/// make a check's memory grow with its first 10,000 runs, while spans come late by seconds of trace time,
/// not by hundreds of runs.
const DECIDED_TRACES_KEPT: usize = 256;

/// The contract file with the engine's in-flight bounds lifted: a check judges every trace of its input, so
/// none is evicted to make room (traces still complete and leave the engine as trace time passes); the
/// per-trace limits stay as production has them, and fewer decided verdicts are kept.
pub fn unbounded(mut file: ContractFile) -> ContractFile {
    file.limits.max_traces_in_flight = usize::MAX;
    file.limits.max_memory_bytes = usize::MAX;
    file.limits.decided_traces_kept = file.limits.decided_traces_kept.min(DECIDED_TRACES_KEPT);
    file
}

/// Feeds every input to one engine, deciding each trace as trace time passes its completion (see
/// `clock.rs`) and the rest when the input ends; `progress` hears of each read and decode.
pub fn decide(
    contracts: &Arc<ContractSet>,
    files: &[PathBuf],
    max_details: usize,
    progress: &dyn Progress,
) -> Checked {
    let kept = contracts.file().limits.decided_traces_kept;
    let inputs: Vec<String> = files.iter().map(|path| display_name(path)).collect();
    let mut decider = Decider {
        engine: Engine::new(Arc::clone(contracts)),
        clock: TraceClock::new(),
        budgets: Budgets::from_contracts(contracts),
        sources: Sources::new(kept),
        inputs: inputs.clone(),
        file: 0,
        collector: Collector::new(max_details, kept),
    };
    decider.engine.emit_decided_traces(true);
    let plan = Arc::clone(contracts.plan());
    let mut input_errors = Vec::new();
    for (index, path) in files.iter().enumerate() {
        decider.file = index;
        let mut refused = None;
        let mut sink = |decoded: Decoded| {
            progress.spans(decoded.spans.len());
            if let Err(err) = decider.ingest(decoded) {
                refused = Some(err);
            }
        };
        ahead::read(
            path,
            &plan,
            &mut sink,
            &mut |error| input_errors.push(error),
            &|bytes| progress.read(bytes),
        );
        if let Some(err) = refused {
            input_errors.push(InputError {
                file: display_name(path),
                line: None,
                message: format!("spans refused by the engine: {err}"),
            });
        }
    }
    progress.finish();
    let events = decider.engine.finish_all(decider.clock.now());
    decider.handle(events);
    let mut checked = decider.collector.finish();
    if checked.totals.traces == 0 && input_errors.is_empty() {
        input_errors.push(InputError {
            file: inputs.join(", "),
            line: None,
            message: "no IRONFORGE trace in the input: nothing was checked".to_owned(),
        });
    }
    checked.input_errors = input_errors;
    checked.inputs = inputs;
    checked
}

/// One engine on trace time, and what it decided so far.
struct Decider {
    engine: Engine,
    clock: TraceClock,
    budgets: Budgets,
    sources: Sources,
    /// The input files as reports name them, and the one being read.
    inputs: Vec<String>,
    file: usize,
    collector: Collector,
}

impl Decider {
    /// Takes one request's spans, then decides what their times completed, as a live processor's tick
    /// after the request would.
    fn ingest(&mut self, decoded: Decoded) -> Result<(), Overloaded> {
        if decoded.spans.is_empty() {
            return Ok(());
        }
        self.clock.advance(&decoded.spans);
        self.sources.see(self.file, &decoded.spans);
        let now = self.clock.now();
        let events = self.engine.ingest(decoded.spans, now)?;
        let checked = self.collector.checked_mut();
        checked.max_traces_in_flight = checked
            .max_traces_in_flight
            .max(self.engine.traces_in_flight());
        self.handle(events);
        let events = self.engine.tick(now);
        self.handle(events);
        Ok(())
    }

    /// The verdict with where its trace came from.
    fn judge(&mut self, verdict: TraceVerdict) -> TraceReport {
        let seen = self.sources.decided(&verdict.trace_id);
        let mut report = TraceReport::new(verdict, Vec::new());
        if let Some(seen) = seen {
            report.input_file = self.inputs.get(seen.file).cloned();
            report.started_unix_nano = Some(seen.first_start_unix_nano);
            report.run_seconds = Some(seen.seconds());
        }
        report
    }

    fn handle(&mut self, events: Vec<EngineEvent>) {
        for event in events {
            match event {
                EngineEvent::Verdict(verdict) => {
                    let report = self.judge(Arc::unwrap_or_clone(verdict));
                    self.collector.add(report);
                }
                EngineEvent::Unmonitored { .. } => {
                    self.collector.checked_mut().unmonitored_traces += 1;
                }
                // Follows its trace's verdict; analysed only when the report lists that trace.
                EngineEvent::Decided(trace) => {
                    let id = trace.verdict.trace_id;
                    if self.collector.wants_analysis(&id) {
                        let analysis = analyse(&trace, &self.budgets, &AnalysisOptions::default());
                        self.collector.analysis(&id, analysis);
                    }
                }
                // Spans that arrived after their trace was decided, as they would in production.
                EngineEvent::VerdictRevised { verdict, .. } => {
                    let revised = self.judge(Arc::unwrap_or_clone(verdict));
                    self.collector.revise(revised);
                }
                // The verdicts repeat them.
                EngineEvent::Violation(_) => {}
            }
        }
    }
}
