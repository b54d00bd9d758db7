//! Errors that name the file, the line and the field.

use std::fmt;

/// A contract file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{path}: cannot read: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid YAML or does not match the contract file's shape.
    #[error("{0}")]
    Invalid(Located),
}

/// An error at a place in a file.
#[derive(Debug, Clone, PartialEq)]
pub struct Located {
    pub file: String,
    /// 1-based; `None` when the parser gave no position.
    pub line: Option<usize>,
    pub column: Option<usize>,
    /// Dotted path of the offending field, e.g. `contracts[3].threshold`.
    pub field: Option<String>,
    pub message: String,
}

impl fmt::Display for Located {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(column) = self.column {
                write!(f, ":{column}")?;
            }
        }
        if let Some(field) = &self.field {
            write!(f, ": field `{field}`")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl ConfigError {
    pub(super) fn from_yaml(file: &str, err: &serde_yaml::Error) -> Self {
        let location = err.location();
        // serde_yaml prefixes the message with the field path ("contracts[2].severity: ..."); split it off so
        // the field is reported as a field.
        let text = err.to_string();
        let text = match location.as_ref() {
            Some(loc) => text
                .strip_suffix(&format!(" at line {} column {}", loc.line(), loc.column()))
                .unwrap_or(&text)
                .to_owned(),
            None => text,
        };
        let (field, message) = match text.split_once(": ") {
            Some((path, rest)) if looks_like_path(path) => (Some(path.to_owned()), rest.to_owned()),
            _ => (None, text),
        };
        ConfigError::Invalid(Located {
            file: file.to_owned(),
            line: location.as_ref().map(|loc| loc.line()),
            column: location.as_ref().map(|loc| loc.column()),
            field,
            message,
        })
    }

    /// serde_yaml places an error in a mapping's key (an unknown stage name, say) at the mapping's first
    /// key; this moves it to the line of the offending key itself, found after that place in `text`.
    pub(super) fn at_offending_key(mut self, text: &str) -> Self {
        if let ConfigError::Invalid(located) = &mut self
            && let Some(line) = located.line
            && let Some(key) = located
                .message
                .split('`')
                .nth(1)
                .filter(|_| located.message.starts_with("unknown "))
            && let Some(found) = super::validate::key_lines(text, key).find(|&l| l >= line)
        {
            located.line = Some(found);
            located.column = None;
        }
        self
    }

    /// The located error, when there is one.
    pub fn located(&self) -> Option<&Located> {
        match self {
            ConfigError::Invalid(located) => Some(located),
            ConfigError::Read { .. } => None,
        }
    }
}

fn looks_like_path(text: &str) -> bool {
    !text.is_empty()
        && !text.contains(' ')
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '[' | ']'))
}
