//! Bearer tokens: loaded from a file or the environment, kept only as a SHA-256 digest, and compared in
//! constant time.

use std::fmt;
use std::path::{Path, PathBuf};

use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use ring::digest::{SHA256, digest};
use subtle::ConstantTimeEq;

/// A secret a client must present as `authorization: Bearer <token>`.
///
/// Only the digest is kept: the token itself can never reach a log line or a `Debug` print. Comparing
/// digests of equal length also keeps the comparison from revealing the token's length.
#[derive(Clone)]
pub struct Token {
    digest: [u8; 32],
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(redacted)")
    }
}

/// Why a token could not be loaded. The token itself is never part of the message.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("cannot read the token file {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the token from {origin} is empty")]
    Empty { origin: String },
    #[error("the token from {origin} holds characters a header cannot carry")]
    NotVisibleAscii { origin: String },
}

/// Why a request's credentials were refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Denial {
    /// No `authorization: Bearer` header.
    Missing,
    /// A bearer token that is not the one configured.
    Invalid,
}

impl Denial {
    /// The label value counted for this refusal.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Missing => "missing",
            Self::Invalid => "invalid",
        }
    }
}

impl Token {
    /// A token from its text; surrounding whitespace (a file's final newline) is not part of it.
    pub fn new(secret: &str, origin: &str) -> Result<Self, TokenError> {
        let secret = secret.trim();
        if secret.is_empty() {
            return Err(TokenError::Empty {
                origin: origin.to_owned(),
            });
        }
        if !secret.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(TokenError::NotVisibleAscii {
                origin: origin.to_owned(),
            });
        }
        Ok(Self {
            digest: hash(secret.as_bytes()),
        })
    }

    /// The token held in a file (its whole content, trimmed).
    pub fn from_file(path: &Path) -> Result<Self, TokenError> {
        let secret = std::fs::read_to_string(path).map_err(|source| TokenError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::new(&secret, &path.display().to_string())
    }

    /// The token named by a file, or else by an environment variable; `None` when neither is set.
    pub fn from_file_or_env(file: Option<&Path>, env: &str) -> Result<Option<Self>, TokenError> {
        if let Some(file) = file {
            return Self::from_file(file).map(Some);
        }
        match std::env::var(env) {
            Ok(secret) => Self::new(&secret, &format!("${env}")).map(Some),
            Err(_) => Ok(None),
        }
    }

    /// Checks the request's `authorization: Bearer` header against this token.
    pub(crate) fn verify(&self, headers: &HeaderMap) -> Result<(), Denial> {
        let presented = headers
            .get(AUTHORIZATION)
            .and_then(|value| bearer(value.as_bytes()))
            .ok_or(Denial::Missing)?;
        if bool::from(hash(presented).ct_eq(&self.digest)) {
            Ok(())
        } else {
            Err(Denial::Invalid)
        }
    }
}

/// The credentials of a `Bearer` authorization value; the scheme is case-insensitive (RFC 7235).
fn bearer(value: &[u8]) -> Option<&[u8]> {
    let (scheme, rest) = value.split_at_checked(7)?;
    scheme
        .eq_ignore_ascii_case(b"bearer ")
        .then(|| rest.trim_ascii())
        .filter(|token| !token.is_empty())
}

fn hash(bytes: &[u8]) -> [u8; 32] {
    let mut out = [0; 32];
    out.copy_from_slice(digest(&SHA256, bytes).as_ref());
    out
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn headers(value: &'static str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, HeaderValue::from_static(value));
        headers
    }

    #[test]
    fn only_the_configured_bearer_token_passes() {
        let token = Token::new("s3cret\n", "test").unwrap();
        assert_eq!(token.verify(&headers("Bearer s3cret")), Ok(()));
        assert_eq!(token.verify(&headers("bearer s3cret")), Ok(()));
        assert_eq!(token.verify(&headers("Bearer s3cre")), Err(Denial::Invalid));
        assert_eq!(token.verify(&headers("Basic s3cret")), Err(Denial::Missing));
        assert_eq!(token.verify(&headers("Bearer ")), Err(Denial::Missing));
        assert_eq!(token.verify(&HeaderMap::new()), Err(Denial::Missing));
    }

    #[test]
    fn tokens_are_never_printed_and_never_empty() {
        let token = Token::new("s3cret", "test").unwrap();
        assert!(!format!("{token:?}").contains("s3cret"));
        assert!(matches!(
            Token::new(" \n", "x"),
            Err(TokenError::Empty { .. })
        ));
        assert!(matches!(
            Token::new("a b", "x"),
            Err(TokenError::NotVisibleAscii { .. })
        ));
    }
}
