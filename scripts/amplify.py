"""The memory amplification probe: sustained concurrent ~4 MB OTLP/HTTP requests of session spans that each
break nine contracts, every request starting new traces. Measure the processor's RSS beside it
(RELIABILITY.md, "The fault suite").

usage: .venv/bin/python scripts/amplify.py ENDPOINT SECONDS SENDERS
  e.g. .venv/bin/python scripts/amplify.py http://127.0.0.1:4318/v1/traces 40 4
"""
import os
import sys
import threading
import time
import urllib.request
import urllib.error

from opentelemetry.proto.collector.trace.v1 import trace_service_pb2 as ts
from opentelemetry.proto.common.v1 import common_pb2 as common
from opentelemetry.proto.trace.v1 import trace_pb2 as trace

endpoint, seconds, senders = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
T0 = 1_754_300_000_000_000_000


def kv(key, value):
    any_value = common.AnyValue()
    if isinstance(value, bool):
        any_value.bool_value = value
    elif isinstance(value, int):
        any_value.int_value = value
    elif isinstance(value, float):
        any_value.double_value = value
    elif isinstance(value, list):
        any_value.array_value.values.extend(common.AnyValue(string_value=v) for v in value)
    else:
        any_value.string_value = value
    return common.KeyValue(key=key, value=any_value)


def request(seed):
    spans = []
    trace_id = os.urandom(16)
    for i in range(2900):
        if i % 200 == 0:
            trace_id = os.urandom(16)
        span = trace.Span(
            trace_id=trace_id,
            span_id=os.urandom(8),
            parent_span_id=b"\x01" * 8,
            name="session",
            start_time_unix_nano=T0,
            end_time_unix_nano=T0 + 10_000_000_000,
        )
        span.attributes.extend([
            kv("ironforge.span.kind", "session"),
            kv("ironforge.stage", "discovery"),
            kv("ironforge.session.id", "S" * 120 + str(i)),
            kv("ironforge.pattern.authenticity", 0.1),
            kv("ironforge.graph.node_feature_dim", "51"),
            kv("ironforge.graph.edge_feature_dim", 7),
            kv("ironforge.graph.event_types", ["Bogus%03d" % j for j in range(30)]),
            kv("ironforge.graph.edge_intents", ["Weird%03d" % j for j in range(30)]),
            kv("ironforge.graph.cross_session_edges", 5),
            kv("ironforge.htf.open_candle_reads", 3),
            kv("ironforge.memory.peak", 9e12),
            kv("process.memory.usage", 9e12),
        ])
        spans.append(span)
    body = ts.ExportTraceServiceRequest(resource_spans=[trace.ResourceSpans(
        scope_spans=[trace.ScopeSpans(spans=spans)])])
    return body.SerializeToString()


bodies = [request(s) for s in range(4)]
print("request bytes", len(bodies[0]), flush=True)
counts = {"ok": 0, "refused": 0, "error": 0}
lock = threading.Lock()
deadline = time.time() + seconds


def send(index):
    n = index
    while time.time() < deadline:
        body = bodies[n % len(bodies)]
        n += 1
        # Fresh ids each time, so every request starts new traces.
        req = ts.ExportTraceServiceRequest.FromString(body)
        tid = os.urandom(16)
        for span in req.resource_spans[0].scope_spans[0].spans:
            span.trace_id = tid[:12] + span.trace_id[12:]
        data = req.SerializeToString()
        r = urllib.request.Request(endpoint, data=data, headers={"Content-Type": "application/x-protobuf"})
        try:
            urllib.request.urlopen(r, timeout=60).read()
            key = "ok"
        except urllib.error.HTTPError as e:
            key = "refused" if e.code in (429, 503) else "error"
            if key == "refused":
                time.sleep(0.2)
        except Exception:
            key = "error"
        with lock:
            counts[key] += 1


threads = [threading.Thread(target=send, args=(i,)) for i in range(senders)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print(counts, flush=True)
