//! Builds guest workspaces (botbox modules, wasm32-wasip2 components) by running an inner
//! `cargo build`, from a build script (`tests/artifacts`) or at run time (`botbox dev`).
//!
//! Guest crates live in workspaces of their own so that the host build never compiles them for
//! the host target (see DESIGN.md, "Layout"). Building them from inside an outer cargo build needs
//! care, which this crate takes in one place:
//!
//! - **Its own target dir.** An inner build that shares the outer target dir deadlocks: the outer
//!   cargo holds the build directory's lock while it runs the build script, and the inner cargo
//!   waits for the same lock forever. Callers pass a separate `target_dir`.
//! - **A clean environment.** Cargo hands a build script the outer build's settings (`RUSTFLAGS`
//!   and `CARGO_ENCODED_RUSTFLAGS` meant for the host, `CARGO_TARGET_DIR`, the jobserver in
//!   `CARGO_MAKEFLAGS`, `TARGET`, `OUT_DIR`, `CARGO_PKG_*`, ...). Passed on, they would compile
//!   the guests with host flags, into the wrong directory, or for the wrong target;
//!   [`build`] removes them from the child's environment.
//! - **A clear message when the target is missing**: [`BuildError::TargetMissing`] says to run
//!   `rustup target add wasm32-wasip2`, checked up front rather than after a wall of
//!   `can't find crate for std` errors.
//! - **Precise rebuilds.** [`rerun_if_changed_lines`] lists the files a build script must watch,
//!   taken from cargo's own dependency info, so an edit to a guest, the SDK or `wit/` rebuilds
//!   the guests and nothing else does.
//!
//! The child's stderr is passed through, so the user sees cargo's progress and compile errors.
//! wasmtime (`crates/test-programs/artifacts/build.rs`) and spin
//! (`tests/test-components/build.rs`) build their test programs the same way.

mod depinfo;
mod env;
mod error;
mod json;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

pub use depinfo::{rerun_if_changed_lines, watched_files};
pub use error::BuildError;

/// Removes from `command`'s environment every variable of an outer cargo build that would leak
/// into a cargo it runs (flags, target dir, jobserver, package metadata): for tests that run
/// cargo in a module project of their own.
pub fn clean_env(command: &mut Command) {
    env::clean(command);
}

/// The target guests are built for.
pub const TARGET: &str = "wasm32-wasip2";

/// Which cargo profile to build the guests with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    /// `--release`: small, fast components, as modules are shipped.
    Release,
    /// The `dev` profile: faster to compile, with debug info.
    Debug,
}

impl Profile {
    /// The directory under `<target-dir>/wasm32-wasip2/` the profile's outputs go to.
    pub fn dir_name(self) -> &'static str {
        match self {
            Self::Release => "release",
            Self::Debug => "debug",
        }
    }
}

/// Builds every member of the guest workspace `workspace_manifest` (its `Cargo.toml`) for
/// wasm32-wasip2 into `target_dir` and returns the paths of the components it produced: the
/// `.wasm` files of the workspace's `cdylib` members, in `<target_dir>/wasm32-wasip2/<profile>/`.
///
/// `target_dir` must not be the target dir of a cargo build this is called from (see the crate
/// docs). Cargo's progress and errors go to this process's stderr.
pub fn build(
    workspace_manifest: &Path,
    target_dir: &Path,
    profile: Profile,
) -> Result<Vec<PathBuf>, BuildError> {
    check_target_installed()?;
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(&cargo);
    command
        .arg("build")
        .arg("--target")
        .arg(TARGET)
        .arg("--manifest-path")
        .arg(workspace_manifest)
        .arg("--target-dir")
        .arg(target_dir)
        .arg("--message-format=json-render-diagnostics");
    if profile == Profile::Release {
        command.arg("--release");
    }
    if let Some(dir) = workspace_manifest
        .parent()
        .filter(|dir| !dir.as_os_str().is_empty())
    {
        // Cargo reads `.cargo/config.toml` (and rustup `rust-toolchain.toml`) from here upwards.
        command.current_dir(dir);
    }
    env::clean(&mut command);
    let output = command
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|source| BuildError::Spawn {
            program: cargo.to_string_lossy().into_owned(),
            source,
        })?;
    if !output.status.success() {
        return Err(BuildError::Failed {
            manifest: workspace_manifest.to_path_buf(),
            status: output.status,
        });
    }
    components_in(&String::from_utf8_lossy(&output.stdout))
}

/// Checks that the Rust toolchain cargo will use can build for wasm32-wasip2: the target's
/// standard library is in `rustc --print sysroot` (`$RUSTC` if set, else `rustc`).
pub fn check_target_installed() -> Result<(), BuildError> {
    check_target_installed_with(&std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into()))
}

fn check_target_installed_with(rustc: &std::ffi::OsStr) -> Result<(), BuildError> {
    let output = Command::new(rustc)
        .args(["--print", "sysroot"])
        .stderr(Stdio::inherit())
        .output()
        .map_err(|source| BuildError::Spawn {
            program: rustc.to_string_lossy().into_owned(),
            source,
        })?;
    if !output.status.success() {
        return Err(BuildError::Sysroot(format!(
            "`rustc --print sysroot` failed ({})",
            output.status
        )));
    }
    let sysroot = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
    if sysroot.join("lib/rustlib").join(TARGET).is_dir() {
        Ok(())
    } else {
        Err(BuildError::TargetMissing { sysroot })
    }
}

/// The `.wasm` files of `cdylib` targets in cargo's JSON messages (one object per line).
fn components_in(messages: &str) -> Result<Vec<PathBuf>, BuildError> {
    let mut components = Vec::new();
    for line in messages.lines().filter(|line| line.starts_with('{')) {
        let message =
            json::parse(line).map_err(|error| BuildError::Message(format!("{error}: {line}")))?;
        if message.get("reason").and_then(json::Value::as_str) != Some("compiler-artifact") {
            continue;
        }
        let kinds = message.get("target").and_then(|target| target.get("kind"));
        let is_cdylib = kinds
            .and_then(json::Value::as_array)
            .is_some_and(|kinds| kinds.iter().any(|kind| kind.as_str() == Some("cdylib")));
        if !is_cdylib {
            continue;
        }
        let filenames = message
            .get("filenames")
            .and_then(json::Value::as_array)
            .unwrap_or_default();
        components.extend(
            filenames
                .iter()
                .filter_map(json::Value::as_str)
                .filter(|name| name.ends_with(".wasm"))
                .map(PathBuf::from),
        );
    }
    components.sort();
    components.dedup();
    Ok(components)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_cdylib_wasm_files_count_as_components() {
        let messages = r#"{"reason":"compiler-artifact","target":{"kind":["lib"],"name":"botbox_sdk"},"filenames":["/t/libbotbox_sdk.rlib"]}
{"reason":"compiler-artifact","target":{"kind":["cdylib"],"name":"echo"},"filenames":["/t/wasm32-wasip2/release/echo.wasm"],"fresh":true}
{"reason":"compiler-artifact","target":{"kind":["cdylib"],"name":"bad_trap"},"filenames":["/t/wasm32-wasip2/release/bad_trap.wasm"]}
{"reason":"build-finished","success":true}
"#;
        assert_eq!(
            components_in(messages).unwrap(),
            [
                PathBuf::from("/t/wasm32-wasip2/release/bad_trap.wasm"),
                PathBuf::from("/t/wasm32-wasip2/release/echo.wasm"),
            ]
        );
    }

    #[test]
    fn the_installed_toolchain_has_the_target() {
        check_target_installed().unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn a_toolchain_without_the_target_is_told_to_add_it() {
        // `echo --print sysroot` prints a "sysroot" with no standard library in it.
        let error = check_target_installed_with("echo".as_ref()).unwrap_err();
        assert!(
            matches!(error, BuildError::TargetMissing { .. }),
            "{error:?}"
        );
        assert!(
            error
                .to_string()
                .ends_with("run `rustup target add wasm32-wasip2`"),
            "{error}"
        );
    }

    #[test]
    fn garbled_messages_are_reported() {
        assert!(matches!(
            components_in("{\"reason\":"),
            Err(BuildError::Message(_))
        ));
    }
}
