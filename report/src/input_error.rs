//! What was wrong with an input, and where: the reader finds it, the check report lists it.

use serde::Serialize;

/// Something wrong with the input, where it is: `FILE:LINE: message`, or `FILE: message` for the whole file.
#[derive(Debug, Clone, PartialEq, Serialize, thiserror::Error)]
#[error("{file}{}: {message}", .line.map(|line| format!(":{line}")).unwrap_or_default())]
pub struct InputError {
    pub file: String,
    /// 1-based; `None` when the whole file is meant.
    pub line: Option<u64>,
    pub message: String,
}
