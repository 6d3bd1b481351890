//! Compiling a module in a process of its own (`botbox compile-module`).
//!
//! Compiling a component takes tens of megabytes for a moment; what it allocated would stay in
//! the bot's allocator, partly in use, for as long as the bot runs (docs/benchmarks.md,
//! "Compiling in a process of its own"). So `botbox run` and `botbox dev` compile in a child:
//! the same program (`/proc/self/exe`, the running binary even if the file was replaced by an
//! upgrade), told the limits that shape the engine, given the component on its standard input.
//! It writes the artifact into the code cache and exits; the bot maps the artifact from there
//! ([`CodeCache`]). A compile that fails says why on the child's standard error, which becomes
//! the module's error; a child that dies (say, out of memory) fails the compile, not the bot. A
//! child that compiled but could not write the artifact (a full disk) exits with
//! [`NOT_KEPT`]: the bot then compiles in its own process and keeps the code in memory.

use std::{
    ffi::OsString,
    io::{Read, Write},
    path::Path,
    process::{Command, Stdio},
};

use wasmtime::Engine;

use super::{CodeCache, code_cache::NotStored, engine_config, module_hash};
use crate::config::SandboxConfig;

/// The subcommand a child runs (`cli.rs`), hidden from `botbox --help`.
pub const SUBCOMMAND: &str = "compile-module";

/// The exit code of a child that compiled the module but could not write it into the cache.
pub const NOT_KEPT: i32 = 2;

/// How a compile in a child went wrong.
#[derive(Debug)]
pub(super) enum ChildFailed {
    /// It did not compile, or the child died: the module's error.
    Refused(String),
    /// It compiled but could not be kept on disk: compile here instead.
    NotKept(String),
}

/// The program to run as the compiler: the running binary itself.
pub fn this_program() -> std::path::PathBuf {
    let proc = Path::new("/proc/self/exe");
    if proc.exists() {
        return proc.to_path_buf();
    }
    std::env::current_exe().unwrap_or_else(|_| proc.to_path_buf())
}

/// The arguments of a child compiling into `cache_dir` for the engine these limits make (the
/// limits [`engine_config`] reads; `cli/compile_module.rs` reads them back).
pub fn child_args(cache_dir: &Path, limits: &SandboxConfig) -> Vec<OsString> {
    let mut args: Vec<OsString> = vec![SUBCOMMAND.into(), "--cache".into(), cache_dir.into()];
    for (name, value) in [
        ("--stack-kib", limits.max_stack_kib.to_string()),
        ("--memory-mib", limits.memory_mib.to_string()),
        ("--table-elements", limits.max_table_elements.to_string()),
    ] {
        args.extend([name.into(), value.into()]);
    }
    args
}

/// Compiles `bytes` in a child running `program`, into `cache_dir`. Blocking. The error is the
/// child's explanation.
pub(super) fn compile_in_child(
    program: &Path,
    cache_dir: &Path,
    limits: &SandboxConfig,
    bytes: &[u8],
) -> Result<(), ChildFailed> {
    let refused = ChildFailed::Refused;
    let mut child = Command::new(program)
        .args(child_args(cache_dir, limits))
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| {
            refused(format!(
                "cannot start the compiler {}: {e}",
                program.display()
            ))
        })?;
    // The child reads all of its input before it writes anything.
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(bytes)
            .map_err(|e| refused(format!("cannot hand the module to the compiler: {e}")))?;
    }
    let output = child
        .wait_with_output()
        .map_err(|e| refused(format!("the compiler did not finish: {e}")))?;
    if output.status.success() {
        return Ok(());
    }
    let said = String::from_utf8_lossy(&output.stderr).trim().to_string();
    if output.status.code() == Some(NOT_KEPT) {
        return Err(ChildFailed::NotKept(said));
    }
    Err(refused(match output.status.code() {
        Some(_) if !said.is_empty() => said,
        Some(code) => format!("the compiler failed with exit code {code}"),
        None => {
            use std::os::unix::process::ExitStatusExt;
            let signal = output.status.signal().unwrap_or(0);
            format!("the compiler was killed by signal {signal} (out of memory?)")
        }
    }))
}

/// The child's side: reads a component from standard input and writes its artifact into
/// `cache_dir` for the engine these limits make: the exit code (0, 1 or [`NOT_KEPT`]) and,
/// unless 0, what the bot reports.
pub fn compile_from_stdin(cache_dir: &Path, limits: &SandboxConfig) -> Result<(), (i32, String)> {
    let mut bytes = Vec::new();
    std::io::stdin()
        .read_to_end(&mut bytes)
        .map_err(|e| (1, format!("cannot read the module: {e}")))?;
    let engine = Engine::new(&engine_config(limits))
        .map_err(|e| (1, format!("cannot start the compiler's engine: {e:#}")))?;
    let cache = CodeCache::new(cache_dir, &engine)
        .map_err(|e| (NOT_KEPT, format!("{}: {e}", cache_dir.display())))?;
    cache
        .store(&engine, &module_hash(&bytes), &bytes)
        .map_err(|e| match e {
            NotStored::Invalid(why) => (1, why),
            NotStored::NotKept(why) => (NOT_KEPT, why),
        })
}
