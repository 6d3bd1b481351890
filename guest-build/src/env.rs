//! Which variables of an outer cargo build must not reach the inner one.

use std::process::Command;

/// Variables cargo sets for build scripts, or that configure a build, which would make the inner
/// build compile with the host's flags, into the outer target dir, for the outer target, or
/// through the outer build's wrapper and jobserver.
const LEAKING: &[&str] = &[
    "RUSTFLAGS",
    "CARGO_ENCODED_RUSTFLAGS",
    "CARGO_BUILD_RUSTFLAGS",
    "RUSTDOCFLAGS",
    "CARGO_ENCODED_RUSTDOCFLAGS",
    "CARGO_TARGET_DIR",
    "CARGO_BUILD_TARGET_DIR",
    "CARGO_BUILD_TARGET",
    "RUSTC_WRAPPER",
    "RUSTC_WORKSPACE_WRAPPER",
    "CARGO_BUILD_RUSTC_WRAPPER",
    "CARGO_BUILD_RUSTC_WORKSPACE_WRAPPER",
    "RUSTC_LINKER",
    "CARGO_MAKEFLAGS",
    "MAKEFLAGS",
    "MFLAGS",
    "CARGO_PRIMARY_PACKAGE",
    "CARGO_MANIFEST_DIR",
    "CARGO_MANIFEST_PATH",
    "CARGO_MANIFEST_LINKS",
    "CARGO_CRATE_NAME",
    "CARGO_BIN_NAME",
    "CARGO_TARGET_TMPDIR",
    "CARGO_RUSTC_CURRENT_DIR",
    "OUT_DIR",
    "TARGET",
    "HOST",
    "PROFILE",
    "OPT_LEVEL",
    "DEBUG",
    "NUM_JOBS",
];

/// Prefixes of variable families with the same problem (package metadata, cfgs and features of
/// the outer package, `links` metadata of its dependencies).
const LEAKING_PREFIXES: &[&str] = &["CARGO_PKG_", "CARGO_CFG_", "CARGO_FEATURE_", "DEP_"];

/// Whether the variable `name` leaks from an outer cargo build into an inner one.
pub(crate) fn leaks(name: &str) -> bool {
    LEAKING.contains(&name)
        || LEAKING_PREFIXES
            .iter()
            .any(|prefix| name.starts_with(prefix))
}

/// Removes every leaking variable of this process's environment from `command`'s.
pub(crate) fn clean(command: &mut Command) {
    for (name, _) in std::env::vars_os() {
        if name.to_str().is_some_and(leaks) {
            command.env_remove(name);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outer_build_settings_leak() {
        for name in [
            "RUSTFLAGS",
            "CARGO_ENCODED_RUSTFLAGS",
            "CARGO_TARGET_DIR",
            "TARGET",
            "OUT_DIR",
        ] {
            assert!(leaks(name), "{name}");
        }
        for name in [
            "CARGO_PKG_NAME",
            "CARGO_CFG_TARGET_OS",
            "CARGO_FEATURE_STD",
            "DEP_Z_INCLUDE",
        ] {
            assert!(leaks(name), "{name}");
        }
    }

    #[test]
    fn the_toolchain_and_user_settings_stay() {
        for name in [
            "PATH",
            "HOME",
            "CARGO",
            "CARGO_HOME",
            "RUSTUP_TOOLCHAIN",
            "RUSTC",
            "CARGO_TERM_COLOR",
        ] {
            assert!(!leaks(name), "{name}");
        }
    }
}
