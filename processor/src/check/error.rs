//! Why a check stopped before reading its input: the contract file, an option, a baseline report or the report
//! file. Each message names the file (and the line and column where the JSON is at fault).

use std::path::PathBuf;

use ironforge_engine::config::ConfigError;

#[derive(Debug, thiserror::Error)]
pub(super) enum CheckError {
    /// The contract file (or the embedded default) does not load.
    #[error(transparent)]
    Contracts(#[from] ConfigError),
    /// `--report` names a file whose format is neither given nor known from its extension.
    #[error(
        "--report {}: name a --report-format, or end the file name in .json, .xml, .md or .html",
        .0.display()
    )]
    ReportFormatUnknown(PathBuf),
    /// The report file cannot be written.
    #[error("--report {}: {source}", path.display())]
    ReportWrite {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A baseline report cannot be read.
    #[error("{}: cannot read: {source}", path.display())]
    BaselineRead {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A baseline report is not a check report in JSON.
    #[error("{}:{}:{}: not a check report in JSON: {source}", path.display(), source.line(), source.column())]
    BaselineJson {
        path: PathBuf,
        source: serde_json::Error,
    },
    /// A baseline report was written by a check of another schema version.
    #[error("{}: schema_version {found} is not {expected}, the version this check writes", path.display())]
    BaselineVersion {
        path: PathBuf,
        found: u32,
        expected: u32,
    },
}
