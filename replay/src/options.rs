//! What a run is asked to do (sessions, report, faults, reference mode), and why the paths it is given can stop
//! it.

use std::path::PathBuf;

use crate::faults::Faults;

/// Where the session fixtures live, relative to this crate.
pub const DEFAULT_SESSIONS_DIR: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../fixtures/ironforge/sessions"
);

/// What to replay and which faults to inject.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplayOptions {
    /// Directory holding `enhanced_*.json` session files.
    pub sessions_dir: PathBuf,
    /// Replay only the first N files (in name order).
    pub sessions_limit: Option<usize>,
    /// Write the report to this file; otherwise it is only returned in the summary.
    pub report: Option<PathBuf>,
    /// Faults to inject.
    pub faults: Faults,
    /// Reference run: repair the sessions' known data defects (see [`crate::repair`]) so that the run passes
    /// every default contract. Faults still apply on top.
    pub reference: bool,
}

impl Default for ReplayOptions {
    fn default() -> Self {
        ReplayOptions {
            sessions_dir: PathBuf::from(DEFAULT_SESSIONS_DIR),
            sessions_limit: None,
            report: None,
            faults: Faults::default(),
            reference: false,
        }
    }
}

/// Why a run could not complete.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// The sessions directory cannot be listed.
    #[error("cannot read the sessions directory {}: {source}", dir.display())]
    SessionsDir {
        /// The directory.
        dir: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// The directory holds no session file.
    #[error("no session files (enhanced_*.json) in {}", dir.display())]
    NoSessions {
        /// The directory.
        dir: PathBuf,
    },
    /// The report cannot be written.
    #[error("cannot write the report {}: {source}", path.display())]
    Report {
        /// The report file.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
}
