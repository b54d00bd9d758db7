//! What [`init`](crate::init) is told: where to export, how, and how much to sample.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

// Environment variables of the OpenTelemetry specification. They are the SDK's configuration
// contract, not attribute names, so they live here rather than in the semantic conventions.
const ENV_SERVICE_NAME: &str = "OTEL_SERVICE_NAME";
const ENV_ENDPOINT: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";
const ENV_TRACES_ENDPOINT: &str = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT";
const ENV_METRICS_ENDPOINT: &str = "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT";
const ENV_PROTOCOL: &str = "OTEL_EXPORTER_OTLP_PROTOCOL";
const ENV_HEADERS: &str = "OTEL_EXPORTER_OTLP_HEADERS";
const ENV_TIMEOUT: &str = "OTEL_EXPORTER_OTLP_TIMEOUT";
const ENV_METRIC_INTERVAL: &str = "OTEL_METRIC_EXPORT_INTERVAL";

const DEFAULT_SERVICE_NAME: &str = "ironforge";
const DEFAULT_GRPC_ENDPOINT: &str = "http://localhost:4317";
const DEFAULT_HTTP_ENDPOINT: &str = "http://localhost:4318";
const HTTP_TRACES_PATH: &str = "/v1/traces";
const HTTP_METRICS_PATH: &str = "/v1/metrics";
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
const DEFAULT_METRICS_INTERVAL: Duration = Duration::from_secs(60);

/// The OTLP transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Protocol {
    /// OTLP over gRPC (crate feature `grpc`, on by default); default port 4317.
    #[default]
    Grpc,
    /// OTLP over HTTP with protobuf bodies (crate feature `http`); default port 4318.
    HttpProtobuf,
}

impl Protocol {
    /// The spelling `OTEL_EXPORTER_OTLP_PROTOCOL` uses.
    pub const fn as_str(self) -> &'static str {
        match self {
            Protocol::Grpc => "grpc",
            Protocol::HttpProtobuf => "http/protobuf",
        }
    }

    /// The crate feature that compiles this transport in.
    pub const fn feature(self) -> &'static str {
        match self {
            Protocol::Grpc => "grpc",
            Protocol::HttpProtobuf => "http",
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Error returned when a string names no [`Protocol`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown OTLP protocol `{0}`; expected `grpc` or `http/protobuf`")]
pub struct UnknownProtocol(String);

impl FromStr for Protocol {
    type Err = UnknownProtocol;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "grpc" => Ok(Protocol::Grpc),
            "http/protobuf" => Ok(Protocol::HttpProtobuf),
            other => Err(UnknownProtocol(other.to_owned())),
        }
    }
}

/// Which spans are exported.
///
/// Spans whose `ironforge.span.kind` is `run`, `init`, `stage` or `session` are always exported,
/// whatever the policy: the monitor's contracts are decided on them. The policy applies to every
/// other span (helpers, `pattern` spans, spans of libraries the pipeline calls).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum Sampling {
    /// Export every span.
    #[default]
    Always,
    /// Export this fraction (`0.0..=1.0`) of the other spans. A span whose parent was not exported
    /// is not exported either, so the exported part of a subtree stays connected.
    Ratio(f64),
    /// Adapt the fraction of other spans exported so that the time the instrumentation spends per
    /// monitored operation stays under this budget: the fraction halves while the measured cost is
    /// over it and grows back while it is under.
    OverheadBudget(Duration),
}

/// A value from the environment or the builder that [`init`](crate::init) refuses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SettingProblem {
    pub(crate) setting: String,
    pub(crate) value: String,
    pub(crate) reason: String,
}

/// Everything [`init`](crate::init) needs. Built with [`Config::builder`]; [`Config::default`] is
/// `Config::builder().build()`.
///
/// Values given to the builder win over the standard OpenTelemetry environment variables, which win
/// over the defaults.
#[derive(Clone)]
pub struct Config {
    pub(crate) service_name: String,
    pub(crate) protocol: Protocol,
    pub(crate) traces_endpoint: String,
    pub(crate) metrics_endpoint: String,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) timeout: Duration,
    pub(crate) sampling: Sampling,
    pub(crate) metrics_interval: Duration,
    pub(crate) problems: Vec<SettingProblem>,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Header values routinely carry credentials, so only their names are shown.
        let header_names: Vec<&str> = self.headers.iter().map(|(k, _)| k.as_str()).collect();
        f.debug_struct("Config")
            .field("service_name", &self.service_name)
            .field("protocol", &self.protocol)
            .field("traces_endpoint", &self.traces_endpoint)
            .field("metrics_endpoint", &self.metrics_endpoint)
            .field("header_names", &header_names)
            .field("timeout", &self.timeout)
            .field("sampling", &self.sampling)
            .field("metrics_interval", &self.metrics_interval)
            .field("problems", &self.problems)
            .finish()
    }
}

impl Default for Config {
    fn default() -> Self {
        Config::builder().build()
    }
}

impl Config {
    /// Starts a configuration; unset values come from the environment or the defaults when
    /// [`ConfigBuilder::build`] runs.
    pub fn builder() -> ConfigBuilder {
        ConfigBuilder::default()
    }

    /// The `service.name` resource attribute.
    pub fn service_name(&self) -> &str {
        &self.service_name
    }

    /// The OTLP transport.
    pub fn protocol(&self) -> Protocol {
        self.protocol
    }

    /// Where spans are sent (for HTTP, the full URL including `/v1/traces`).
    pub fn traces_endpoint(&self) -> &str {
        &self.traces_endpoint
    }

    /// Where metrics are sent (for HTTP, the full URL including `/v1/metrics`).
    pub fn metrics_endpoint(&self) -> &str {
        &self.metrics_endpoint
    }

    /// The names of the headers (gRPC metadata) sent with every export; values are not exposed.
    pub fn header_names(&self) -> impl Iterator<Item = &str> {
        self.headers.iter().map(|(k, _)| k.as_str())
    }

    /// How long one export may take.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The sampling policy.
    pub fn sampling(&self) -> Sampling {
        self.sampling
    }

    /// How often metrics are exported.
    pub fn metrics_interval(&self) -> Duration {
        self.metrics_interval
    }
}

/// Builds a [`Config`].
#[derive(Clone, Default)]
#[must_use]
pub struct ConfigBuilder {
    service_name: Option<String>,
    endpoint: Option<String>,
    protocol: Option<Protocol>,
    headers: Vec<(String, String)>,
    timeout: Option<Duration>,
    sampling: Option<Sampling>,
    metrics_interval: Option<Duration>,
}

impl fmt::Debug for ConfigBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let header_names: Vec<&str> = self.headers.iter().map(|(k, _)| k.as_str()).collect();
        f.debug_struct("ConfigBuilder")
            .field("service_name", &self.service_name)
            .field("endpoint", &self.endpoint)
            .field("protocol", &self.protocol)
            .field("header_names", &header_names)
            .field("timeout", &self.timeout)
            .field("sampling", &self.sampling)
            .field("metrics_interval", &self.metrics_interval)
            .finish()
    }
}

impl ConfigBuilder {
    /// The `service.name` resource attribute. Default: `OTEL_SERVICE_NAME`, else `ironforge`.
    pub fn service_name(mut self, name: impl Into<String>) -> Self {
        self.service_name = Some(name.into());
        self
    }

    /// The collector's base URL, used for both signals (for HTTP, `/v1/traces` and `/v1/metrics`
    /// are appended). Default: `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` /
    /// `OTEL_EXPORTER_OTLP_METRICS_ENDPOINT` (each used as is for its signal), else
    /// `OTEL_EXPORTER_OTLP_ENDPOINT`, else `http://localhost:4317` (gRPC) or
    /// `http://localhost:4318` (HTTP).
    pub fn endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.endpoint = Some(endpoint.into());
        self
    }

    /// The transport. Default: `OTEL_EXPORTER_OTLP_PROTOCOL` (`grpc` or `http/protobuf`), else gRPC.
    pub fn protocol(mut self, protocol: Protocol) -> Self {
        self.protocol = Some(protocol);
        self
    }

    /// A header (gRPC metadata) sent with every export. Headers from
    /// `OTEL_EXPORTER_OTLP_HEADERS` (`key=value,key=value`) are sent too; a header given here
    /// replaces one of the same name from the environment.
    pub fn header(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((key.into(), value.into()));
        self
    }

    /// How long one export may take, retries included. Default: `OTEL_EXPORTER_OTLP_TIMEOUT`
    /// (milliseconds), else 10 s. It also bounds how long shutting down waits.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// The sampling policy. Default: [`Sampling::Always`].
    pub fn sampling(mut self, sampling: Sampling) -> Self {
        self.sampling = Some(sampling);
        self
    }

    /// How often metrics are exported. Default: `OTEL_METRIC_EXPORT_INTERVAL` (milliseconds), else
    /// 60 s. Shutting down exports them once more in any case.
    pub fn metrics_interval(mut self, interval: Duration) -> Self {
        self.metrics_interval = Some(interval);
        self
    }

    /// Resolves unset values from the environment and the defaults. Values that cannot be used
    /// (an unknown protocol in the environment, a ratio outside `0..=1`) are kept and reported by
    /// [`init`](crate::init) as [`InitError::InvalidSetting`](crate::InitError::InvalidSetting).
    pub fn build(self) -> Config {
        self.build_with_env(|name| std::env::var(name).ok())
    }

    pub(crate) fn build_with_env(self, env: impl Fn(&str) -> Option<String>) -> Config {
        let env = |name: &str| env(name).filter(|v| !v.trim().is_empty());
        let mut problems = Vec::new();

        let service_name = self
            .service_name
            .or_else(|| env(ENV_SERVICE_NAME))
            .unwrap_or_else(|| DEFAULT_SERVICE_NAME.to_owned());

        let protocol = self
            .protocol
            .unwrap_or_else(|| protocol_from_env(&env, &mut problems));
        let (traces_endpoint, metrics_endpoint) = endpoints(protocol, self.endpoint, &env);

        let headers = headers(&env, self.headers, &mut problems);

        let timeout = self.timeout.unwrap_or_else(|| {
            millis_from_env(&env, ENV_TIMEOUT, &mut problems).unwrap_or(DEFAULT_TIMEOUT)
        });
        let metrics_interval = self.metrics_interval.unwrap_or_else(|| {
            millis_from_env(&env, ENV_METRIC_INTERVAL, &mut problems)
                .unwrap_or(DEFAULT_METRICS_INTERVAL)
        });
        if metrics_interval.is_zero() {
            problems.push(SettingProblem {
                setting: "metrics_interval".to_owned(),
                value: format!("{metrics_interval:?}"),
                reason: "must be greater than zero".to_owned(),
            });
        }

        let sampling = self.sampling.unwrap_or_default();
        if let Sampling::Ratio(ratio) = sampling
            && !(0.0..=1.0).contains(&ratio)
        {
            problems.push(SettingProblem {
                setting: "sampling".to_owned(),
                value: ratio.to_string(),
                reason: "a ratio must lie in 0.0..=1.0".to_owned(),
            });
        }

        Config {
            service_name,
            protocol,
            traces_endpoint,
            metrics_endpoint,
            headers,
            timeout,
            sampling,
            metrics_interval,
            problems,
        }
    }
}

/// The protocol `OTEL_EXPORTER_OTLP_PROTOCOL` names, else the default; an unknown one is a problem.
fn protocol_from_env(
    env: &impl Fn(&str) -> Option<String>,
    problems: &mut Vec<SettingProblem>,
) -> Protocol {
    match env(ENV_PROTOCOL) {
        Some(raw) => raw.parse().unwrap_or_else(|e: UnknownProtocol| {
            problems.push(SettingProblem {
                setting: ENV_PROTOCOL.to_owned(),
                value: raw.clone(),
                reason: e.to_string(),
            });
            Protocol::default()
        }),
        None => Protocol::default(),
    }
}

/// The traces and metrics endpoints: from the endpoint the builder was given, else from the
/// environment's per-signal and base endpoints, else the protocol's default.
fn endpoints(
    protocol: Protocol,
    endpoint: Option<String>,
    env: &impl Fn(&str) -> Option<String>,
) -> (String, String) {
    match endpoint {
        Some(base) => (
            signal_url(protocol, &base, HTTP_TRACES_PATH),
            signal_url(protocol, &base, HTTP_METRICS_PATH),
        ),
        None => {
            let base = env(ENV_ENDPOINT).unwrap_or_else(|| {
                match protocol {
                    Protocol::Grpc => DEFAULT_GRPC_ENDPOINT,
                    Protocol::HttpProtobuf => DEFAULT_HTTP_ENDPOINT,
                }
                .to_owned()
            });
            (
                env(ENV_TRACES_ENDPOINT)
                    .unwrap_or_else(|| signal_url(protocol, &base, HTTP_TRACES_PATH)),
                env(ENV_METRICS_ENDPOINT)
                    .unwrap_or_else(|| signal_url(protocol, &base, HTTP_METRICS_PATH)),
            )
        }
    }
}

/// The headers of `OTEL_EXPORTER_OTLP_HEADERS`, each replaced by one of the same name the builder
/// was given.
fn headers(
    env: &impl Fn(&str) -> Option<String>,
    given: Vec<(String, String)>,
    problems: &mut Vec<SettingProblem>,
) -> Vec<(String, String)> {
    let mut headers = Vec::new();
    if let Some(raw) = env(ENV_HEADERS) {
        for entry in raw.split(',').filter(|e| !e.trim().is_empty()) {
            match entry.split_once('=') {
                Some((k, v)) if !k.trim().is_empty() => {
                    headers.push((percent_decode(k.trim()), percent_decode(v.trim())));
                }
                _ => problems.push(SettingProblem {
                    setting: ENV_HEADERS.to_owned(),
                    // The entry may hold a credential; its position is enough to find it.
                    value: "<redacted>".to_owned(),
                    reason: "an entry is not of the form key=value".to_owned(),
                }),
            }
        }
    }
    for (key, value) in given {
        headers.retain(|(k, _)| !k.eq_ignore_ascii_case(&key));
        headers.push((key, value));
    }
    headers
}

fn signal_url(protocol: Protocol, base: &str, http_path: &str) -> String {
    match protocol {
        // gRPC routes by service name, not by URL path.
        Protocol::Grpc => base.to_owned(),
        Protocol::HttpProtobuf => format!("{}{http_path}", base.trim_end_matches('/')),
    }
}

fn millis_from_env(
    env: &impl Fn(&str) -> Option<String>,
    name: &str,
    problems: &mut Vec<SettingProblem>,
) -> Option<Duration> {
    let raw = env(name)?;
    match raw.trim().parse::<u64>() {
        Ok(ms) => Some(Duration::from_millis(ms)),
        Err(e) => {
            problems.push(SettingProblem {
                setting: name.to_owned(),
                value: raw,
                reason: format!("expected whole milliseconds: {e}"),
            });
            None
        }
    }
}

/// Decodes `%XX` escapes, which the specification allows in `OTEL_EXPORTER_OTLP_HEADERS`; malformed
/// escapes are kept verbatim.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%')
            .then(|| bytes.get(i + 1..i + 3))
            .flatten()
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match escaped {
            Some(byte) => {
                out.push(byte);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn build(builder: ConfigBuilder, vars: &[(&str, &str)]) -> Config {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        builder.build_with_env(move |name| vars.get(name).cloned())
    }

    #[test]
    fn defaults_without_environment() {
        let c = build(Config::builder(), &[]);
        assert_eq!(c.service_name(), "ironforge");
        assert_eq!(c.protocol(), Protocol::Grpc);
        assert_eq!(c.traces_endpoint(), "http://localhost:4317");
        assert_eq!(c.metrics_endpoint(), "http://localhost:4317");
        assert_eq!(c.timeout(), Duration::from_secs(10));
        assert_eq!(c.metrics_interval(), Duration::from_secs(60));
        assert_eq!(c.sampling(), Sampling::Always);
        assert!(c.problems.is_empty());
    }

    #[test]
    fn http_defaults_append_signal_paths() {
        let c = build(Config::builder().protocol(Protocol::HttpProtobuf), &[]);
        assert_eq!(c.traces_endpoint(), "http://localhost:4318/v1/traces");
        assert_eq!(c.metrics_endpoint(), "http://localhost:4318/v1/metrics");
        let c = build(
            Config::builder()
                .protocol(Protocol::HttpProtobuf)
                .endpoint("http://collector:4318/"),
            &[],
        );
        assert_eq!(c.traces_endpoint(), "http://collector:4318/v1/traces");
    }

    #[test]
    fn environment_fills_what_the_builder_left_unset() {
        let c = build(
            Config::builder(),
            &[
                ("OTEL_SERVICE_NAME", "replay"),
                ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://otel:4318"),
                (
                    "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
                    "http://metrics:9000/m",
                ),
                ("OTEL_EXPORTER_OTLP_TIMEOUT", "2500"),
                ("OTEL_METRIC_EXPORT_INTERVAL", "1000"),
                ("OTEL_EXPORTER_OTLP_HEADERS", "api-key=a%20b, tenant=x"),
            ],
        );
        assert_eq!(c.service_name(), "replay");
        assert_eq!(c.protocol(), Protocol::HttpProtobuf);
        assert_eq!(c.traces_endpoint(), "http://otel:4318/v1/traces");
        assert_eq!(c.metrics_endpoint(), "http://metrics:9000/m");
        assert_eq!(c.timeout(), Duration::from_millis(2500));
        assert_eq!(c.metrics_interval(), Duration::from_secs(1));
        assert_eq!(
            c.headers,
            vec![
                ("api-key".to_owned(), "a b".to_owned()),
                ("tenant".to_owned(), "x".to_owned())
            ]
        );
        assert!(c.problems.is_empty(), "{:?}", c.problems);
    }

    #[test]
    fn builder_wins_over_environment() {
        let c = build(
            Config::builder()
                .service_name("pipeline")
                .protocol(Protocol::Grpc)
                .endpoint("http://127.0.0.1:14317")
                .header("Tenant", "y")
                .timeout(Duration::from_secs(1)),
            &[
                ("OTEL_SERVICE_NAME", "replay"),
                ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
                ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://elsewhere:1"),
                ("OTEL_EXPORTER_OTLP_TIMEOUT", "2500"),
                ("OTEL_EXPORTER_OTLP_HEADERS", "tenant=x,other=z"),
            ],
        );
        assert_eq!(c.service_name(), "pipeline");
        assert_eq!(c.protocol(), Protocol::Grpc);
        assert_eq!(c.traces_endpoint(), "http://127.0.0.1:14317");
        assert_eq!(c.metrics_endpoint(), "http://127.0.0.1:14317");
        assert_eq!(c.timeout(), Duration::from_secs(1));
        assert_eq!(
            c.headers,
            vec![
                ("other".to_owned(), "z".to_owned()),
                ("Tenant".to_owned(), "y".to_owned())
            ]
        );
    }

    #[test]
    fn unusable_values_are_reported_not_ignored() {
        let c = build(
            Config::builder().sampling(Sampling::Ratio(1.5)),
            &[
                ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"),
                ("OTEL_EXPORTER_OTLP_TIMEOUT", "10s"),
                ("OTEL_EXPORTER_OTLP_HEADERS", "secret-token"),
            ],
        );
        let settings: Vec<&str> = c.problems.iter().map(|p| p.setting.as_str()).collect();
        assert_eq!(
            settings,
            vec![
                "OTEL_EXPORTER_OTLP_PROTOCOL",
                "OTEL_EXPORTER_OTLP_HEADERS",
                "OTEL_EXPORTER_OTLP_TIMEOUT",
                "sampling"
            ]
        );
        assert!(!format!("{:?}", c.problems).contains("secret-token"));
        assert_eq!(c.protocol(), Protocol::Grpc);
        assert_eq!(c.timeout(), Duration::from_secs(10));
    }

    #[test]
    fn debug_output_hides_header_values() {
        let c = build(
            Config::builder().header("authorization", "Bearer hunter2"),
            &[],
        );
        let shown = format!("{c:?}");
        assert!(shown.contains("authorization"));
        assert!(!shown.contains("hunter2"));
    }

    #[test]
    fn percent_decoding_keeps_malformed_escapes() {
        assert_eq!(percent_decode("a%2Cb"), "a,b");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz"), "%zz");
    }
}
