//! The listeners' security and hardening against real clients on loopback: bearer tokens, TLS and mutual
//! TLS, timeouts against stalled clients, bounded API pages, and credentials kept out of the log.

pub(crate) mod support;

mod pages;
mod redaction;
mod timeouts;
mod tls;
mod tokens;
