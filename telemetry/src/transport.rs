//! Counters of the listeners: requests refused for their credentials, TLS handshakes that failed.

use std::borrow::Cow;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

use super::names::{label, metric};
use super::registry::{Labels, register_default};

#[derive(Debug)]
pub struct TransportMetrics {
    auth_refusals: Family<Labels<2>, Counter>,
    tls_handshake_failures: Family<Labels<1>, Counter>,
}

impl TransportMetrics {
    pub(super) fn register(registry: &mut Registry) -> Self {
        Self {
            auth_refusals: register_default(
                registry,
                metric::AUTH_REFUSALS,
                "Requests refused for a missing or wrong bearer token, by listener and reason",
            ),
            tls_handshake_failures: register_default(
                registry,
                metric::TLS_HANDSHAKE_FAILURES,
                "TLS handshakes that failed or timed out, by listener",
            ),
        }
    }

    pub fn auth_refused(&self, listener: &'static str, reason: &'static str) {
        self.auth_refusals
            .get_or_create(&[
                (label::LISTENER, Cow::Borrowed(listener)),
                (label::REASON, Cow::Borrowed(reason)),
            ])
            .inc();
    }

    pub fn tls_handshake_failed(&self, listener: &'static str) {
        self.tls_handshake_failures
            .get_or_create(&[(label::LISTENER, Cow::Borrowed(listener))])
            .inc();
    }
}
