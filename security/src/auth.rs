//! Which token each request must carry, by listener and path, and the refusal when it does not.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header::WWW_AUTHENTICATE;
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};

use super::events::AuthRefused;
use super::token::{Denial, Token};
use ironforge_telemetry::{InternalEvent, Metrics};

/// The gRPC path prefix of the monitor's own API, which shares the OTLP/gRPC port.
const MONITOR_SERVICE_PREFIX: &str = "/ironforge.monitor.v1.MonitorService/";

/// The tokens the listeners require; `None` leaves that surface open.
#[derive(Debug, Clone, Default)]
pub struct Tokens {
    /// OTLP export (traces and metrics, gRPC and HTTP), as exporters send it in their OTLP headers.
    pub ingest: Option<Token>,
    /// The monitor's APIs: gRPC `MonitorService`, the admin `/api/v1/*` and the admin port's HTML pages.
    pub api: Option<Token>,
    /// `/metrics`, on the admin listener and on the metrics listener.
    pub metrics: Option<Token>,
}

/// The surfaces a listener serves, which decide the token a path needs and how a refusal is spelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Surface {
    /// OTLP/gRPC and `MonitorService`: refusals are UNAUTHENTICATED statuses.
    Grpc,
    /// OTLP/HTTP.
    OtlpHttp,
    /// The admin listener: `/api/v1/*` and `/metrics` guarded, probes open.
    Admin,
    /// The metrics listener: `/metrics` guarded, probes open.
    Metrics,
}

impl Surface {
    /// The name counted in metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Grpc => "otlp_grpc",
            Self::OtlpHttp => "otlp_http",
            Self::Admin => "admin",
            Self::Metrics => "metrics",
        }
    }
}

#[derive(Debug, Clone)]
struct Guard {
    surface: Surface,
    tokens: Arc<Tokens>,
    metrics: Arc<Metrics>,
}

impl Guard {
    /// The token `path` needs on this surface. `/healthz` and `/readyz` stay open so orchestrators can
    /// probe without secrets; they say nothing about the data. On the admin listener every other path needs
    /// the API token, so no spelling of a path can slip past the check.
    fn required(&self, path: &str) -> Option<&Token> {
        let tokens = &*self.tokens;
        match (self.surface, path) {
            (Surface::Grpc, path) if path.starts_with(MONITOR_SERVICE_PREFIX) => {
                tokens.api.as_ref()
            }
            (Surface::Grpc | Surface::OtlpHttp, _) => tokens.ingest.as_ref(),
            (Surface::Admin | Surface::Metrics, "/healthz" | "/readyz") => None,
            (Surface::Admin | Surface::Metrics, "/metrics") => tokens.metrics.as_ref(),
            (Surface::Admin, _) => tokens.api.as_ref(),
            // The metrics listener serves nothing else.
            (Surface::Metrics, _) => None,
        }
    }

    fn refusal(&self, denial: Denial) -> Response {
        let message = match denial {
            Denial::Missing => "this endpoint requires `authorization: Bearer <token>`",
            Denial::Invalid => "the bearer token is not valid here",
        };
        if self.surface == Surface::Grpc {
            return tonic::Status::unauthenticated(message).into_http::<Body>();
        }
        // RFC 6750: an error code only when credentials were presented.
        let challenge = match denial {
            Denial::Missing => HeaderValue::from_static("Bearer realm=\"ironforge\""),
            Denial::Invalid => {
                HeaderValue::from_static("Bearer realm=\"ironforge\", error=\"invalid_token\"")
            }
        };
        (
            StatusCode::UNAUTHORIZED,
            [(WWW_AUTHENTICATE, challenge)],
            format!("{message}\n"),
        )
            .into_response()
    }
}

/// `router` with every request checked for the token its path needs on `surface`.
pub(crate) fn guard(
    router: Router,
    surface: Surface,
    tokens: Arc<Tokens>,
    metrics: Arc<Metrics>,
) -> Router {
    let guard = Guard {
        surface,
        tokens,
        metrics,
    };
    router.layer(middleware::from_fn_with_state(guard, check))
}

async fn check(State(guard): State<Guard>, request: Request, next: Next) -> Response {
    let Some(token) = guard.required(request.uri().path()) else {
        return next.run(request).await;
    };
    match token.verify(request.headers()) {
        Ok(()) => next.run(request).await,
        Err(denial) => {
            AuthRefused {
                surface: guard.surface.as_str(),
                reason: denial.as_str(),
                metrics: &guard.metrics,
            }
            .emit();
            guard.refusal(denial)
        }
    }
}
