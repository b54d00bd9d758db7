//! The processor's side of the write-ahead log (the `ironforge-wal` crate): what the log reports about
//! itself, turned into log lines and the log's failure count.

use ironforge_wal::{Event, Observer, WalUsage};

use ironforge_telemetry::InternalEvent;

/// The write-ahead log could not write, sync or clean up. A batch it could not write or sync was refused
/// (the client retries it); anything else is retried at the next chance.
#[derive(Debug)]
pub(crate) struct WalFailed<'a> {
    pub(crate) what: &'static str,
    pub(crate) error: &'a dyn std::error::Error,
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

/// What the log finds damaged at a start, and what its deleting threads fail at, as log lines; failures
/// are counted too (the damaged records the log counts itself).
#[derive(Debug)]
pub(crate) struct LogEvents;

impl Observer for LogEvents {
    fn observe(&self, event: Event<'_>, usage: &WalUsage) {
        match event {
            Event::Failed { what, error } => WalFailed { what, error, usage }.emit(),
            Event::Damaged {
                file,
                offset,
                bytes,
            } => tracing::error!(
                file = %file.display(),
                offset,
                bytes,
                "write-ahead log: a damaged record in the middle of the file (its checksum fails); it is skipped \
                 and the records after it are replayed"
            ),
            Event::Unreadable { file, offset } => tracing::error!(
                file = %file.display(),
                offset,
                "write-ahead log: a record this version cannot read; it is skipped"
            ),
            Event::TornTail { file, bytes } => tracing::warn!(
                file = %file.display(),
                bytes,
                "write-ahead log: cut a torn tail (the process stopped mid-write); the rest is replayed"
            ),
        }
    }
}
