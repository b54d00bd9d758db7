//! CPU time and resident memory of another process, read from `/proc`.
//!
//! CPU time is `utime + stime` of `/proc/PID/stat`: it covers every thread of the process, including threads
//! that have already exited, at the resolution of a clock tick (10 ms). `/proc/PID/schedstat` counts in
//! nanoseconds but only for the process's main thread, so it would miss the runtime's worker threads.

use std::fs;
use std::io;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Clock ticks per second of `/proc` CPU times when `getconf CLK_TCK` cannot say (`USER_HZ` on Linux).
const DEFAULT_CLOCK_TICKS: u64 = 100;

/// How often the resident set is sampled while load runs.
const RSS_SAMPLE_EVERY: Duration = Duration::from_millis(50);

/// Error reading a process's figures.
#[derive(Debug, thiserror::Error)]
pub enum MeasureError {
    #[error("cannot read {path}: {source}")]
    Read { path: String, source: io::Error },
    #[error("cannot parse {path}: {what}")]
    Parse { path: String, what: &'static str },
}

/// Reads one process's CPU time and resident memory.
#[derive(Debug, Clone)]
pub struct ProcessProbe {
    pid: u32,
    clock_ticks: u64,
}

impl ProcessProbe {
    /// A probe of `pid`; fails when the process cannot be read.
    pub fn new(pid: u32) -> Result<Self, MeasureError> {
        let probe = Self {
            pid,
            clock_ticks: clock_ticks(),
        };
        probe.cpu_time()?;
        probe.rss_bytes()?;
        Ok(probe)
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// User plus system CPU time the process has used so far, all threads.
    pub fn cpu_time(&self) -> Result<Duration, MeasureError> {
        let path = format!("/proc/{}/stat", self.pid);
        let stat = read(&path)?;
        let ticks = parse_cpu_ticks(&stat).ok_or(MeasureError::Parse {
            path,
            what: "utime and stime",
        })?;
        Ok(Duration::from_secs_f64(
            ticks as f64 / self.clock_ticks as f64,
        ))
    }

    /// Resident set size now, in bytes (`VmRSS`).
    pub fn rss_bytes(&self) -> Result<u64, MeasureError> {
        let path = format!("/proc/{}/status", self.pid);
        let status = read(&path)?;
        parse_vm_rss(&status).ok_or(MeasureError::Parse {
            path,
            what: "VmRSS",
        })
    }

    /// Starts sampling the resident set in the background, keeping the largest value seen.
    pub fn sample_rss(&self) -> RssSampler {
        let peak = Arc::new(AtomicU64::new(self.rss_bytes().unwrap_or(0)));
        let (stop, mut stopped) = watch::channel(false);
        let probe = self.clone();
        let seen = Arc::clone(&peak);
        let task = tokio::spawn(async move {
            let mut every = tokio::time::interval(RSS_SAMPLE_EVERY);
            loop {
                tokio::select! {
                    _ = every.tick() => {
                        if let Ok(rss) = probe.rss_bytes() {
                            seen.fetch_max(rss, Ordering::Relaxed);
                        }
                    }
                    _ = stopped.changed() => return,
                }
            }
        });
        RssSampler { peak, stop, task }
    }
}

/// Samples a process's resident set until stopped.
#[derive(Debug)]
pub struct RssSampler {
    peak: Arc<AtomicU64>,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl RssSampler {
    /// Stops sampling; returns the largest resident set seen, in bytes.
    pub async fn stop(self) -> u64 {
        let _ = self.stop.send(true);
        let _ = self.task.await;
        self.peak.load(Ordering::Relaxed)
    }
}

fn read(path: &str) -> Result<String, MeasureError> {
    fs::read_to_string(path).map_err(|source| MeasureError::Read {
        path: path.to_owned(),
        source,
    })
}

/// `utime + stime` in clock ticks. The command name (field 2) may hold spaces and parentheses, so fields
/// are counted from the last `)`: state is field 3, utime 14 and stime 15.
fn parse_cpu_ticks(stat: &str) -> Option<u64> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    let mut fields = after_name.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

fn parse_vm_rss(status: &str) -> Option<u64> {
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// The kernel's `USER_HZ`, asked of `getconf` because `sysconf` is out of reach of safe code.
fn clock_ticks() -> u64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .filter(|output| output.status.success())
        .and_then(|output| String::from_utf8(output.stdout).ok())
        .and_then(|text| text.trim().parse().ok())
        .filter(|ticks| *ticks > 0)
        .unwrap_or(DEFAULT_CLOCK_TICKS)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn cpu_ticks_are_counted_past_a_name_with_spaces_and_parentheses() {
        let stat = "4242 (tokio (rt) x) S 1 4242 4242 0 -1 4194560 1000 0 0 0 250 37 0 0 20 0 3 0 100 \
                    123456 789 18446744073709551615";
        assert_eq!(parse_cpu_ticks(stat), Some(287));
    }

    #[test]
    fn rss_is_read_in_bytes() {
        let status = "Name:\tx\nVmPeak:\t  9000 kB\nVmRSS:\t  2048 kB\nThreads:\t3\n";
        assert_eq!(parse_vm_rss(status), Some(2048 * 1024));
    }

    #[test]
    fn this_process_can_be_probed() {
        let probe = ProcessProbe::new(std::process::id()).unwrap();
        assert!(probe.rss_bytes().unwrap() > 0);
    }
}
