//! Command-line values shared by the processor's subcommands.

use std::io::IsTerminal;

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
