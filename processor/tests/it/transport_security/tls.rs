//! TLS and mutual TLS with certificates made at test time: only a client that trusts the server's CA and
//! presents a certificate from the client CA gets through; untrusted, wrong, missing certificates and
//! plaintext are refused.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use hyper_util::rt::TokioIo;
use ironforge_proto::otlp::trace_service::ExportTraceServiceRequest;
use ironforge_proto::otlp::trace_service::trace_service_client::TraceServiceClient;
use ironforge_security::{SecurityOptions, TlsFiles};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Identity};

use crate::transport_security::support::{Secured, counter, unique};

struct Ca {
    pem: String,
    issuer: Issuer<'static, KeyPair>,
}

impl Ca {
    fn new(name: &str) -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        let key = KeyPair::generate().unwrap();
        let pem = params.self_signed(&key).unwrap().pem();
        Self {
            pem,
            issuer: Issuer::new(params, key),
        }
    }

    /// A certificate and its key, PEM.
    fn issue(&self, names: &[&str], purpose: ExtendedKeyUsagePurpose) -> (String, String) {
        let names: Vec<String> = names.iter().map(|name| (*name).to_owned()).collect();
        let mut params = CertificateParams::new(names).unwrap();
        params.extended_key_usages = vec![purpose];
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        (cert.pem(), key.serialize_pem())
    }
}

/// The server's CA and certificate, the client CA, a client certificate from it and one from a stranger.
struct Pki {
    dir: PathBuf,
    server_ca: Ca,
    client: (String, String),
    stranger: (String, String),
    stranger_ca: Ca,
}

impl Pki {
    fn new() -> (Self, TlsFiles) {
        let dir = std::env::temp_dir().join(unique("ironforge-pki"));
        std::fs::create_dir_all(&dir).unwrap();
        let server_ca = Ca::new("server CA");
        let client_ca = Ca::new("client CA");
        let stranger_ca = Ca::new("stranger CA");
        let (cert, key) = server_ca.issue(
            &["localhost", "127.0.0.1"],
            ExtendedKeyUsagePurpose::ServerAuth,
        );
        let write = |name: &str, text: &str| {
            let path = dir.join(name);
            std::fs::write(&path, text).unwrap();
            path
        };
        let files = TlsFiles {
            cert: write("server.pem", &cert),
            key: write("server.key", &key),
            client_ca: Some(write("client-ca.pem", &client_ca.pem)),
        };
        let pki = Self {
            client: client_ca.issue(&["pipeline"], ExtendedKeyUsagePurpose::ClientAuth),
            stranger: stranger_ca.issue(&["pipeline"], ExtendedKeyUsagePurpose::ClientAuth),
            dir,
            server_ca,
            stranger_ca,
        };
        (pki, files)
    }
}

impl Drop for Pki {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// One empty export over gRPC with this client configuration (`None`: plaintext).
async fn grpc_export(
    addr: std::net::SocketAddr,
    tls: Option<ClientTlsConfig>,
) -> Result<(), String> {
    let scheme = if tls.is_some() { "https" } else { "http" };
    let mut endpoint = Channel::from_shared(format!("{scheme}://{addr}")).unwrap();
    if let Some(tls) = tls {
        endpoint = endpoint.tls_config(tls).map_err(|err| err.to_string())?;
    }
    let channel = endpoint.connect().await.map_err(|err| format!("{err:?}"))?;
    TraceServiceClient::new(channel)
        .export(ExportTraceServiceRequest::default())
        .await
        .map(drop)
        .map_err(|status| status.to_string())
}

fn client_tls(trusted: &Ca, identity: Option<&(String, String)>) -> ClientTlsConfig {
    let config = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(&trusted.pem))
        .domain_name("localhost");
    match identity {
        Some((cert, key)) => config.identity(Identity::from_pem(cert, key)),
        None => config,
    }
}

/// `POST /v1/traces` with an empty protobuf body over TLS, with rustls and hyper as any HTTPS client would.
async fn https_export(
    addr: std::net::SocketAddr,
    trusted: &Ca,
    identity: &(String, String),
) -> Result<u16, String> {
    https(addr, trusted, Some(identity), "POST", "/v1/traces").await
}

/// One request over TLS, presenting `identity` when given.
async fn https(
    addr: std::net::SocketAddr,
    trusted: &Ca,
    identity: Option<&(String, String)>,
    method: &str,
    path: &str,
) -> Result<u16, String> {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(trusted.pem.as_bytes()).unwrap())
        .unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    let config = match identity {
        Some((cert, key)) => {
            let chain = vec![CertificateDer::from_pem_slice(cert.as_bytes()).unwrap()];
            let key = PrivateKeyDer::from_pem_slice(key.as_bytes()).unwrap();
            builder.with_client_auth_cert(chain, key).unwrap()
        }
        None => builder.with_no_client_auth(),
    };
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .map_err(|err| err.to_string())?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
        .await
        .map_err(|err| err.to_string())?;
    tokio::spawn(connection);
    let request = hyper::Request::builder()
        .method(method)
        .uri(path)
        .header("host", "localhost")
        .header("content-type", "application/x-protobuf")
        .body(String::new())
        .unwrap();
    let response = sender
        .send_request(request)
        .await
        .map_err(|err| err.to_string())?;
    Ok(response.status().as_u16())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutual_tls_admits_only_clients_certified_by_the_client_ca() {
    let (pki, files) = Pki::new();
    let processor = Secured::start(SecurityOptions {
        tls: Some(files),
        ..SecurityOptions::default()
    })
    .await;
    let grpc = processor.addrs.otlp_grpc;

    grpc_export(grpc, Some(client_tls(&pki.server_ca, Some(&pki.client))))
        .await
        .unwrap();
    let refused = [
        (
            "no client certificate",
            Some(client_tls(&pki.server_ca, None)),
        ),
        (
            "a client certificate from another CA",
            Some(client_tls(&pki.server_ca, Some(&pki.stranger))),
        ),
        (
            "a server certificate the client does not trust",
            Some(client_tls(&pki.stranger_ca, Some(&pki.client))),
        ),
        ("plaintext", None),
    ];
    for (case, tls) in refused {
        let result = grpc_export(grpc, tls).await;
        assert!(result.is_err(), "{case}: {result:?}");
    }

    let http = processor.addrs.otlp_http;
    assert_eq!(
        https_export(http, &pki.server_ca, &pki.client).await,
        Ok(200)
    );
    let stranger = https_export(http, &pki.server_ca, &pki.stranger).await;
    assert!(stranger.is_err(), "{stranger:?}");
    let plaintext = reqwest::Client::new()
        .post(format!("http://{http}/v1/traces"))
        .header("content-type", "application/x-protobuf")
        .send()
        .await;
    assert!(plaintext.is_err(), "{plaintext:?}");

    // Each refusal the server saw is counted: no certificate, a stranger's, plaintext (the client that
    // distrusts the server gives up on its own side).
    let metrics = processor.metrics().await;
    let failures = |listener: &str| {
        counter(
            &metrics,
            &format!("ironforge_processor_tls_handshake_failures_total{{listener=\"{listener}\"}}"),
        )
    };
    assert!(failures("otlp_grpc") >= 3.0, "{metrics}");
    assert!(failures("otlp_http") >= 2.0, "{metrics}");
    processor.stop().await;
    drop(pki);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_tls_serves_the_admin_listener_over_tls_only() {
    let (pki, mut files) = Pki::new();
    files.client_ca = None;
    let processor = Secured::start(SecurityOptions {
        tls: Some(files),
        admin_tls: true,
        ..SecurityOptions::default()
    })
    .await;
    let admin = processor.addrs.admin;
    assert_eq!(
        https(admin, &pki.server_ca, None, "GET", "/healthz").await,
        Ok(200)
    );
    // Without a client CA, OTLP takes clients without certificates too.
    let otlp = https(
        processor.addrs.otlp_http,
        &pki.server_ca,
        None,
        "POST",
        "/v1/traces",
    )
    .await;
    assert_eq!(otlp, Ok(200));
    let plaintext = reqwest::get(format!("http://{admin}/healthz")).await;
    assert!(plaintext.is_err(), "{plaintext:?}");
    processor.stop().await;
    drop(pki);
}

#[test]
fn unreadable_tls_files_are_refused_with_the_file_named() {
    let missing = TlsFiles {
        cert: Path::new("/nonexistent/server.pem").to_owned(),
        key: Path::new("/nonexistent/server.key").to_owned(),
        client_ca: None,
    };
    let error = missing.server_config().unwrap_err().to_string();
    assert!(error.contains("/nonexistent/server.pem"), "{error}");
}
