//! What the write-ahead log reports about itself.

use crate::telemetry::{InternalEvent, WalUsage};

/// The write-ahead log could not write, sync or clean up. A batch it could not write or sync was refused
/// (the client retries it); anything else is retried at the next chance.
#[derive(Debug)]
pub(crate) struct WalFailed<'a> {
    pub(crate) what: &'static str,
    pub(crate) error: &'a std::io::Error,
    pub(crate) usage: &'a WalUsage,
}

impl InternalEvent for WalFailed<'_> {
    fn emit(self) {
        self.usage.failed();
        tracing::warn!(
            error = %self.error,
            "write-ahead log: cannot {}",
            self.what
        );
    }
}
