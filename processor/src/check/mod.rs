//! `ironforge-processor check`: recorded traces judged offline by the same engine and contract file as
//! production, for CI. Input is read request by request ([`input`]), every trace is decided at the end of
//! the input, and the verdicts are rendered ([`report`]) with an exit code CI can act on.

mod args;
mod baseline;
pub mod input;
pub mod report;

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

pub use args::{CheckArgs, EXIT_CODES_HELP, ReportFormat, exit};

use self::baseline::Baseline;
use self::input::InputError;
use self::report::{CheckReport, Checked, TraceReport};
use crate::config::{ContractFile, DEFAULT_CONTRACTS_NAME, Profile};
use crate::engine::{ContractSet, Engine, EngineEvent, Now};
use crate::verdict::TraceVerdict;
use ironforge_analysis::{AnalysisOptions, Budgets, analyse};
use ironforge_engine::decode::Decoded;

/// The variable that turns colour off whatever the terminal.
const NO_COLOR: &str = "NO_COLOR";

/// Runs the check and prints its report; the exit code follows [`exit`].
pub fn run(args: &CheckArgs) -> ExitCode {
    match check(args) {
        Ok(code) => ExitCode::from(code),
        Err(message) => {
            eprintln!("ironforge-processor check: {message}");
            ExitCode::from(exit::BAD_INPUT)
        }
    }
}

/// Errors here are about the configuration or options, and stop the check before any input is read.
fn check(args: &CheckArgs) -> Result<u8, String> {
    let (file, source) = match &args.config {
        Some(path) => (
            ContractFile::load(path).map_err(|err| err.to_string())?,
            path.display().to_string(),
        ),
        None => (
            ContractFile::embedded_default().map_err(|err| err.to_string())?,
            DEFAULT_CONTRACTS_NAME.to_owned(),
        ),
    };
    let report_format = match &args.report {
        Some(path) => Some(
            args.report_format
                .or_else(|| ReportFormat::from_extension(path))
                .ok_or_else(|| {
                    format!(
                        "--report {}: name a --report-format, or end the file name in .json, .xml, .md or .html",
                        path.display()
                    )
                })?,
        ),
        None => None,
    };
    let baseline = args.baseline.as_deref().map(Baseline::load).transpose()?;
    let profile = args.profile.map(Profile::from).unwrap_or(file.profile);
    let contracts = Arc::new(ContractSet::new(unbounded(file), Some(profile)));
    let checked = decide(&contracts, &args.files, |verdict| {
        let regressions = baseline
            .as_ref()
            .map(|baseline| baseline.regressions(&verdict, args.max_regression))
            .unwrap_or_default();
        TraceReport::new(verdict, regressions)
    });
    for error in &checked.input_errors {
        eprintln!("{error}");
    }
    let report = CheckReport::new(&contracts, source, profile, checked, args.strict);
    if let (Some(path), Some(format)) = (&args.report, report_format) {
        write_report(path, &report.render(format, false))?;
    }
    let colour = args.format == ReportFormat::Summary
        && std::io::stdout().is_terminal()
        && std::env::var_os(NO_COLOR).is_none();
    let mut stdout = std::io::stdout().lock();
    // A closed stdout (`| head`) must not turn the verdict into a panic; the exit code still tells it.
    let _ = stdout.write_all(report.render(args.format, colour).as_bytes());
    let _ = stdout.flush();
    Ok(report.exit_code)
}

fn write_report(path: &Path, text: &str) -> Result<(), String> {
    std::fs::write(path, text).map_err(|err| format!("--report {}: {err}", path.display()))
}

/// The contract file with the engine's in-flight bounds lifted: every trace of the input waits for its
/// end, so they are all in flight at once; the per-trace limits stay as production has them.
fn unbounded(mut file: ContractFile) -> ContractFile {
    file.limits.max_traces_in_flight = usize::MAX;
    file.limits.max_memory_bytes = usize::MAX;
    file
}

/// Feeds every input to one engine and decides every trace when the input ends.
fn decide(
    contracts: &Arc<ContractSet>,
    files: &[PathBuf],
    mut judge: impl FnMut(TraceVerdict) -> TraceReport,
) -> Checked {
    let mut engine = Engine::new(Arc::clone(contracts));
    engine.emit_decided_traces(true);
    let budgets = Budgets::from_contracts(contracts);
    let plan = Arc::clone(contracts.plan());
    let now = Now::system();
    let mut input_errors = Vec::new();
    for path in files {
        let mut refused = None;
        let mut sink = |decoded: Decoded| {
            // Nothing is decided before the input ends, so the events are only the span-scoped
            // violations the verdicts repeat.
            if !decoded.spans.is_empty()
                && let Err(err) = engine.ingest(decoded.spans, now)
            {
                refused = Some(err);
            }
        };
        input::read(path, &plan, &mut sink, &mut |error| {
            input_errors.push(error)
        });
        if let Some(err) = refused {
            input_errors.push(InputError {
                file: path.display().to_string(),
                line: None,
                message: format!("spans refused by the engine: {err}"),
            });
        }
    }
    let mut checked = Checked::default();
    for event in engine.finish_all(now) {
        match event {
            EngineEvent::Verdict(verdict) => checked.traces.push(judge(verdict)),
            EngineEvent::Unmonitored { .. } => checked.unmonitored_traces += 1,
            // Follows its trace's verdict.
            EngineEvent::Decided(trace) => {
                if let Some(report) = checked
                    .traces
                    .last_mut()
                    .filter(|report| report.verdict.trace_id == trace.verdict.trace_id)
                {
                    report.analysis = analyse(&trace, &budgets, &AnalysisOptions::default());
                }
            }
            EngineEvent::Violation(_) | EngineEvent::VerdictRevised { .. } => {}
        }
    }
    checked
        .traces
        .sort_by_key(|trace| (trace.verdict.service_name.clone(), trace.verdict.trace_id));
    if checked.traces.is_empty() && input_errors.is_empty() {
        input_errors.push(InputError {
            file: files
                .iter()
                .map(|path| path.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
            line: None,
            message: "no IRONFORGE trace in the input: nothing was checked".to_owned(),
        });
    }
    checked.input_errors = input_errors;
    checked
}
