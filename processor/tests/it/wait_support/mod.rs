//! Waiting for a state the system under test reaches on its own (a verdict answered, a process ready, a
//! record delivered): one bound for every wait, a look every few milliseconds, and on timeout a panic that
//! names what was awaited and the last state seen.
//!
//! The bound is not a measure of speed: it is far beyond what a loaded test machine needs, so that only a
//! state never reached fails a test.
//!
//! A probe answers `Ok(value)` once the state is reached, or `Err(seen)`: what it observed instead, which
//! the timeout message shows. A probe may also fail the test at once (an answer that rules the state out).

use std::fmt::Display;
use std::future::Future;
use std::time::{Duration, Instant};

/// Upper bound of every wait in these tests.
pub(crate) const WAIT: Duration = Duration::from_secs(60);

/// Time between two looks of a probe.
const INTERVAL: Duration = Duration::from_millis(50);

/// Looks at `probe` until it answers `Ok`, failing after [`WAIT`] with `what` and the last state seen.
pub(crate) fn wait_until<T, S: Display>(what: &str, probe: impl FnMut() -> Result<T, S>) -> T {
    poll_until(WAIT, probe).unwrap_or_else(|seen| timed_out(what, &seen))
}

/// [`wait_until`] for a probe that awaits (an HTTP request, say), on the test's runtime.
pub(crate) async fn wait_until_async<T, S, F>(what: &str, probe: impl FnMut() -> F) -> T
where
    S: Display,
    F: Future<Output = Result<T, S>>,
{
    poll_until_async(WAIT, probe)
        .await
        .unwrap_or_else(|seen| timed_out(what, &seen))
}

/// Looks at `probe` until it answers `Ok` or `within` has passed; then its last `Err`. For a test to which a
/// state never reached is an outcome it counts, not a failure.
pub(crate) fn poll_until<T, S>(
    within: Duration,
    mut probe: impl FnMut() -> Result<T, S>,
) -> Result<T, S> {
    let deadline = Instant::now() + within;
    loop {
        match probe() {
            Err(seen) if Instant::now() < deadline => drop(seen),
            answer => return answer,
        }
        std::thread::sleep(INTERVAL);
    }
}

/// [`poll_until`] for a probe that awaits.
pub(crate) async fn poll_until_async<T, S, F>(
    within: Duration,
    mut probe: impl FnMut() -> F,
) -> Result<T, S>
where
    F: Future<Output = Result<T, S>>,
{
    let deadline = Instant::now() + within;
    loop {
        match probe().await {
            Err(seen) if Instant::now() < deadline => drop(seen),
            answer => return answer,
        }
        tokio::time::sleep(INTERVAL).await;
    }
}

fn timed_out(what: &str, seen: &dyn Display) -> ! {
    panic!("timed out after {WAIT:?} waiting for {what}; last seen: {seen}")
}
