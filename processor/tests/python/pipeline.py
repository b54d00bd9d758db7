"""A small IRONFORGE-shaped pipeline written with the stock OpenTelemetry Python SDK.

It emits one run with the documented span tree and attributes (see the README's "Facts on spans"): run ->
init + four stages -> one session span per session and stage. Without --fault every contract holds; each
--fault breaks one the way a real pipeline would. Prints the run's trace id (hex) on stdout.

    python pipeline.py --endpoint http://127.0.0.1:4317 --protocol grpc [--fault wrong-dim]
"""

import argparse
import sys

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

EVENT_TYPES = ["Expansion", "Consolidation", "Retracement", "Reversal", "Liquidity Taken", "Redelivery"]
EDGE_INTENTS = ["TEMPORAL_NEXT", "MOVEMENT_TRANSITION", "LIQ_LINK", "CONTEXT"]
STAGES = ["discovery", "confluence", "validation", "reporting"]
SESSIONS = ["ASIA_2025-08-05", "LONDON_2025-08-05", "NY_AM_2025-08-05"]
FAULTS = ["none", "wrong-dim", "string-dim", "unknown-event", "low-authenticity", "duplicate-session"]


def exporter(endpoint, protocol):
    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter(endpoint=endpoint, insecure=True)
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter(endpoint=endpoint.rstrip("/") + "/v1/traces")


def session_facts(fault, index):
    first = index == 0
    facts = {
        "ironforge.graph.event_types": EVENT_TYPES + (["Breakout"] if fault == "unknown-event" and first else []),
        "ironforge.graph.edge_intents": EDGE_INTENTS,
        "ironforge.graph.node_feature_dim": 45 if fault == "wrong-dim" and first else 51,
        "ironforge.graph.edge_feature_dim": 20,
        "ironforge.graph.cross_session_edges": 0,
        "ironforge.htf.open_candle_reads": 0,
        "ironforge.pattern.authenticity": 0.5 if fault == "low-authenticity" and first else 0.95,
        "process.memory.usage": 48_000_000,
        "ironforge.memory.peak": 52_000_000,
    }
    if fault == "string-dim" and first:
        facts["ironforge.graph.node_feature_dim"] = "51"
    return facts


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--protocol", choices=["grpc", "http"], default="grpc")
    parser.add_argument("--fault", choices=FAULTS, default="none")
    args = parser.parse_args()

    provider = TracerProvider(resource=Resource.create({"service.name": "ironforge-python-pipeline"}))
    provider.add_span_processor(BatchSpanProcessor(exporter(args.endpoint, args.protocol)))
    tracer = provider.get_tracer("ironforge.pipeline")

    sessions = list(SESSIONS)
    if args.fault == "duplicate-session":
        sessions[2] = sessions[1]
    with tracer.start_as_current_span(
        "run", attributes={"ironforge.span.kind": "run", "ironforge.run.session_count": len(SESSIONS)}
    ) as run:
        with tracer.start_as_current_span("init", attributes={"ironforge.span.kind": "init"}):
            pass
        for stage in STAGES:
            with tracer.start_as_current_span(
                stage, attributes={"ironforge.span.kind": "stage", "ironforge.stage": stage}
            ):
                for index, session in enumerate(sessions):
                    attributes = {
                        "ironforge.span.kind": "session",
                        "ironforge.stage": stage,
                        "ironforge.session.id": session,
                    }
                    if stage == "discovery":
                        attributes.update(session_facts(args.fault, index))
                    with tracer.start_as_current_span("session", attributes=attributes):
                        pass
        run.set_attribute("ironforge.instrument.overhead", 0.0002)
        run.set_attribute("ironforge.instrument.operations", 20)
        run.set_attribute("ironforge.memory.peak", 60_000_000)
        trace_id = run.get_span_context().trace_id

    if not provider.force_flush(10_000):
        print("export did not finish", file=sys.stderr)
        return 1
    provider.shutdown()
    print(format(trace_id, "032x"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
