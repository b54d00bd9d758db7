//! The listeners' security and hardening against real clients on loopback: bearer tokens, TLS and mutual
//! TLS, timeouts against stalled clients, bounded API pages, and credentials kept out of the log.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod e2e_support;
mod otlp_support;
mod transport_security {
    pub mod support;
}

#[path = "transport_security/pages.rs"]
mod pages;
#[path = "transport_security/redaction.rs"]
mod redaction;
#[path = "transport_security/timeouts.rs"]
mod timeouts;
#[path = "transport_security/tls.rs"]
mod tls;
#[path = "transport_security/tokens.rs"]
mod tokens;
