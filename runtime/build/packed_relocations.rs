//! Links the `botbox` binary with packed relative relocations (`-z pack-relative-relocs`, DT_RELR)
//! where the linker and the C library support them (GNU ld 2.38+, glibc 2.36+: Debian 12, Ubuntu
//! 22.04 and later).
//!
//! A position-independent executable's pointers in read-only data are patched by the dynamic
//! loader at start. As 67,000 24-byte `RELA` entries (1.6 MB) the loader reads them all and they
//! stay resident; as `RELR` bitmaps they take 18 KB. The binary stays position-independent
//! (address-space layout randomisation is kept). Measured in docs/benchmarks.md ("Packed
//! relocations"): 3.5 MB fewer of the binary's pages resident after a start.
//!
//! Probed by linking an empty C program: where the linker refuses the option (an older
//! toolchain, another C library, cross-compiling), the binary is linked as before.

use std::{path::Path, process::Command};

/// Asks cargo to link the package's binaries with packed relocations, if this toolchain can.
pub fn request_if_supported(out_dir: &Path) {
    let var = |name: &str| std::env::var(name).unwrap_or_default();
    println!("cargo:rerun-if-env-changed=CC");
    if var("CARGO_CFG_TARGET_OS") != "linux"
        || var("CARGO_CFG_TARGET_ENV") != "gnu"
        || var("TARGET") != var("HOST")
    {
        return;
    }
    if links_with_packed_relocations(out_dir) {
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
}

/// Whether the C compiler (the linker rustc calls on Linux) links a program with the option.
fn links_with_packed_relocations(out_dir: &Path) -> bool {
    let source = out_dir.join("relr_probe.c");
    let program = out_dir.join("relr_probe");
    if std::fs::write(&source, "int main(void) { return 0; }\n").is_err() {
        return false;
    }
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    Command::new(cc)
        .arg(&source)
        .arg("-o")
        .arg(&program)
        .arg("-Wl,-z,pack-relative-relocs")
        .output()
        .is_ok_and(|out| out.status.success() && out.stderr.is_empty())
}
