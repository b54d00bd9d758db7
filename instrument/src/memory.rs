//! Cheap readings of the process's resident memory.
//!
//! On Linux the current resident set comes from `/proc/self/statm`, kept open and re-read with
//! `pread` at offset 0 (one system call; the kernel regenerates the text on each read), and the
//! peak from `getrusage(RUSAGE_SELF).ru_maxrss` (one more). `/proc/self/status` has both but
//! costs several times as much to generate (about 2.5 µs), so it is avoided where it can be.
//!
//! `ru_maxrss` cannot always be trusted: Linux carries it across `execve`, so a process started by
//! a larger one (a pipeline run through `cargo run`, or spawned by a big Python process) first
//! reports its parent's peak. While `ru_maxrss` still equals the value inherited at start, the
//! peak must come from `VmHWM` in `/proc/self/status`, which belongs to this process's own address
//! space. Reading it on every call would make the reading cost 3.1 µs instead of 0.6 µs in such
//! a process; instead the last `VmHWM` is kept with the resident size and the page-fault count
//! (`ru_minflt + ru_majflt`, from the same `getrusage` call) at that moment, and re-read only when
//! the peak may have moved:
//!
//! - resident memory grows only through page faults, and one fault maps at most one PMD-sized
//!   page (2 MiB on x86-64 with transparent huge pages), so since the last read the resident set
//!   has been at most `resident then + new faults × PMD size`;
//! - while that bound stays at or below the known peak, the peak cannot have moved, and the kept
//!   value is exact. Otherwise `VmHWM` is read again.
//!
//! So a process that runs below its earlier peak, or touches no new memory between readings, pays
//! for `statm` and `getrusage` only; one that is growing towards a new peak pays for `VmHWM` on
//! each reading. The bound rests on the kernel's fault accounting; resident pages that arrive without a
//! fault of this process are outside it (pages written in by another process with
//! `process_vm_writev`, `userfaultfd` copies, `khugepaged` filling a huge page around pages
//! already present). Those show in the next current reading if they stay; only a rise of that kind
//! that is gone again before the next reading could be missed, where `VmHWM` would have caught it.
//! Elsewhere than Linux there is no reading.

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
    use std::sync::{Mutex, OnceLock, PoisonError};

    use nix::sys::resource::{Usage, UsageWho, getrusage};
    use nix::unistd::{SysconfVar, sysconf};

    use super::ProcessMemory;

    struct Sources {
        statm: File,
        status: File,
        page_size: u64,
        /// `ru_maxrss` (KiB) at start when it exceeded this process's own peak, i.e. was inherited.
        inherited_kib: Option<u64>,
        /// The most one page fault can add to the resident set, in KiB.
        max_fault_kib: u64,
        /// The last `VmHWM` reading and what it was taken with; used only while `ru_maxrss` is the
        /// inherited value.
        known: Mutex<Known>,
    }

    /// A `VmHWM` reading, the `VmRSS` of the same snapshot and the fault count read just before.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    struct Known {
        peak_kib: u64,
        resident_kib: u64,
        faults: u64,
    }

    impl Known {
        /// Whether `peak_kib` is still the process's peak after `faults` page faults in all, each
        /// adding at most `max_fault_kib`: the resident set cannot have gone above it since.
        fn still_peak(&self, faults: u64, max_fault_kib: u64) -> bool {
            let growth = faults
                .saturating_sub(self.faults)
                .saturating_mul(max_fault_kib);
            self.resident_kib.saturating_add(growth) <= self.peak_kib
        }
    }

    fn faults(usage: &Usage) -> u64 {
        let n = |v: i64| u64::try_from(v).unwrap_or(0);
        n(usage.minor_page_faults()).saturating_add(n(usage.major_page_faults()))
    }

    /// `VmHWM` and `VmRSS` from `/proc/self/status`, in KiB.
    fn status_kib(status: &File) -> Option<(u64, u64)> {
        let mut buf = [0u8; 4096];
        let n = status.read_at(&mut buf, 0).ok()?;
        let text = std::str::from_utf8(buf.get(..n)?).ok()?;
        let field = |name: &str| -> Option<u64> {
            text.lines()
                .find_map(|l| l.strip_prefix(name))?
                .trim()
                .strip_suffix("kB")?
                .trim()
                .parse()
                .ok()
        };
        Some((field("VmHWM:")?, field("VmRSS:")?))
    }

    /// The size of a PMD mapping, the largest page a fault maps into an ordinary process: from
    /// the kernel where transparent huge pages are built in, else from the page size (a page
    /// table holds `page size / 8` entries).
    fn max_fault_kib(page_size: u64) -> u64 {
        std::fs::read_to_string("/sys/kernel/mm/transparent_hugepage/hpage_pmd_size")
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok())
            .unwrap_or(page_size * (page_size / 8))
            / 1024
    }

    fn sources() -> Option<&'static Sources> {
        static SOURCES: OnceLock<Option<Sources>> = OnceLock::new();
        SOURCES.get_or_init(Sources::open).as_ref()
    }

    impl Sources {
        fn open() -> Option<Sources> {
            let statm = File::open("/proc/self/statm").ok()?;
            let status = File::open("/proc/self/status").ok()?;
            let page_size = u64::try_from(sysconf(SysconfVar::PAGE_SIZE).ok()??).ok()?;
            let usage = getrusage(UsageWho::RUSAGE_SELF).ok()?;
            let (peak_kib, resident_kib) = status_kib(&status)?;
            let inherited_kib = u64::try_from(usage.max_rss())
                .ok()
                .filter(|&rusage| rusage > peak_kib);
            Some(Sources {
                statm,
                status,
                page_size,
                inherited_kib,
                max_fault_kib: max_fault_kib(page_size),
                known: Mutex::new(Known {
                    peak_kib,
                    resident_kib,
                    faults: faults(&usage),
                }),
            })
        }

        /// This process's own peak while `ru_maxrss` is the inherited value.
        fn own_peak_kib(&self, faults: u64, current_kib: u64) -> Option<u64> {
            // Held across the `VmHWM` read so that concurrent readers wait for it rather than
            // each generating `/proc/self/status`.
            let mut known = self.known.lock().unwrap_or_else(PoisonError::into_inner);
            if known.still_peak(faults, self.max_fault_kib) {
                // A resident size seen now is a resident size the process has had.
                known.peak_kib = known.peak_kib.max(current_kib);
                return Some(known.peak_kib);
            }
            let (hwm_kib, resident_kib) = status_kib(&self.status)?;
            *known = Known {
                // `faults` was read before this snapshot, so faults in between count again
                // next time: the bound errs on the side of reading.
                peak_kib: hwm_kib.max(known.peak_kib).max(current_kib),
                resident_kib,
                faults,
            };
            Some(known.peak_kib)
        }
    }

    pub(super) fn read() -> Option<ProcessMemory> {
        let sources = sources()?;
        // One call gives the peak and the fault count.
        let usage = getrusage(UsageWho::RUSAGE_SELF).ok()?;
        let mut buf = [0u8; 128];
        let n = sources.statm.read_at(&mut buf, 0).ok()?;
        let resident_pages = parse_resident_pages(buf.get(..n)?)?;
        let current = resident_pages.saturating_mul(sources.page_size);
        // ru_maxrss is in kilobytes on Linux.
        let max_rss_kib = u64::try_from(usage.max_rss()).ok()?;
        let peak_kib = match sources.inherited_kib {
            Some(inherited) if max_rss_kib <= inherited => {
                sources.own_peak_kib(faults(&usage), current / 1024)?
            }
            _ => max_rss_kib,
        };
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

        /// Tests that grow and shrink the resident set take turns: resident memory is the whole
        /// process's, so one test's 64 MiB block would show up in, or vanish from, another's readings.
        static RESIDENT_SET: Mutex<()> = Mutex::new(());

        fn alone() -> std::sync::MutexGuard<'static, ()> {
            RESIDENT_SET.lock().unwrap_or_else(PoisonError::into_inner)
        }

        #[test]
        fn statm_second_field_is_resident() {
            assert_eq!(parse_resident_pages(b"2964 513 400 66 0 61 0\n"), Some(513));
            assert_eq!(parse_resident_pages(b"2964"), None);
        }

        fn hwm(sources: &Sources) -> u64 {
            status_kib(&sources.status).unwrap().0 * 1024
        }

        #[test]
        fn the_peak_is_this_process_own() {
            let _alone = alone();
            // Under `cargo test` the process was started by cargo, whose peak `ru_maxrss` carries
            // over; the reading must still be this process's own high-water mark.
            let sources = sources().unwrap();
            let before = hwm(sources);
            let reading = read().unwrap();
            let after = hwm(sources);
            // Within the few pages by which the kernel's per-CPU resident counts can disagree.
            const SLACK: u64 = 1 << 20;
            assert!(
                (before.saturating_sub(SLACK)..=after + SLACK).contains(&reading.peak),
                "{reading:?} outside VmHWM {before}..={after}"
            );
        }

        #[test]
        fn readings_are_plausible_and_track_growth() {
            let _alone = alone();
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
            drop(block);
            let after = read().unwrap();
            // Within the few pages by which the kernel's per-CPU resident counts can disagree.
            assert!(
                after.peak + (1 << 20) >= during.current,
                "the peak must remember the block: {during:?} -> {after:?}"
            );
        }

        #[test]
        fn the_peak_is_read_again_only_when_faults_could_have_moved_it() {
            let known = Known {
                peak_kib: 10_000,
                resident_kib: 5_000,
                faults: 100,
            };
            assert!(known.still_peak(100, 2048));
            // Two faults of up to 2 MiB each fit under the peak, three do not.
            assert!(known.still_peak(102, 2048));
            assert!(!known.still_peak(103, 2048));
            // A count older than the reading (another thread read later) is no growth.
            assert!(known.still_peak(90, 2048));
        }

        #[test]
        fn an_inherited_peak_is_replaced_by_the_own_one_even_when_short_lived() {
            let _alone = alone();
            // Force the inherited path whatever started this test process.
            let own = Sources {
                inherited_kib: Some(u64::MAX),
                ..Sources::open().unwrap()
            };
            let reading = |s: &Sources| {
                let usage = getrusage(UsageWho::RUSAGE_SELF).unwrap();
                s.own_peak_kib(faults(&usage), 0).unwrap() * 1024
            };
            // The kernel keeps resident counts per CPU and sums them approximately, so two
            // readings taken apart can disagree by a few pages.
            const SLACK: u64 = 1 << 20;
            let before = reading(&own);
            assert!(before <= hwm(&own) + SLACK);
            // Touch 64 MiB and give it back: a peak that no later current reading will see.
            let block = vec![1u8; 64 << 20];
            let held = read().unwrap().current;
            assert_eq!(std::hint::black_box(&block)[12345], 1);
            drop(block);
            let after = reading(&own);
            assert!(
                after + SLACK >= held,
                "peak {after} below the {held} bytes held"
            );
            assert!(after <= hwm(&own) + SLACK);
            // With no fault since, the kept value stands.
            let known = *own.known.lock().unwrap();
            assert!(known.still_peak(known.faults, own.max_fault_kib));
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
