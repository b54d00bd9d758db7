//! Credentials in the logs endpoint URL never reach the processor's output: the real binary is started with
//! one and everything it prints is read.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

use prost::Message;

use crate::e2e_support::{run_with_session, test_contracts};
use crate::transport_security::support::{processor_command, unique};
use crate::wait_support::{WAIT, poll_until};

const PASSWORD: &str = "pa55-s3cret";
const QUERY_TOKEN: &str = "qu3ry-s3cret";

/// The processor's stdout and stderr, collected as it prints them.
struct Output(Arc<Mutex<String>>);

impl Output {
    fn collect(child: &mut Child) -> Self {
        let text = Arc::new(Mutex::new(String::new()));
        let streams: [Box<dyn Read + Send>; 2] = [
            Box::new(child.stdout.take().unwrap()),
            Box::new(child.stderr.take().unwrap()),
        ];
        for stream in streams {
            let text = Arc::clone(&text);
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    let mut text = text.lock().unwrap();
                    text.push_str(&line);
                    text.push('\n');
                }
            });
        }
        Self(text)
    }

    fn text(&self) -> String {
        self.0.lock().unwrap().clone()
    }

    /// Waits until `check` holds or [`WAIT`] passes; returns the output either way.
    fn until(&self, check: impl Fn(&str) -> bool) -> String {
        poll_until(WAIT, || {
            let text = self.text();
            if check(&text) { Ok(text) } else { Err(text) }
        })
        .unwrap_or_else(|text| text)
    }
}

fn assert_no_secret(output: &str) {
    for secret in [PASSWORD, QUERY_TOKEN, "user:"] {
        assert!(!output.contains(secret), "{secret} printed:\n{output}");
    }
}

#[test]
fn logs_endpoint_credentials_never_reach_the_output() {
    let dir = std::env::temp_dir().join(unique("ironforge-redaction"));
    std::fs::create_dir_all(&dir).unwrap();
    let contracts = dir.join("contracts.yaml");
    std::fs::write(&contracts, test_contracts()).unwrap();
    // Nothing listens on the discard port, so every export fails and is reported.
    let endpoint = format!("http://user:{PASSWORD}@127.0.0.1:9/?token={QUERY_TOKEN}");
    let mut child = processor_command()
        .args(["--logs-endpoint", &endpoint])
        .arg("--config")
        .arg(&contracts)
        .arg("--data-dir")
        .arg(dir.join("data"))
        .env("RUST_LOG", "debug")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let output = Output::collect(&mut child);
    let started = output.until(|text| text.contains("listening"));
    assert!(started.contains("REDACTED@127.0.0.1:9"), "{started}");
    let http = started
        .split("OTLP/HTTP ")
        .nth(1)
        .and_then(|rest| rest.split(',').next())
        .unwrap()
        .to_owned();

    // A failing run: its violations go to the unreachable endpoint, and the failure is logged.
    let body = run_with_session(1, 5).encode_to_vec();
    let mut stream = std::net::TcpStream::connect(&http).unwrap();
    let head = format!(
        "POST /v1/traces HTTP/1.1\r\nhost: {http}\r\ncontent-type: application/x-protobuf\r\n\
         content-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(&body).unwrap();
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    output.until(|text| text.matches("127.0.0.1:9").count() >= 2);
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
    assert_no_secret(&output.until(|text| text.contains("shutting down")));

    // An endpoint refused at start-up is named without its credentials too.
    let refused = processor_command()
        .args(["--logs-endpoint", &format!("ftp://user:{PASSWORD}@host:1")])
        .arg("--data-dir")
        .arg(dir.join("data"))
        .output()
        .unwrap();
    assert!(!refused.status.success());
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&refused.stdout),
        String::from_utf8_lossy(&refused.stderr)
    );
    assert!(printed.contains("REDACTED@host:1"), "{printed}");
    assert_no_secret(&printed);
    let _ = std::fs::remove_dir_all(&dir);
}
