//! `ironforge-processor check`: recorded traces judged offline by the same engine and contract file as
//! production, for CI. The command line is read here; the recordings are read and judged by
//! [`ironforge_report::read`], and the verdicts rendered by [`ironforge_report::check`] with an exit code CI
//! can act on.

mod args;
mod baseline;
mod error;
mod progress;

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

pub use args::{CheckArgs, EXIT_CODES_HELP, FailOn, ReportFormat, exit};

use self::baseline::Baseline;
use self::error::CheckError;
use self::progress::Progress;
use crate::config::{ContractFile, DEFAULT_CONTRACTS_NAME, Profile};
use ironforge_analysis::baseline::Criteria;
use ironforge_engine::ContractSet;
use ironforge_report::CheckReport;
use ironforge_report::read::{decide, unbounded};

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
fn check(args: &CheckArgs) -> Result<u8, CheckError> {
    let (file, source) = match &args.config {
        Some(path) => (ContractFile::load(path)?, path.display().to_string()),
        None => (
            ContractFile::embedded_default()?,
            DEFAULT_CONTRACTS_NAME.to_owned(),
        ),
    };
    let report_format = match &args.report {
        Some(path) => Some(
            args.report_format
                .or_else(|| ReportFormat::from_extension(path))
                .ok_or_else(|| CheckError::ReportFormatUnknown(path.clone()))?,
        ),
        None => None,
    };
    let baseline = (!args.baseline.is_empty())
        .then(|| Baseline::load(&args.baseline))
        .transpose()?;
    let profile = args.profile.map(Profile::from).unwrap_or(file.profile);
    let contracts = Arc::new(ContractSet::new(unbounded(file), Some(profile)));
    let checked = decide(
        &contracts,
        &args.files,
        args.max_trace_details,
        &Progress::new(&args.files),
    );
    for error in &checked.input_errors {
        eprintln!("{error}");
    }
    let criteria = Criteria {
        max_regression_percent: args.max_regression,
        min_regression_seconds: args.min_regression_seconds,
    };
    let judged = baseline.map(|baseline| baseline.judge(&checked.stage_distributions, &criteria));
    let fail_on = if args.warnings_fail() {
        FailOn::Warning
    } else {
        args.fail_on
    };
    let report = CheckReport::new(&contracts, source, profile, checked, judged, fail_on);
    if let (Some(path), Some(format)) = (&args.report, report_format) {
        write_report(path, &report.render(format, false))?;
    }
    let colour = args.format == ReportFormat::Summary && crate::cli::stdout_colour();
    let mut stdout = std::io::stdout().lock();
    // A closed stdout (`| head`) must not turn the verdict into a panic; the exit code still tells it.
    let _ = stdout.write_all(report.render(args.format, colour).as_bytes());
    let _ = stdout.flush();
    Ok(report.exit_code)
}

fn write_report(path: &Path, text: &str) -> Result<(), CheckError> {
    std::fs::write(path, text).map_err(|source| CheckError::ReportWrite {
        path: path.to_owned(),
        source,
    })
}
