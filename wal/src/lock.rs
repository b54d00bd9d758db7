//! One processor per data directory: a second one on the same directory would interleave two logs.

use std::fs::File;
use std::path::Path;

use nix::fcntl::{Flock, FlockArg};

use crate::WalError;

/// Held for as long as the processor runs; the kernel releases it when the process ends, however it ends.
#[derive(Debug)]
pub struct DataDirLock {
    _lock: Flock<File>,
}

impl DataDirLock {
    /// Locks `data_dir` (through its `LOCK` file), or says another process holds it.
    pub fn acquire(data_dir: &Path) -> Result<Self, WalError> {
        let path = data_dir.join("LOCK");
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(WalError::io(&path))?;
        match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(lock) => Ok(Self { _lock: lock }),
            Err((_, nix::errno::Errno::EWOULDBLOCK)) => Err(WalError::Locked { path }),
            Err((_, errno)) => Err(WalError::Io {
                path,
                source: std::io::Error::from(errno),
            }),
        }
    }
}
