//! Many runs made from one recording, with the discovery stage's length set per run: recorded noise
//! (stage times jittering around a centre) or a real slowdown, without replaying for each.

use std::path::PathBuf;

use serde_json::Value;

use super::{clean_run, path};

const STAGE_KIND: &str = "stage";
const DISCOVERY: &str = "discovery";
/// Time between one run's end and the next run's start.
const GAP_NANOS: u64 = 1_000_000_000;

fn attribute<'a>(span: &'a Value, key: &str) -> Option<&'a str> {
    span["attributes"]
        .as_array()?
        .iter()
        .find(|a| a["key"] == key)?["value"]["stringValue"]
        .as_str()
}

fn nanos(span: &Value, field: &str) -> u64 {
    span[field].as_str().unwrap().parse().unwrap()
}

fn spans(request: &Value) -> impl Iterator<Item = &Value> {
    request["resourceSpans"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r["scopeSpans"].as_array().unwrap())
        .flat_map(|s| s["spans"].as_array().unwrap())
}

fn spans_mut(request: &mut Value) -> impl Iterator<Item = &mut Value> {
    request["resourceSpans"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .flat_map(|r| r["scopeSpans"].as_array_mut().unwrap().iter_mut())
        .flat_map(|s| s["spans"].as_array_mut().unwrap().iter_mut())
}

/// `discovery_seconds.len()` runs of the clean recording, one after another, each with its own trace id and
/// its discovery stage stretched to the seconds given (later spans move with it), written to `name`.
pub(crate) fn with_discovery(name: &str, discovery_seconds: &[f64]) -> PathBuf {
    let text = std::fs::read_to_string(clean_run()).unwrap();
    let requests: Vec<Value> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let spans: Vec<&Value> = requests.iter().flat_map(spans).collect();
    let discovery = spans
        .iter()
        .find(|s| {
            attribute(s, "ironforge.span.kind") == Some(STAGE_KIND)
                && attribute(s, "ironforge.stage") == Some(DISCOVERY)
        })
        .expect("a discovery stage span");
    let (from, to) = (
        nanos(discovery, "startTimeUnixNano"),
        nanos(discovery, "endTimeUnixNano"),
    );
    let first = spans
        .iter()
        .map(|s| nanos(s, "startTimeUnixNano"))
        .min()
        .unwrap();
    let last = spans
        .iter()
        .map(|s| nanos(s, "endTimeUnixNano"))
        .max()
        .unwrap();
    let mut out = String::new();
    let mut offset = 0u64;
    for (copy, seconds) in discovery_seconds.iter().enumerate() {
        let factor = seconds * 1e9 / (to - from) as f64;
        let stretch = |t: u64| -> u64 {
            let inside = t.clamp(from, to) - from;
            t + (inside as f64 * (factor - 1.0)) as u64 + offset
        };
        let trace_id = format!("{:032x}", 0xabc0_0000_u64 + copy as u64);
        for request in &requests {
            let mut request = request.clone();
            for span in spans_mut(&mut request) {
                for field in ["startTimeUnixNano", "endTimeUnixNano"] {
                    span[field] = stretch(nanos(span, field)).to_string().into();
                }
                span["traceId"] = trace_id.clone().into();
            }
            out.push_str(&request.to_string());
            out.push('\n');
        }
        // The next run starts a gap after this one ends.
        offset = stretch(last) - first + GAP_NANOS;
    }
    let file = path(name);
    std::fs::write(&file, out).unwrap();
    file
}

/// `count` values around `centre`, each off by up to ±`spread` (a fraction), reproducibly from `seed`.
pub(crate) fn jittered(centre: f64, spread: f64, count: usize, seed: u64) -> Vec<f64> {
    let mut state = seed;
    (0..count)
        .map(|_| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let unit = (state >> 11) as f64 / (1u64 << 53) as f64;
            centre * (1.0 + spread * (2.0 * unit - 1.0))
        })
        .collect()
}
