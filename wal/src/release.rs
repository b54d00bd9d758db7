//! Deleting a shard's decided segments on a thread of their own.
//!
//! Unlinking a 16 MiB segment takes milliseconds (the kernel drops its cached pages and frees its extents),
//! and a flood of decisions frees several at once: done on the worker's thread, that held back the
//! verdicts falling due meanwhile by tens of milliseconds. The worker only picks the segments; this thread
//! makes their decisions durable and then deletes them, in the order they were released.

use std::fs::File;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, Sender, SyncSender};
use std::thread::JoinHandle;

use crate::observer::{Event, Observer};
use crate::usage::WalUsage;

/// Segments to delete, once the decisions taken on their traces are on disk.
#[derive(Debug)]
pub(crate) struct Release {
    /// The decision file as it was when the segments were picked, to sync first (`None` when the policy
    /// never syncs).
    pub decisions: Option<File>,
    /// Each segment's path and size.
    pub segments: Vec<(PathBuf, u64)>,
}

enum Job {
    Release(Release),
    /// Answered once every release sent before it is done.
    Settle(SyncSender<()>),
}

/// The deleting thread of one shard log; dropping it finishes what was sent, then stops the thread.
#[derive(Debug)]
pub(crate) struct Releaser {
    jobs: Option<Sender<Job>>,
    thread: Option<JoinHandle<()>>,
    usage: Arc<WalUsage>,
    observer: Arc<dyn Observer>,
}

impl Releaser {
    pub(crate) fn start(
        name: String,
        usage: Arc<WalUsage>,
        observer: Arc<dyn Observer>,
    ) -> std::io::Result<Self> {
        let (jobs, inbox) = mpsc::channel();
        let thread_usage = Arc::clone(&usage);
        let thread_observer = Arc::clone(&observer);
        let thread = std::thread::Builder::new()
            .name(name)
            .spawn(move || run(&inbox, &thread_usage, &*thread_observer))?;
        Ok(Self {
            jobs: Some(jobs),
            thread: Some(thread),
            usage,
            observer,
        })
    }

    /// Hands the segments over. Should the thread be gone, they are deleted here instead.
    pub(crate) fn release(&self, release: Release) {
        let job = Job::Release(release);
        let unsent = match &self.jobs {
            Some(jobs) => jobs.send(job).err().map(|err| err.0),
            None => Some(job),
        };
        if let Some(Job::Release(release)) = unsent {
            delete(release, &self.usage, &*self.observer);
        }
    }

    /// Waits until every segment handed over so far is deleted (or its deletion failed and was reported).
    pub(crate) fn settle(&self) {
        let (done, wait) = mpsc::sync_channel(1);
        if let Some(jobs) = &self.jobs
            && jobs.send(Job::Settle(done)).is_ok()
        {
            let _ = wait.recv();
        }
    }
}

impl Drop for Releaser {
    fn drop(&mut self) {
        self.jobs = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn run(inbox: &Receiver<Job>, usage: &WalUsage, observer: &dyn Observer) {
    for job in inbox {
        match job {
            Job::Release(release) => delete(release, usage, observer),
            Job::Settle(done) => {
                let _ = done.send(());
            }
        }
    }
}

/// Syncs the decisions, then deletes the segments. A segment whose decisions could not be synced is kept:
/// a restart reads its spans again and skips the traces whose decisions did reach the disk. Failures go to
/// the observer.
fn delete(release: Release, usage: &WalUsage, observer: &dyn Observer) {
    if let Some(decisions) = &release.decisions
        && let Err(error) = decisions.sync_data()
    {
        let what = "sync the decisions before deleting a decided segment (it is kept)";
        observer.observe(
            Event::Failed {
                what,
                error: &error,
            },
            usage,
        );
        return;
    }
    for (path, bytes) in release.segments {
        match std::fs::remove_file(&path) {
            Ok(()) => usage.segment_removed(bytes),
            Err(error) => observer.observe(
                Event::Failed {
                    what: "delete a decided segment",
                    error: &error,
                },
                usage,
            ),
        }
    }
}
