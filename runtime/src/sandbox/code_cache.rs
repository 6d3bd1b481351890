//! Compiled modules kept on disk and mapped from there, not read into memory.
//!
//! A module compiles once per version and engine: the compiled artifact is written to
//! `<dir>/<module hash>-<engine tag>.cwasm` (a temporary name, then a rename, so a reader never
//! sees half a file) and loaded with [`Component::deserialize_file`], which maps the file: only
//! the pages of code a module runs become resident, and they are the page cache's (clean, shared
//! by every process that maps the file), not a private copy. wasmtime's own cache would read the
//! artifact, decompress it into the heap and copy it into anonymous memory, every page resident
//! for as long as the module runs (docs/benchmarks.md, "Compiled modules mapped from their
//! files"). A compile maps its fresh file too, so what the compile itself allocated can go.
//!
//! The engine tag is a hash of everything that makes an artifact fit an engine (wasmtime's
//! version, target, settings): another wasmtime or other settings use other files, and wasmtime
//! still checks the artifact's header before using it. A file that does not load is removed and
//! the module compiled again. The directory holds at most [`KEPT_BYTES`] of artifacts; past it
//! the least recently used go (a file in use stays mapped until its module is dropped).
//!
//! The only unsafe code of the host: wasmtime cannot check that an artifact's machine code is
//! its own output, so loading one is `unsafe`, with the contract written at each use below.
#![allow(unsafe_code)]

use std::{
    hash::{Hash, Hasher},
    path::{Path, PathBuf},
    sync::atomic::{AtomicU64, Ordering},
    time::SystemTime,
};

use wasmtime::{Engine, component::Component};

/// How many bytes of compiled modules a cache directory keeps.
pub const KEPT_BYTES: u64 = 512 << 20;

/// The extension of a compiled artifact.
const EXTENSION: &str = "cwasm";

/// A directory of compiled modules for one engine.
pub struct CodeCache {
    dir: PathBuf,
    /// Hex of the engine's compatibility hash: part of every file name.
    engine_tag: String,
}

/// Why [`CodeCache::store`] stored nothing.
#[derive(Debug)]
pub enum NotStored {
    /// The bytes are not a valid component (wasmtime's reason).
    Invalid(String),
    /// It compiled, but the artifact could not be written (a full disk, a read-only directory).
    NotKept(String),
}

/// Tells temporary files of one process apart.
static NEXT_TEMPORARY: AtomicU64 = AtomicU64::new(0);

impl CodeCache {
    /// A cache in `dir` (created if missing) for the artifacts of `engine`. wasmtime's own
    /// cache, which earlier versions kept in `dir/modules`, is removed.
    pub fn new(dir: &Path, engine: &Engine) -> std::io::Result<CodeCache> {
        std::fs::create_dir_all(dir)?;
        let earlier = dir.join("modules");
        if earlier.is_dir() {
            let _ = std::fs::remove_dir_all(&earlier);
        }
        let mut hasher = std::hash::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        Ok(CodeCache {
            dir: dir.to_path_buf(),
            engine_tag: format!("{:016x}", hasher.finish()),
        })
    }

    /// The directory the artifacts are in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The component whose file is `bytes` (SHA-256 `hash`, hex): mapped from the cache, or
    /// compiled here, written to the cache and mapped from there. An error is the compile's: the
    /// bytes are not a valid component. Blocking.
    pub fn load(&self, engine: &Engine, hash: &str, bytes: &[u8]) -> wasmtime::Result<Component> {
        if let Some(component) = self.map(engine, hash) {
            return Ok(component);
        }
        let artifact = engine.precompile_component(bytes)?;
        match self.write(hash, &artifact) {
            Ok(()) => {
                if let Some(component) = self.map(engine, hash) {
                    return Ok(component);
                }
            }
            Err(e) => {
                tracing::warn!(dir = %self.dir.display(), "cannot keep the compiled module: {e}")
            }
        }
        // SAFETY: the artifact is this engine's own output, in memory.
        unsafe { Component::deserialize(engine, &artifact) }
    }

    /// The compiled module `hash` mapped from its file, if the cache has it. A file that does
    /// not load is removed.
    pub fn map(&self, engine: &Engine, hash: &str) -> Option<Component> {
        let path = self.path(hash);
        if !path.is_file() {
            return None;
        }
        // SAFETY: the file is an artifact written by this cache (here or in a compiling child,
        // `compiler.rs`) for an engine of the same tag (the directory is the host's own, under
        // its data directory), written whole before its rename into place and never changed
        // afterwards: a new artifact is a new file renamed over it, which leaves an existing
        // mapping on the old one. wasmtime checks the header and the engine's settings.
        match unsafe { Component::deserialize_file(engine, &path) } {
            Ok(component) => {
                mark_used(&path);
                Some(component)
            }
            Err(e) => {
                tracing::warn!(file = %path.display(), "compiled module not loadable, compiling again: {e:#}");
                let _ = std::fs::remove_file(&path);
                None
            }
        }
    }

    /// Compiles `bytes` (SHA-256 `hash`) and writes the artifact into the cache, unless it is
    /// there.
    pub fn store(&self, engine: &Engine, hash: &str, bytes: &[u8]) -> Result<(), NotStored> {
        if self.path(hash).is_file() {
            return Ok(());
        }
        let artifact = engine
            .precompile_component(bytes)
            .map_err(|e| NotStored::Invalid(format!("not a valid component: {e:#}")))?;
        self.write(hash, &artifact).map_err(|e| {
            NotStored::NotKept(format!(
                "cannot write the compiled module into {}: {e}",
                self.dir.display()
            ))
        })
    }

    fn path(&self, hash: &str) -> PathBuf {
        self.dir
            .join(format!("{hash}-{}.{EXTENSION}", self.engine_tag))
    }

    /// Writes an artifact under a temporary name, then renames it into place; then keeps the
    /// directory within [`KEPT_BYTES`].
    fn write(&self, hash: &str, artifact: &[u8]) -> std::io::Result<()> {
        let temporary = self.dir.join(format!(
            ".{}-{}.tmp",
            std::process::id(),
            NEXT_TEMPORARY.fetch_add(1, Ordering::Relaxed)
        ));
        let written = std::fs::write(&temporary, artifact)
            .and_then(|()| std::fs::rename(&temporary, self.path(hash)));
        if written.is_err() {
            let _ = std::fs::remove_file(&temporary);
        }
        self.keep_within(KEPT_BYTES);
        written
    }

    /// Removes the least recently used artifacts until the rest take at most `limit` bytes.
    pub fn keep_within(&self, limit: u64) {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return;
        };
        let mut artifacts: Vec<(SystemTime, u64, PathBuf)> = entries
            .flatten()
            .filter(|e| e.path().extension().is_some_and(|x| x == EXTENSION))
            .filter_map(|e| {
                let meta = e.metadata().ok()?;
                Some((meta.modified().ok()?, meta.len(), e.path()))
            })
            .collect();
        let mut total: u64 = artifacts.iter().map(|(_, len, _)| len).sum();
        artifacts.sort();
        for (_, len, path) in artifacts {
            if total <= limit {
                break;
            }
            if std::fs::remove_file(&path).is_ok() {
                total -= len;
            }
        }
    }
}

/// Marks an artifact used now, so that [`CodeCache::keep_within`] removes it last.
fn mark_used(path: &Path) {
    if let Ok(file) = std::fs::File::options().append(true).open(path) {
        let _ = file.set_modified(SystemTime::now());
    }
}

#[cfg(test)]
#[path = "code_cache_tests.rs"]
mod tests;
