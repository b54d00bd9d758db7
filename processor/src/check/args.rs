//! The command line of `ironforge-processor check`.

use std::path::PathBuf;

use clap::Args;

pub use ironforge_report::{FailOn, ReportFormat, exit};

use crate::cli::ProfileArg;

/// The exit codes as `--help` shows them.
pub const EXIT_CODES_HELP: &str = "Exit codes:
  0  every trace passed (warnings allowed unless --strict or --fail-on warning)
  1  a blocking violation: a trace failed or is not production-ready, or a stage regressed past the baseline
  2  warnings only, with --strict or --fail-on warning
  3  bad input or config: a malformed line (reported as FILE:LINE, the rest is still checked), an unreadable
     file, no trace in the input, an invalid contract file or baseline";

/// Check recorded traces against the contracts, as a CI gate.
#[derive(Debug, Args)]
#[command(after_help = EXIT_CODES_HELP)]
pub struct CheckArgs {
    /// Recorded traces: OTLP/JSON (one `ExportTraceServiceRequest` per line, as the Collector's file exporter
    /// writes, or one pretty-printed document), OTLP protobuf (one serialized request), either gzipped;
    /// `-` reads standard input.
    #[arg(value_name = "FILE", required = true)]
    pub files: Vec<PathBuf>,
    /// Contract file; without it the embedded defaults apply.
    #[arg(long, env = "IRONFORGE_CONTRACTS", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Override the contract file's profile.
    #[arg(long, value_enum)]
    pub profile: Option<ProfileArg>,
    /// What goes to standard output.
    #[arg(long, value_enum, default_value_t = ReportFormat::Summary)]
    pub format: ReportFormat,
    /// Also write a report to FILE (format from --report-format, else from the extension .json, .xml, .md, .html).
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// The format of --report.
    #[arg(long, value_enum, requires = "report")]
    pub report_format: Option<ReportFormat>,
    /// Fail (exit 2) when there are warnings but nothing blocking: the same as `--fail-on warning`.
    #[arg(long)]
    pub strict: bool,
    /// What fails the check: blocking violations (exit 1) only, or warnings too (exit 2 when nothing
    /// blocks, and JUnit failures rather than output).
    #[arg(long, value_enum, value_name = "LEVEL", default_value_t = FailOn::Blocking)]
    pub fail_on: FailOn,
    /// An earlier `--format json` report (repeatable: their runs pool): a stage slower than its baseline
    /// runs by more than --max-regression and --min-regression-seconds, past their noise, fails.
    #[arg(long, value_name = "REPORT.json")]
    pub baseline: Vec<PathBuf>,
    /// Traces the report lists in full, failing ones first; every trace counts in the totals and the
    /// stage distributions a baseline reads.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_TRACE_DETAILS)]
    pub max_trace_details: usize,
    /// How much slower than the baseline's median a stage's median may be, in percent.
    #[arg(long, value_name = "PCT", default_value_t = 10.0, requires = "baseline",
        value_parser = crate::cli::non_negative)]
    pub max_regression: f64,
    /// How much slower than the baseline's median a stage's median may be, in seconds, whatever the
    /// percentage: differences of a few milliseconds are noise.
    #[arg(long, value_name = "SECONDS", default_value_t = 0.050, requires = "baseline",
        value_parser = crate::cli::non_negative)]
    pub min_regression_seconds: f64,
}

impl CheckArgs {
    /// Whether warnings fail the check, by `--strict` or `--fail-on warning`.
    pub fn warnings_fail(&self) -> bool {
        self.strict || self.fail_on == FailOn::Warning
    }
}

/// How many traces a report lists in full unless told otherwise: enough for every run of a CI job, few
/// enough that a check of thousands of runs keeps a report of a few MB.
pub(super) const DEFAULT_MAX_TRACE_DETAILS: usize = 100;
