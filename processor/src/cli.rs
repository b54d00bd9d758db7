//! Command-line values shared by the processor's subcommands.

use std::io::IsTerminal;
use std::time::Duration;

use clap::ValueEnum;

use crate::config::Profile;

/// The contract profiles, as the command line spells them.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ProfileArg {
    Production,
    Development,
}

impl From<ProfileArg> for Profile {
    fn from(arg: ProfileArg) -> Self {
        match arg {
            ProfileArg::Production => Profile::Production,
            ProfileArg::Development => Profile::Development,
        }
    }
}

/// The variable that turns colour off whatever the terminal (<https://no-color.org>).
const NO_COLOR: &str = "NO_COLOR";

/// Whether to colour what goes to standard output: only for a person at a terminal, and not under `NO_COLOR`.
/// Escapes in a redirected file, a pipe or a log collector are noise.
pub fn stdout_colour() -> bool {
    std::io::stdout().is_terminal() && std::env::var_os(NO_COLOR).is_none()
}

/// A flag's number of seconds: above zero and at most a day, and not so small that it rounds to no time at
/// all.
pub fn seconds(text: &str) -> Result<Duration, String> {
    let seconds: f64 = text
        .parse()
        .map_err(|_| format!("{text:?} is not a number of seconds"))?;
    match Duration::try_from_secs_f64(seconds) {
        Ok(duration) if !duration.is_zero() && duration <= Duration::from_secs(86_400) => {
            Ok(duration)
        }
        _ => Err("must be above 0 and at most 86400 seconds".to_owned()),
    }
}

/// A flag's non-negative, finite number.
pub(crate) fn non_negative(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(value) if value.is_finite() && value >= 0.0 => Ok(value),
        _ => Err("expected a finite number, 0 or more".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_are_above_zero_and_at_most_a_day() {
        assert_eq!(seconds("1.5"), Ok(Duration::from_millis(1500)));
        assert_eq!(seconds("86400"), Ok(Duration::from_secs(86_400)));
        for bad in ["0", "-1", "1e-12", "86401", "inf", "NaN"] {
            assert!(seconds(bad).is_err(), "{bad}");
        }
        assert_eq!(
            seconds("soon").unwrap_err(),
            "\"soon\" is not a number of seconds"
        );
    }

    #[test]
    fn non_negative_numbers_are_finite() {
        assert_eq!(non_negative("0"), Ok(0.0));
        assert_eq!(non_negative("2.5"), Ok(2.5));
        for bad in ["-0.1", "inf", "NaN", "x"] {
            assert!(non_negative(bad).is_err(), "{bad}");
        }
    }
}
