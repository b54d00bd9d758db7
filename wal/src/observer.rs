//! What the log reports about itself beyond its return values: damage found while reading what the last run
//! left, and failures of the threads that delete decided segments. The log neither logs nor counts these; the
//! caller's [`Observer`] does.

use std::path::Path;

use crate::WalUsage;

/// Something the log ran into that no return value carries.
#[derive(Debug)]
pub enum Event<'a> {
    /// A shard's deleting thread could not sync the decisions before deleting a decided segment (the segment
    /// is kept, and a restart replays it), or could not delete one. `what` says which, as "cannot …" would
    /// go on.
    Failed {
        what: &'static str,
        error: &'a std::io::Error,
    },
    /// At a start: a damaged record in the middle of `file` (its checksum fails), `bytes` long from
    /// `offset`; it is skipped and the records after it are replayed. Counted in
    /// [`WalUsage::take_corrupt_records`].
    Damaged {
        file: &'a Path,
        offset: usize,
        bytes: usize,
    },
    /// At a start: a record at `offset` of `file` whose checksum holds but which this version cannot read;
    /// it is skipped. Counted in [`WalUsage::take_corrupt_records`].
    Unreadable { file: &'a Path, offset: usize },
    /// At a start: `bytes` past the last good record of `file`, left by a process that stopped mid-write;
    /// they are cut and the rest is replayed.
    TornTail { file: &'a Path, bytes: usize },
}

/// Told what the log ran into, with the log's figures (for an observer that counts, e.g. with
/// [`WalUsage::failed`]). Called from the thread that opened the log and from the deleting threads.
pub trait Observer: Send + Sync + std::fmt::Debug {
    fn observe(&self, event: Event<'_>, usage: &WalUsage);
}
