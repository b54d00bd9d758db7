//! A decoder of OTLP `ExportTraceServiceRequest` protobuf bytes that reads only what the contracts need.
