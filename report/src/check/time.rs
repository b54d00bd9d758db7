//! Times as CI reports print them: UTC in ISO 8601 (RFC 3339), to the millisecond.

use std::time::{Duration, UNIX_EPOCH};

/// `2026-11-29T08:01:14.738Z` for nanoseconds since the Unix epoch.
pub(crate) fn iso8601(unix_nano: u64) -> String {
    humantime::format_rfc3339_millis(UNIX_EPOCH + Duration::from_nanos(unix_nano)).to_string()
}

#[cfg(test)]
mod tests {
    use super::iso8601;

    #[test]
    fn times_print_in_utc() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00.000Z");
        // date -u -d @951782400 (a leap day)
        assert_eq!(iso8601(951_782_400_123_000_000), "2000-02-29T00:00:00.123Z");
        // date -u -d @1795944074
        assert_eq!(
            iso8601(1_795_944_074_738_949_872),
            "2026-11-29T09:21:14.738Z"
        );
    }
}
