//! Cheap readings of the process's resident memory.
//!
//! On Linux the current resident set comes from `/proc/self/statm`, kept open and re-read with
//! `pread` at offset 0 (one system call; the kernel regenerates the text on each read), and the
//! peak from `getrusage(RUSAGE_SELF).ru_maxrss` (one more). `/proc/self/status` has both but
//! costs several times as much to generate, so it is read only when `ru_maxrss` cannot be
//! trusted: Linux carries `ru_maxrss` across `execve`, so a process started by a larger one (a
//! pipeline run through `cargo run`, or spawned by a big Python process) first reports its
//! parent's peak. While `ru_maxrss` still equals the value inherited at start, the peak is read
//! from `VmHWM` instead, which belongs to this process's own address space. Elsewhere there is no
//! reading.

/// The process's resident memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcessMemory {
    /// Resident set size now, in bytes.
    pub current: u64,
    /// Highest resident set size since the process started, in bytes.
    pub peak: u64,
}

/// Reads the process's current and peak resident memory; `None` where the platform offers no
/// cheap reading (anything but Linux) or the reading failed.
pub fn process_memory() -> Option<ProcessMemory> {
    imp::read()
}

#[cfg(target_os = "linux")]
mod imp {
    use std::fs::File;
    use std::os::unix::fs::FileExt;
    use std::sync::OnceLock;

    use nix::sys::resource::{UsageWho, getrusage};
    use nix::unistd::{SysconfVar, sysconf};

    use super::ProcessMemory;

    struct Sources {
        statm: File,
        status: File,
        page_size: u64,
        /// `ru_maxrss` (KiB) at start when it exceeded this process's own peak, i.e. was inherited.
        inherited_kib: Option<u64>,
    }

    fn max_rss_kib() -> Option<u64> {
        u64::try_from(getrusage(UsageWho::RUSAGE_SELF).ok()?.max_rss()).ok()
    }

    /// `VmHWM` from `/proc/self/status`, in KiB.
    fn hwm_kib(status: &File) -> Option<u64> {
        let mut buf = [0u8; 4096];
        let n = status.read_at(&mut buf, 0).ok()?;
        let text = std::str::from_utf8(buf.get(..n)?).ok()?;
        text.lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))?
            .trim()
            .strip_suffix("kB")?
            .trim()
            .parse()
            .ok()
    }

    fn sources() -> Option<&'static Sources> {
        static SOURCES: OnceLock<Option<Sources>> = OnceLock::new();
        SOURCES
            .get_or_init(|| {
                let statm = File::open("/proc/self/statm").ok()?;
                let status = File::open("/proc/self/status").ok()?;
                let page_size = sysconf(SysconfVar::PAGE_SIZE).ok()??;
                let own = hwm_kib(&status)?;
                let inherited_kib = max_rss_kib().filter(|&rusage| rusage > own);
                Some(Sources {
                    statm,
                    status,
                    page_size: u64::try_from(page_size).ok()?,
                    inherited_kib,
                })
            })
            .as_ref()
    }

    pub(super) fn read() -> Option<ProcessMemory> {
        let sources = sources()?;
        let mut buf = [0u8; 128];
        let n = sources.statm.read_at(&mut buf, 0).ok()?;
        let resident_pages = parse_resident_pages(buf.get(..n)?)?;
        // ru_maxrss is in kilobytes on Linux.
        let mut peak_kib = max_rss_kib()?;
        if sources
            .inherited_kib
            .is_some_and(|inherited| peak_kib <= inherited)
        {
            peak_kib = hwm_kib(&sources.status)?;
        }
        let current = resident_pages.saturating_mul(sources.page_size);
        Some(ProcessMemory {
            current,
            // The two readings are not atomic together; the peak can never be below the present.
            peak: peak_kib.saturating_mul(1024).max(current),
        })
    }

    /// `statm` is `size resident shared text lib data dt`, in pages.
    fn parse_resident_pages(statm: &[u8]) -> Option<u64> {
        let text = std::str::from_utf8(statm).ok()?;
        text.split_ascii_whitespace().nth(1)?.parse().ok()
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn statm_second_field_is_resident() {
            assert_eq!(parse_resident_pages(b"2964 513 400 66 0 61 0\n"), Some(513));
            assert_eq!(parse_resident_pages(b"2964"), None);
        }

        #[test]
        fn the_peak_is_this_process_own() {
            // Under `cargo test` the process was started by cargo, whose peak `ru_maxrss` carries
            // over; the reading must still be this process's own high-water mark.
            let sources = sources().unwrap();
            let before = hwm_kib(&sources.status).unwrap() * 1024;
            let reading = read().unwrap();
            let after = hwm_kib(&sources.status).unwrap() * 1024;
            assert!(
                (before..=after).contains(&reading.peak),
                "{reading:?} outside VmHWM {before}..={after}"
            );
        }

        #[test]
        fn readings_are_plausible_and_track_growth() {
            let before = read().unwrap();
            assert!(before.current > 1 << 20, "{before:?}");
            assert!(before.peak >= before.current);
            // Touch 64 MiB so the resident set must grow by most of it.
            let block = vec![1u8; 64 << 20];
            let during = read().unwrap();
            assert!(
                std::hint::black_box(&block)
                    .iter()
                    .step_by(4096)
                    .all(|&b| b == 1)
            );
            assert!(
                during.current >= before.current + (48 << 20),
                "{before:?} -> {during:?}"
            );
            assert!(during.peak >= during.current);
        }
    }
}

#[cfg(not(target_os = "linux"))]
mod imp {
    use super::ProcessMemory;

    pub(super) fn read() -> Option<ProcessMemory> {
        None
    }
}
