//! Generates the gRPC code (tonic server and client, prost messages) from the module's
//! `proto/download_queue.proto`, with the `protoc` that `protoc-bin-vendored` ships, so building
//! needs no protobuf compiler installed.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let proto = "../proto/download_queue.proto";
    println!("cargo:rerun-if-changed={proto}");
    let mut config = tonic_prost_build::Config::new();
    config.protoc_executable(protoc_bin_vendored::protoc_bin_path()?);
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .compile_with_config(config, &[proto], &["../proto"])?;
    Ok(())
}
