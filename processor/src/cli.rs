//! Command-line values shared by the processor's subcommands.

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
