//! The request timeout: a request not read and answered in time is answered with a timeout instead, which
//! also ends a body that trickles in (slowloris).

use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::http::header::CONNECTION;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};

use super::Surface;

#[derive(Debug, Clone, Copy)]
struct Deadline {
    timeout: Duration,
    grpc: bool,
}

/// `router` with each request bounded by `timeout`. gRPC answers DEADLINE_EXCEEDED (which OTLP exporters
/// retry), HTTP 408; the connection then closes, since the rest of its body was never read.
pub(crate) fn bound(router: Router, surface: Surface, timeout: Duration) -> Router {
    let deadline = Deadline {
        timeout,
        grpc: surface == Surface::Grpc,
    };
    router.layer(middleware::from_fn_with_state(deadline, within))
}

async fn within(State(deadline): State<Deadline>, request: Request, next: Next) -> Response {
    match tokio::time::timeout(deadline.timeout, next.run(request)).await {
        Ok(response) => response,
        Err(_) => {
            let message = format!(
                "the request was not received and answered within {:?}",
                deadline.timeout
            );
            if deadline.grpc {
                tonic::Status::deadline_exceeded(message).into_http::<Body>()
            } else {
                (
                    StatusCode::REQUEST_TIMEOUT,
                    [(CONNECTION, "close")],
                    format!("{message}\n"),
                )
                    .into_response()
            }
        }
    }
}
