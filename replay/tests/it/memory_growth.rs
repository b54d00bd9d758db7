//! The memory-growth fault makes resident memory really grow, not just the allocator's books.
//!
//! The peak of resident memory is the whole process's, which other tests raise: this runs in a process of
//! its own, which starts small.

use crate::own_process::run_apart;
use ironforge_replay::{Faults, ReplayOptions, run};

/// Peak resident set size of this process, in bytes.
fn peak_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    let kib: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kib * 1024
}

#[test]
fn resident_memory_peaks_above_the_requested_growth() {
    if !run_apart(
        module_path!(),
        "resident_memory_peaks_above_the_requested_growth",
    ) {
        return;
    }
    const MB: u64 = 128;
    let before = peak_rss();
    assert!(
        before < MB << 20,
        "precondition: the test process starts small ({before} bytes)"
    );
    let summary = run(&ReplayOptions {
        faults: Faults {
            memory_growth_mb: Some(MB),
            ..Faults::default()
        },
        ..ReplayOptions::default()
    })
    .unwrap();
    assert_eq!(summary.ballast_bytes as u64, MB << 20);
    let after = peak_rss();
    assert!(
        after >= before + (MB << 20) * 9 / 10,
        "peak RSS {before} -> {after}"
    );
}
