//! The command line of the listeners' security: TLS files, token files, timeouts and limits. Each flag has
//! an environment variable too; tokens are read from files or the environment, never from the command line,
//! where `ps` would show them.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use crate::cli::seconds;

use ironforge_security::{ConnectionLimits, SecurityOptions, TlsFiles, Token, TokenError, Tokens};

/// Security flags, flattened into `serve`.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Security and limits")]
pub struct SecurityArgs {
    /// PEM certificate chain: serves OTLP/gRPC and OTLP/HTTP over TLS (with --tls-key).
    #[arg(
        long,
        env = "IRONFORGE_TLS_CERT",
        value_name = "FILE",
        requires = "tls_key"
    )]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert.
    #[arg(
        long,
        env = "IRONFORGE_TLS_KEY",
        value_name = "FILE",
        requires = "tls_cert"
    )]
    pub tls_key: Option<PathBuf>,
    /// PEM CA certificates: clients must present a certificate they signed (mutual TLS).
    #[arg(
        long,
        env = "IRONFORGE_TLS_CLIENT_CA",
        value_name = "FILE",
        requires = "tls_cert"
    )]
    pub tls_client_ca: Option<PathBuf>,
    /// Serve the admin (and metrics) listener over the same TLS too.
    #[arg(long, env = "IRONFORGE_ADMIN_TLS", requires = "tls_cert")]
    pub admin_tls: bool,
    /// File holding the bearer token OTLP exporters must send (`authorization: Bearer ...`); or set
    /// IRONFORGE_INGEST_TOKEN.
    #[arg(long, env = "IRONFORGE_INGEST_TOKEN_FILE", value_name = "FILE")]
    pub ingest_token_file: Option<PathBuf>,
    /// File holding the bearer token of MonitorService and /api/v1/*; or set IRONFORGE_API_TOKEN.
    #[arg(long, env = "IRONFORGE_API_TOKEN_FILE", value_name = "FILE")]
    pub api_token_file: Option<PathBuf>,
    /// File holding the bearer token of /metrics; or set IRONFORGE_METRICS_TOKEN.
    #[arg(long, env = "IRONFORGE_METRICS_TOKEN_FILE", value_name = "FILE")]
    pub metrics_token_file: Option<PathBuf>,
    /// Also serve /metrics, /healthz and /readyz (only) on this address, for a scraper on another host
    /// while the admin address stays on loopback.
    #[arg(long, env = "IRONFORGE_METRICS_ADDR", value_name = "ADDR")]
    pub metrics_addr: Option<SocketAddr>,
    /// Seconds an HTTP/1 request's headers may take to arrive.
    #[arg(long, env = "IRONFORGE_HEADER_READ_TIMEOUT", value_name = "SECONDS", value_parser = seconds, default_value = "10")]
    pub header_read_timeout: Duration,
    /// Seconds a request may take to be read (its whole body) and answered.
    #[arg(long, env = "IRONFORGE_REQUEST_TIMEOUT", value_name = "SECONDS", value_parser = seconds, default_value = "30")]
    pub request_timeout: Duration,
    /// Seconds a connection may stay silent before it is closed.
    #[arg(long, env = "IRONFORGE_IDLE_TIMEOUT", value_name = "SECONDS", value_parser = seconds, default_value = "120")]
    pub idle_timeout: Duration,
    /// Seconds a TLS handshake may take.
    #[arg(long, env = "IRONFORGE_TLS_HANDSHAKE_TIMEOUT", value_name = "SECONDS", value_parser = seconds, default_value = "10")]
    pub tls_handshake_timeout: Duration,
    /// Requests in flight on one HTTP/2 (gRPC) connection.
    #[arg(long, env = "IRONFORGE_MAX_CONCURRENT_STREAMS", value_name = "N", default_value_t = ConnectionLimits::DEFAULT_MAX_CONCURRENT_STREAMS, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_concurrent_streams: u32,
}

impl SecurityArgs {
    /// The options, with the tokens read from their files or the environment.
    pub fn options(&self) -> Result<SecurityOptions, TokenError> {
        let tls = self
            .tls_cert
            .clone()
            .zip(self.tls_key.clone())
            .map(|(cert, key)| TlsFiles {
                cert,
                key,
                client_ca: self.tls_client_ca.clone(),
            });
        let tokens = Tokens {
            ingest: Token::from_file_or_env(
                self.ingest_token_file.as_deref(),
                "IRONFORGE_INGEST_TOKEN",
            )?,
            api: Token::from_file_or_env(self.api_token_file.as_deref(), "IRONFORGE_API_TOKEN")?,
            metrics: Token::from_file_or_env(
                self.metrics_token_file.as_deref(),
                "IRONFORGE_METRICS_TOKEN",
            )?,
        };
        Ok(SecurityOptions {
            tls,
            admin_tls: self.admin_tls,
            tokens,
            limits: ConnectionLimits {
                tls_handshake_timeout: self.tls_handshake_timeout,
                header_read_timeout: self.header_read_timeout,
                request_timeout: self.request_timeout,
                idle_timeout: self.idle_timeout,
                max_concurrent_streams: self.max_concurrent_streams,
                ..ConnectionLimits::default()
            },
            metrics_addr: self.metrics_addr,
        })
    }
}
