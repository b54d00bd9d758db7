//! The process's resident memory as the kernel counts it: what a container limit and the OOM killer see,
//! and what `limits.max_memory_bytes` is meant to bound.

use std::time::Duration;

/// How often resident memory is sampled: often enough that a burst of requests meets a fresh figure.
pub(crate) const SAMPLE_EVERY: Duration = Duration::from_millis(100);

/// `VmRSS` of `/proc/self/status`, in bytes; `None` where there is no such file (not Linux) or it cannot
/// be read.
pub(crate) fn resident_bytes() -> Option<usize> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    vm_rss(&status)
}

fn vm_rss(status: &str) -> Option<usize> {
    let kib: usize = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))?
        .trim()
        .strip_suffix("kB")?
        .trim()
        .parse()
        .ok()?;
    kib.checked_mul(1024)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn vm_rss_is_read_in_bytes_and_anything_else_is_none() {
        let status = "Name:\tironforge\nVmHWM:\t  482128 kB\nVmRSS:\t  392736 kB\nThreads:\t9\n";
        assert_eq!(vm_rss(status), Some(392_736 * 1024));
        assert_eq!(vm_rss("Name:\tironforge\n"), None);
        assert_eq!(vm_rss("VmRSS:\t12 MB\n"), None);
        #[cfg(target_os = "linux")]
        assert!(resident_bytes().unwrap() > 0);
    }
}
