//! What a check is asked for: the format of its report, what fails it, and the exit codes it ends with.

/// The exit codes of `check`, as its help and the README document them.
pub mod exit {
    /// Every trace passed (warnings allowed unless `--strict`).
    pub const PASS: u8 = 0;
    /// A blocking violation: a trace failed, is not production-ready, or regressed against the baseline.
    pub const BLOCKING: u8 = 1;
    /// Warnings only, with `--strict`.
    pub const WARNINGS: u8 = 2;
    /// Bad input (a malformed line, an unreadable file, no trace at all) or a bad contract file or option.
    pub const BAD_INPUT: u8 = 3;
}

/// What fails a check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum FailOn {
    /// Blocking violations and baseline regressions.
    Blocking,
    /// Warnings too.
    Warning,
}

/// A report format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum ReportFormat {
    /// Readable text: each trace, its violations, totals.
    Summary,
    /// The verdicts and totals, with a `schema_version`; usable as a --baseline.
    Json,
    /// JUnit XML: a testsuite per input file, a testcase per run and contract.
    Junit,
    /// A Markdown table for a pull-request comment.
    Markdown,
    /// One self-contained HTML page: overview, each trace's run page, critical-path flame graph.
    Html,
}

impl ReportFormat {
    /// The format a report file's extension implies.
    pub fn from_extension(path: &std::path::Path) -> Option<Self> {
        match path.extension()?.to_str()?.to_ascii_lowercase().as_str() {
            "json" => Some(Self::Json),
            "xml" => Some(Self::Junit),
            "md" | "markdown" => Some(Self::Markdown),
            "html" | "htm" => Some(Self::Html),
            "txt" => Some(Self::Summary),
            _ => None,
        }
    }
}
