//! Times as CI reports print them: UTC in ISO 8601, with no date library for one format.

const NANOS_PER_SECOND: u64 = 1_000_000_000;
const SECONDS_PER_DAY: u64 = 86_400;

/// `2026-11-29T08:01:14.738Z` for nanoseconds since the Unix epoch.
pub(crate) fn iso8601(unix_nano: u64) -> String {
    let seconds = unix_nano / NANOS_PER_SECOND;
    let millis = (unix_nano % NANOS_PER_SECOND) / 1_000_000;
    let (year, month, day) = civil_from_days(seconds / SECONDS_PER_DAY);
    let of_day = seconds % SECONDS_PER_DAY;
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        of_day / 3600,
        of_day % 3600 / 60,
        of_day % 60
    )
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (Howard Hinnant's `civil_from_days`,
/// for days on or after the epoch).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let shifted = days + 719_468;
    let era = shifted / 146_097;
    let day_of_era = shifted % 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + u64::from(month <= 2);
    (year, month, day)
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
