//! Compiles the monitor's own `.proto` files with `protox`, so no system `protoc` is needed.

#[cfg(feature = "grpc")]
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let files = [
        "ironforge/monitor/v1/violation.proto",
        "ironforge/monitor/v1/verdict.proto",
        "ironforge/monitor/v1/analysis.proto",
        "ironforge/monitor/v1/monitor_service.proto",
    ];
    let descriptors = protox::compile(files, [".", "vendor"])?;
    tonic_prost_build::configure()
        .extern_path(".opentelemetry.proto", "::opentelemetry_proto::tonic")
        .compile_fds(descriptors)?;
    println!("cargo:rerun-if-changed=ironforge");
    println!("cargo:rerun-if-changed=vendor");
    Ok(())
}

/// Without `grpc` the crate holds the attribute conventions only: nothing to compile.
#[cfg(not(feature = "grpc"))]
fn main() {}
