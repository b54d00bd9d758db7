//! When to try an OTLP export again, as the OTLP specification says for gRPC: which status codes are worth
//! another attempt, how long the server asked the client to wait (`google.rpc.RetryInfo`), and an exponential
//! backoff with jitter for when it did not say.

use std::time::Duration;

use tonic::{Code, Status};
use tonic_types::StatusExt;

/// Longest wait a server's `RetryInfo` is honoured for; a longer one is cut to it, so a bogus value cannot
/// park the queue for days.
const MAX_SERVER_DELAY: Duration = Duration::from_secs(300);

/// What to do after a failed export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Retry {
    /// Try again after the server's delay, or the backoff's when it gave none.
    After(Option<Duration>),
    /// The server will never take this request: give it up.
    Never,
}

/// The OTLP/gRPC rules: CANCELLED, DEADLINE_EXCEEDED, ABORTED, OUT_OF_RANGE, UNAVAILABLE and DATA_LOSS are
/// retryable; RESOURCE_EXHAUSTED only when the server says, with `RetryInfo`, that waiting will help; every other
/// code is final.
pub(crate) fn classify(status: &Status) -> Retry {
    let delay = status
        .get_details_retry_info()
        .and_then(|info| info.retry_delay)
        .map(|delay| delay.min(MAX_SERVER_DELAY));
    match status.code() {
        Code::Cancelled
        | Code::DeadlineExceeded
        | Code::Aborted
        | Code::OutOfRange
        | Code::Unavailable
        | Code::DataLoss => Retry::After(delay),
        Code::ResourceExhausted if delay.is_some() => Retry::After(delay),
        _ => Retry::Never,
    }
}

/// Exponential backoff with jitter: the n-th wait in a row is `initial × 2ⁿ`, capped at `max`, then scaled by a
/// random factor in 0.5..1.5 so that many processors behind one collector do not retry in step.
#[derive(Debug, Clone)]
pub(crate) struct Backoff {
    initial: Duration,
    max: Duration,
    failures: u32,
}

impl Backoff {
    pub(crate) fn new(initial: Duration, max: Duration) -> Self {
        Self {
            initial,
            max: max.max(initial),
            failures: 0,
        }
    }

    /// The wait before the next attempt, counting one more failure.
    pub(crate) fn next_delay(&mut self) -> Duration {
        let base = self
            .initial
            .saturating_mul(2_u32.saturating_pow(self.failures))
            .min(self.max);
        self.failures = self.failures.saturating_add(1);
        base.mul_f64(0.5 + fastrand::f64()).min(self.max)
    }

    /// After a success the next failure starts from `initial` again.
    pub(crate) fn reset(&mut self) {
        self.failures = 0;
    }
}

#[cfg(test)]
mod tests {
    use tonic_types::ErrorDetails;

    use super::*;

    #[test]
    fn codes_follow_the_otlp_specification() {
        for code in [
            Code::Cancelled,
            Code::DeadlineExceeded,
            Code::Aborted,
            Code::OutOfRange,
            Code::Unavailable,
            Code::DataLoss,
        ] {
            assert_eq!(
                classify(&Status::new(code, "")),
                Retry::After(None),
                "{code:?}"
            );
        }
        for code in [
            Code::InvalidArgument,
            Code::PermissionDenied,
            Code::Unauthenticated,
            Code::Unimplemented,
            Code::Internal,
            Code::ResourceExhausted,
        ] {
            assert_eq!(classify(&Status::new(code, "")), Retry::Never, "{code:?}");
        }
        let throttled = Status::with_error_details(
            Code::ResourceExhausted,
            "slow down",
            ErrorDetails::with_retry_info(Some(Duration::from_secs(2))),
        );
        assert_eq!(
            classify(&throttled),
            Retry::After(Some(Duration::from_secs(2)))
        );
        let absurd = Status::with_error_details(
            Code::Unavailable,
            "",
            ErrorDetails::with_retry_info(Some(Duration::from_secs(86_400))),
        );
        assert_eq!(classify(&absurd), Retry::After(Some(MAX_SERVER_DELAY)));
    }

    #[test]
    fn backoff_doubles_with_jitter_up_to_its_cap_and_resets() {
        let initial = Duration::from_millis(100);
        let mut backoff = Backoff::new(initial, Duration::from_secs(1));
        for n in 0..3 {
            let base = initial * 2_u32.pow(n);
            let delay = backoff.next_delay();
            assert!(delay >= base / 2 && delay <= base * 3 / 2, "{n}: {delay:?}");
        }
        for _ in 0..20 {
            assert!(backoff.next_delay() <= Duration::from_secs(1));
        }
        backoff.reset();
        assert!(backoff.next_delay() <= initial * 3 / 2);
    }
}
