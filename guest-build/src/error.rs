//! Why a guest build failed.

use std::fmt;
use std::path::PathBuf;
use std::process::ExitStatus;

/// Why [`build`](crate::build) or [`rerun_if_changed_lines`](crate::rerun_if_changed_lines)
/// failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum BuildError {
    /// The toolchain has no standard library for wasm32-wasip2.
    TargetMissing {
        /// The sysroot of the toolchain that was checked.
        sysroot: PathBuf,
    },
    /// A program (cargo or rustc) could not be started.
    Spawn {
        /// The program.
        program: String,
        /// Why it could not be started.
        source: std::io::Error,
    },
    /// The toolchain's sysroot could not be found.
    Sysroot(String),
    /// Cargo ran and failed; its errors went to stderr.
    Failed {
        /// The workspace being built.
        manifest: PathBuf,
        /// How cargo exited.
        status: ExitStatus,
    },
    /// Cargo printed a JSON message that could not be understood.
    Message(String),
    /// A file cargo wrote could not be read.
    Io {
        /// The file.
        path: PathBuf,
        /// Why it could not be read.
        source: std::io::Error,
    },
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TargetMissing { sysroot } => write!(
                f,
                "the Rust toolchain at {} cannot build for wasm32-wasip2: \
                 run `rustup target add wasm32-wasip2`",
                sysroot.display()
            ),
            Self::Spawn { program, source } => write!(f, "could not run `{program}`: {source}"),
            Self::Sysroot(message) => write!(f, "could not find the Rust sysroot: {message}"),
            Self::Failed { manifest, status } => write!(
                f,
                "building the guests of {} failed ({status}); cargo's errors are above",
                manifest.display()
            ),
            Self::Message(message) => write!(f, "cargo printed an unexpected message: {message}"),
            Self::Io { path, source } => write!(f, "could not read {}: {source}", path.display()),
        }
    }
}

impl std::error::Error for BuildError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Spawn { source, .. } | Self::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}
