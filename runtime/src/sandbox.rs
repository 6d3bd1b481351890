//! The WebAssembly engine: one wasmtime [`Engine`] for all modules, compiled code cached on disk,
//! instances from a pooling allocator, CPU deadlines by epoch interruption.

pub mod bot_access;
mod code_cache;
pub mod compiler;
mod env;
mod guest_log;
mod host;
mod http_out;
mod instance;
#[cfg(test)]
mod limit_tests;
#[cfg(feature = "native-baseline")]
pub mod native;
#[cfg(test)]
pub(crate) mod pg_kv_tests;
#[cfg(test)]
mod pg_ticket_tests;
#[cfg(test)]
pub(crate) mod pg_timer_tests;
mod tickets;

use std::{
    path::{Path, PathBuf},
    sync::Arc,
    thread,
    time::Duration,
};

use wasmtime::{
    Engine, InstanceAllocationStrategy, PoolingAllocationConfig,
    component::{Component, Linker},
};

pub use code_cache::CodeCache;

pub use env::{Capabilities, ModuleEnv};
pub use guest_log::{GuestLog, LogLine};
pub use host::{CallOutput, ExpectReply, HostState};
pub use http_out::OutgoingLimits;
pub use instance::{CallError, HttpReply, Instance};
pub use tickets::TicketCounter;

use crate::{Error, Result, bindings, config::SandboxConfig};

/// A module's identity: the SHA-256 of its component file, in hex. The compiled-code cache,
/// the registry and the modules-directory watcher all name a version by it.
pub fn module_hash(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// How often the epoch advances; the granularity of CPU deadlines.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// The engine and the linker every module is instantiated with.
pub struct Sandbox {
    engine: Engine,
    linker: Linker<HostState>,
    /// Compiled modules on disk, mapped from there.
    code: CodeCache,
    /// The program that compiles modules in a process of its own ([`compiler`]); none: they
    /// compile in this process.
    compiler: Option<PathBuf>,
    limits: SandboxConfig,
    /// Modules whose `handle-update` runs natively (`native.rs`, benchmarks only).
    #[cfg(feature = "native-baseline")]
    native: Vec<String>,
}

/// A compiled, linked module, ready to be instantiated many times.
#[derive(Clone)]
pub struct ModuleCode {
    pre: bindings::ModulePre<HostState>,
    /// Where the `wasi:http/incoming-handler` export is, when the component has one.
    http: Option<bindings::incoming_handler::GuestIndices>,
    /// SHA-256 of the component file, hex.
    pub hash: String,
}

impl Sandbox {
    /// Creates the engine. Compiled artifacts are cached under `cache_dir`.
    pub fn new(limits: &SandboxConfig, cache_dir: &Path) -> Result<Arc<Sandbox>> {
        Self::build(limits, cache_dir).map(Arc::new)
    }

    /// [`Sandbox::new`], with the modules named in `native` handling updates natively
    /// (`native.rs`: the benchmarks' baseline). A name without a native body is an error.
    #[cfg(feature = "native-baseline")]
    pub fn new_with_native(
        limits: &SandboxConfig,
        cache_dir: &Path,
        native: Vec<String>,
        compiler: Option<PathBuf>,
    ) -> Result<Arc<Sandbox>> {
        if let Some(name) = native
            .iter()
            .find(|n| !native::NATIVE_MODULES.contains(&n.as_str()))
        {
            return Err(Error::Config(format!(
                "{name} has no native body; these do: {}",
                native::NATIVE_MODULES.join(", ")
            )));
        }
        let mut sandbox = Self::build(limits, cache_dir)?;
        sandbox.native = native;
        sandbox.compiler = compiler;
        Ok(Arc::new(sandbox))
    }

    /// [`Sandbox::new`], compiling modules in processes of their own running `compiler`
    /// ([`compiler`]), a `botbox` binary (the running one: [`compiler::this_program`]); `None`
    /// compiles in this process.
    pub fn new_with_compiler(
        limits: &SandboxConfig,
        cache_dir: &Path,
        compiler: Option<PathBuf>,
    ) -> Result<Arc<Sandbox>> {
        let mut sandbox = Self::build(limits, cache_dir)?;
        sandbox.compiler = compiler;
        Ok(Arc::new(sandbox))
    }

    fn build(limits: &SandboxConfig, cache_dir: &Path) -> Result<Sandbox> {
        let err = |e: wasmtime::Error| Error::Sandbox(format!("{e:#}"));
        let config = engine_config(limits);
        let engine = Engine::new(&config).map_err(err)?;
        let code = CodeCache::new(cache_dir, &engine).map_err(|e| Error::io(cache_dir, e))?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(err)?;
        bindings::Module::add_to_linker::<_, wasmtime::component::HasSelf<_>>(&mut linker, |s| s)
            .map_err(err)?;
        // wasi:http for every module: only those that call out import it.
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker).map_err(err)?;
        // Without the ticker no CPU limit holds: a module could loop for ever. Not running
        // without it.
        spawn_epoch_ticker(&engine)
            .map_err(|e| Error::Sandbox(format!("cannot start the CPU clock thread: {e}")))?;
        Ok(Sandbox {
            engine,
            linker,
            code,
            compiler: None,
            limits: limits.clone(),
            #[cfg(feature = "native-baseline")]
            native: Vec::new(),
        })
    }

    /// Compiles (or loads from the cache) and links a component. Blocking: run it off the
    /// async executor.
    pub fn compile(&self, name: &str, bytes: &[u8]) -> Result<ModuleCode> {
        let hash = module_hash(bytes);
        let component = self
            .component(&hash, bytes)
            .map_err(|e| Error::module(name, e))?;
        let pre = self.linker.instantiate_pre(&component).map_err(|e| {
            let wanted = contract_versions(&self.engine, &component);
            let reason = match wanted.iter().find(|v| !runs_modules_built_for(v)) {
                Some(v) => format!(
                    "is built for the contract botbox:bot@{v}; this runtime speaks \
                     botbox:bot@{CONTRACT_VERSION} and runs modules built for \
                     {OLDEST_COMPATIBLE} to {CONTRACT_VERSION} ({e:#})"
                ),
                None => format!("does not fit the botbox:bot@{CONTRACT_VERSION} world: {e:#}"),
            };
            Error::module(name, reason)
        })?;
        // Serving HTTP is optional: only a component exporting the handler gets requests.
        let http = component
            .get_export_index(None, INCOMING_HANDLER)
            .and_then(|_| bindings::incoming_handler::GuestIndices::new(&pre).ok());
        let pre = bindings::ModulePre::new(pre).map_err(|e| {
            Error::module(name, format!("does not export botbox:bot/handler: {e:#}"))
        })?;
        Ok(ModuleCode { pre, http, hash })
    }

    /// The component: mapped from the cache, or compiled (in a child when there is a compiler
    /// program) and then mapped. The error says why it cannot run.
    fn component(&self, hash: &str, bytes: &[u8]) -> std::result::Result<Component, String> {
        if let Some(component) = self.code.map(&self.engine, hash) {
            return Ok(component);
        }
        if let Some(program) = &self.compiler {
            match compiler::compile_in_child(program, self.code.dir(), &self.limits, bytes) {
                Ok(()) => {}
                Err(compiler::ChildFailed::Refused(why)) => return Err(why),
                Err(compiler::ChildFailed::NotKept(why)) => {
                    tracing::warn!("{why}; compiling in the bot's own process instead");
                }
            }
        }
        // Mapped from what the child wrote, or (no compiler program, or the child's artifact
        // did not load) compiled here.
        (self.code.load(&self.engine, hash, bytes))
            .map_err(|e| format!("not a valid component: {e:#}"))
    }

    /// Creates a fresh instance of `code` for `env`.
    pub async fn instantiate(&self, code: &ModuleCode, env: Arc<ModuleEnv>) -> Result<Instance> {
        #[cfg(feature = "native-baseline")]
        let native = self.native.iter().any(|n| **n == *env.name);
        let instance = Instance::new(&self.engine, code, env, &self.limits).await?;
        #[cfg(feature = "native-baseline")]
        let instance = instance.natively_if(native);
        Ok(instance)
    }
}

/// The engine's configuration for these limits: the same in the bot and in a compiling child
/// ([`compiler`]), so that the child's artifacts fit the bot's engine. It reads only
/// `max_stack_kib`, `memory_mib` and `max_table_elements`, the limits a child is told
/// ([`compiler::child_args`]); another one read here must be told too.
pub(crate) fn engine_config(limits: &SandboxConfig) -> wasmtime::Config {
    let mut config = wasmtime::Config::new();
    config.wasm_component_model(true);
    config.epoch_interruption(true);
    // Recursion deeper than this traps ("call stack exhausted"); the host's own stack for
    // the call is that plus room for host functions.
    let stack = limits.max_stack_kib << 10;
    config.max_wasm_stack(stack);
    config.async_stack_size(stack + (1 << 20));
    let mut pool = PoolingAllocationConfig::default();
    // Enough slots for many modules x shards; slots are virtual memory until used.
    pool.total_component_instances(1000)
        .total_core_instances(4000)
        .total_memories(1000)
        .total_tables(4000)
        .total_stacks(1000)
        .max_memory_size(usize::try_from(limits.memory_mib << 20).unwrap_or(usize::MAX))
        .max_core_instances_per_component(32)
        .max_memories_per_component(4)
        .max_tables_per_component(32)
        .table_elements(limits.max_table_elements);
    config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    // Each module compiles on a thread of its own that ends with it (the registry's
    // `compile`), or in a process of its own; not on a pool of threads that stay, idle, with
    // what the compile left in their allocator caches.
    config.parallel_compilation(false);
    config
}

/// The export a module serves HTTP with (the contract's `module-with-http` world).
pub const INCOMING_HANDLER: &str = "wasi:http/incoming-handler@0.2.12";

impl ModuleCode {
    /// Whether the module exports `wasi:http/incoming-handler`, so it can serve HTTP.
    pub fn serves_http(&self) -> bool {
        self.http.is_some()
    }
}

/// The version of the `botbox:bot` contract this runtime provides (`wit/`).
pub const CONTRACT_VERSION: &str = "0.1.3";

/// The oldest contract version whose modules this runtime still runs. Versions from this one
/// to [`CONTRACT_VERSION`] differ only in additions (see docs/contract.md); wasmtime's linker
/// matches a module's `@0.1.0` imports and exports to the host's `@0.1.3` by semver.
pub const OLDEST_COMPATIBLE: &str = "0.1.0";

/// Whether a module built for the contract `version` runs here: the same major version (the
/// same `0.minor` before 1.0), and not newer than this runtime's.
fn runs_modules_built_for(version: &str) -> bool {
    let parse = |v: &str| -> Option<(u64, u64, u64)> {
        let mut parts = v.split('.').map(|p| p.parse::<u64>().ok());
        Some((parts.next()??, parts.next()??, parts.next()??))
    };
    match (
        parse(version),
        parse(OLDEST_COMPATIBLE),
        parse(CONTRACT_VERSION),
    ) {
        (Some(v), Some(oldest), Some(newest)) => oldest <= v && v <= newest,
        _ => false,
    }
}

/// The versions of the `botbox:bot` contract a component imports or exports (from names like
/// `botbox:bot/kv@0.1.0`).
fn contract_versions(engine: &Engine, component: &Component) -> Vec<String> {
    let ty = component.component_type();
    let mut versions: Vec<String> = ty
        .imports(engine)
        .map(|(name, _)| name)
        .chain(ty.exports(engine).map(|(name, _)| name))
        .filter_map(|name| name.strip_prefix("botbox:bot/"))
        .filter_map(|rest| rest.split_once('@').map(|(_, v)| v.to_string()))
        .collect();
    versions.sort();
    versions.dedup();
    versions
}

/// Advances the engine's epoch every [`EPOCH_TICK`] for as long as the engine lives.
fn spawn_epoch_ticker(engine: &Engine) -> std::io::Result<()> {
    let weak = engine.weak();
    thread::Builder::new()
        .name("botbox-epoch".into())
        .spawn(move || {
            while let Some(engine) = weak.upgrade() {
                engine.increment_epoch();
                drop(engine);
                thread::sleep(EPOCH_TICK);
            }
        })
        .map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sandbox() -> (tempfile::TempDir, Arc<Sandbox>) {
        let dir = tempfile::tempdir().unwrap();
        let sandbox = Sandbox::new(&SandboxConfig::default(), dir.path()).unwrap();
        (dir, sandbox)
    }

    /// The refusal of a component written in WAT (the `wat` crate: the host's wasmtime reads
    /// binaries only).
    fn refusal(sandbox: &Sandbox, wat: &str) -> String {
        let bytes = wat::parse_str(wat).expect("valid WAT");
        match sandbox.compile("m.wasm", &bytes) {
            Ok(_) => panic!("accepted"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn a_module_for_another_contract_version_is_refused_naming_both_versions() {
        let (_dir, sandbox) = sandbox();
        let msg = refusal(
            &sandbox,
            r#"(component (import "botbox:bot/log@0.2.0" (instance (export "write" (func (param "line" string))))))"#,
        );
        assert!(
            msg.contains("built for the contract botbox:bot@0.2.0")
                && msg.contains("this runtime speaks botbox:bot@0.1.3")
                && msg.contains("runs modules built for 0.1.0 to 0.1.3"),
            "{msg}"
        );
    }

    #[test]
    fn modules_of_older_patch_versions_run_and_newer_or_other_minor_ones_do_not() {
        for ok in ["0.1.0", "0.1.1", "0.1.2", "0.1.3"] {
            assert!(runs_modules_built_for(ok), "{ok}");
        }
        for not in ["0.1.4", "0.2.0", "0.0.9", "1.1.0", "0.1", "x"] {
            assert!(!runs_modules_built_for(not), "{not}");
        }
    }

    #[test]
    fn what_is_not_a_botbox_component_is_refused_saying_so() {
        let (_dir, sandbox) = sandbox();
        let msg = refusal(&sandbox, "(module)");
        assert!(msg.contains("not a valid component"), "{msg}");
        let msg = refusal(&sandbox, "(component)");
        assert!(msg.contains("does not export botbox:bot/handler"), "{msg}");
        let msg = refusal(
            &sandbox,
            r#"(component (import "evil:net/socket" (instance (export "open" (func)))))"#,
        );
        assert!(
            msg.contains("does not fit the botbox:bot@0.1.3 world"),
            "{msg}"
        );
    }
}
