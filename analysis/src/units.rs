//! Figures as people read them, the one place analyses, reports and pages format durations, bytes, rates
//! and shares:
//! `7 ms`, `2.4 s`, `3 min 12 s`, `87.5 MiB`, `1.2 GiB/s`, `42 %`.
//!
//! Bytes are binary (1 MiB = 2^20 bytes) and labelled so: the memory contracts' `100 MB` is 104 857 600
//! bytes, which is 100 MiB, and a page that wrote "MB" would be off by five per cent against a decimal reader.
//! Three significant figures at most: the pages compare figures with limits, and more digits only hide that.

/// The contracts' unit of bytes (UCUM).
const BYTES: &str = "By";
/// The contracts' unit of a byte rate (UCUM).
const BYTES_PER_SECOND: &str = "By/s";
/// The contracts' unit of seconds (UCUM).
const SECONDS: &str = "s";
/// What a figure that is not a number shows.
const NOT_A_NUMBER: &str = "—";

const BINARY_UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];

/// Serializes seconds at the spans' resolution, the nanosecond: a difference of two readings carries float
/// noise in its last digits (`0.0020000000000000018` for 2 ms) that says nothing and costs bytes in every
/// stored analysis. Negative zero, which an empty sum gives, is written as zero.
pub(crate) fn nanosecond_seconds<S: serde::Serializer>(
    seconds: &f64,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_f64(to_nanosecond(*seconds))
}

/// `seconds` rounded to the nearest nanosecond, zero for negative zero; not-a-number stays so.
fn to_nanosecond(seconds: f64) -> f64 {
    let rounded = (seconds * 1e9).round() / 1e9;
    // Past 2^53 ns (about 104 days) the product is already an integer count, and rounding leaves it as is.
    rounded + 0.0
}

/// Up to three significant figures, no trailing zeros: `7`, `12.3`, `0.61`, `245`.
pub fn number(value: f64) -> String {
    if !value.is_finite() {
        return NOT_A_NUMBER.to_owned();
    }
    let magnitude = value.abs();
    let decimals = if magnitude >= 100.0 || magnitude == 0.0 {
        0
    } else if magnitude >= 10.0 {
        1
    } else if magnitude >= 0.01 {
        2
    } else {
        // Small figures (a tiny share, a growth rate near zero) keep three significant digits.
        (2 - magnitude.log10().floor() as i32).clamp(2, 12) as usize
    };
    let text = format!("{value:.decimals$}");
    let text = if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.')
    } else {
        &text
    };
    if text == "-0" {
        "0".to_owned()
    } else {
        text.to_owned()
    }
}

/// A duration in the unit that reads best: `850 µs`, `7 ms`, `2.4 s`, `3 min 12 s`, `1 h 5 min`.
pub fn duration(seconds: f64) -> String {
    if !seconds.is_finite() {
        return NOT_A_NUMBER.to_owned();
    }
    if seconds < 0.0 {
        return format!("-{}", duration(-seconds));
    }
    if seconds == 0.0 {
        return "0 s".to_owned();
    }
    if seconds < 1e-3 {
        return format!("{} µs", number(seconds * 1e6));
    }
    if seconds < 1.0 {
        let ms = number(seconds * 1e3);
        // 999.6 ms rounds to 1000: say 1 s instead.
        return if ms == "1000" {
            "1 s".to_owned()
        } else {
            format!("{ms} ms")
        };
    }
    if seconds < 60.0 {
        return format!("{} s", number(seconds));
    }
    let whole = seconds.round() as u64;
    let (hours, minutes, rest) = (whole / 3600, whole / 60 % 60, whole % 60);
    match (hours, minutes, rest) {
        (0, m, 0) => format!("{m} min"),
        (0, m, s) => format!("{m} min {s} s"),
        (h, 0, _) => format!("{h} h"),
        (h, m, _) => format!("{h} h {m} min"),
    }
}

/// Bytes in binary units: `512 B`, `87.5 MiB`, `1.2 GiB`.
pub fn bytes(value: f64) -> String {
    if !value.is_finite() {
        return NOT_A_NUMBER.to_owned();
    }
    let mut scaled = value;
    let mut unit = 0;
    while scaled.abs() >= 1024.0 && unit < BINARY_UNITS.len() - 1 {
        scaled /= 1024.0;
        unit += 1;
    }
    // 1023.9 KiB rounds to 1024 KiB: that is 1 MiB to a reader.
    let rounded = number(scaled).parse::<f64>().unwrap_or(scaled);
    if rounded.abs() >= 1024.0 && unit < BINARY_UNITS.len() - 1 {
        scaled /= 1024.0;
        unit += 1;
    }
    format!("{} {}", number(scaled), BINARY_UNITS[unit])
}

/// A byte rate: `1.2 GiB/s`.
pub fn rate(bytes_per_second: f64) -> String {
    format!("{}/s", bytes(bytes_per_second))
}

/// A ratio as a share: `42 %`, `0.8 %`, `163 %`.
pub fn share(ratio: f64) -> String {
    if !ratio.is_finite() {
        return NOT_A_NUMBER.to_owned();
    }
    format!("{} %", number(ratio * 100.0))
}

/// A contract's figure in its unit: bytes and rates binary, seconds as a duration, `1` left out.
pub fn measured(value: f64, unit: &str) -> String {
    match unit {
        BYTES => bytes(value),
        BYTES_PER_SECOND => rate(value),
        SECONDS => duration(value),
        "" | "1" => number(value),
        unit => format!("{} {unit}", number(value)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_are_written_to_the_nanosecond_without_negative_zero() {
        #[derive(serde::Serialize)]
        struct Step(#[serde(serialize_with = "nanosecond_seconds")] f64);
        let cases = [
            (0.0020000000000000018, "0.002"),
            (0.4995495779999999, "0.499549578"),
            (20.203934241, "20.203934241"),
            (-0.0, "0.0"),
            (-0.25, "-0.25"),
            (1e-10, "0.0"),
            (86_400.000_000_001, "86400.000000001"),
            (f64::NAN, "null"),
        ];
        for (seconds, expected) in cases {
            let text = serde_json::to_string(&Step(seconds)).unwrap_or_default();
            assert_eq!(text, expected, "{seconds:?}");
        }
    }

    #[test]
    fn durations_read_in_the_unit_that_fits() {
        let cases = [
            (0.0, "0 s"),
            (0.00085, "850 µs"),
            (0.007, "7 ms"),
            (0.0333, "33.3 ms"),
            (0.9996, "1 s"),
            (1.527, "1.53 s"),
            (2.4, "2.4 s"),
            (180.0, "3 min"),
            (192.4, "3 min 12 s"),
            (3900.0, "1 h 5 min"),
            (-0.5, "-500 ms"),
            (f64::NAN, "—"),
        ];
        for (seconds, expected) in cases {
            assert_eq!(duration(seconds), expected, "{seconds}");
        }
    }

    #[test]
    fn bytes_are_binary_and_say_so() {
        let cases = [
            (512.0, "512 B"),
            (104_857_600.0, "100 MiB"),
            (91_750_400.0, "87.5 MiB"),
            (1_288_490_188.8, "1.2 GiB"),
            (1_048_575.0, "1 MiB"),
            (f64::INFINITY, "—"),
        ];
        for (value, expected) in cases {
            assert_eq!(bytes(value), expected, "{value}");
        }
        assert_eq!(rate(1_323_687_278.9), "1.23 GiB/s");
        assert_eq!(rate(-2048.0), "-2 KiB/s");
    }

    #[test]
    fn numbers_and_shares_keep_three_figures() {
        assert_eq!(number(0.608828), "0.61");
        assert_eq!(number(0.87), "0.87");
        assert_eq!(number(5.0), "5");
        assert_eq!(number(0.000123456), "0.000123");
        assert_eq!(number(-0.0), "0");
        assert_eq!(share(0.4235), "42.4 %");
        assert_eq!(share(0.0085), "0.85 %");
        assert_eq!(share(1.63), "163 %");
    }

    #[test]
    fn contract_units_pick_their_format() {
        assert_eq!(measured(104_857_600.0, "By"), "100 MiB");
        assert_eq!(measured(3.5, "s"), "3.5 s");
        assert_eq!(measured(0.318182, "1"), "0.32");
        assert_eq!(measured(4.0, "{violations}"), "4 {violations}");
    }
}
