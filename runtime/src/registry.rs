//! The modules of a running bot and their lifecycle: add, swap, rollback, remove, enable,
//! disable, configure.
//!
//! Every change follows one path: compile (off the async executor) → validate against the world
//! → canary `init` on a fresh instance → switch. Anything wrong before the switch leaves what
//! was serving untouched and comes back as an error that says why. Changes are serialized (one
//! at a time); updates keep flowing during a change.
//!
//! What survives a restart: the modules directory holds each module's current file (the API
//! writes it there; the directory watcher reads it), `<data_dir>/versions/<name>/<hash>.wasm`
//! holds every version that ever served (for rollback), and the `modules` metadata record holds
//! each module's previous version, whether it is disabled and why, and its configuration set
//! through the API.

use std::{
    collections::{BTreeMap, HashMap},
    path::{Path, PathBuf},
    sync::Arc,
};

use parking_lot::RwLock;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{
    Error, Result,
    bindings::types::Manifest,
    config::Config,
    module::{LoadedModule, ModuleStats, ShardDeps, Version},
    outbox::Quotas,
    router::{self, Router},
    sandbox::{
        Capabilities, GuestLog, ModuleCode, ModuleEnv, OutgoingLimits, Sandbox, TicketCounter,
    },
    store::{
        Db,
        kv::{Namespace, Quota},
    },
};

/// META key of the modules' persistent state.
const META_MODULES: &str = "modules";

/// What is remembered of a module across restarts.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Persisted {
    /// Hash of the version before the current one.
    previous: Option<String>,
    /// Why it is disabled, when it is.
    disabled: Option<String>,
    /// Configuration set through the API, replacing the file's `modules.<name>.config`.
    config: Option<toml::Table>,
    /// Its file in the modules directory.
    #[serde(default)]
    file: Option<PathBuf>,
}

/// One module, running or not.
struct Slot {
    module: Option<Arc<LoadedModule>>,
    stats: Arc<ModuleStats>,
    /// Its file in the modules directory.
    file: PathBuf,
    /// SHA-256 of its current version.
    hash: String,
    /// Its current manifest, once it was known.
    manifest: Option<Manifest>,
    namespace: Option<Arc<Namespace>>,
    log: Arc<GuestLog>,
    tag: String,
    persisted: Persisted,
}

/// A module as the admin API shows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ModuleInfo {
    /// Its name.
    pub name: String,
    /// Its version, from its manifest.
    pub version: String,
    /// SHA-256 of its component file.
    pub hash: String,
    /// `running`, `disabled`.
    pub state: String,
    /// Why it is disabled.
    pub disabled_reason: Option<String>,
    /// Instances handling its chats.
    pub shards: usize,
    /// Calls of `handle-update`.
    pub calls: u64,
    /// Calls that returned an error value.
    pub errors: u64,
    /// Calls that trapped or hit a limit.
    pub traps: u64,
    /// Updates quarantined.
    pub quarantined: u64,
    /// Median handling time of recent calls, microseconds.
    pub latency_p50_us: Option<u32>,
    /// 99th percentile of recent handling times, microseconds.
    pub latency_p99_us: Option<u32>,
    /// Its file in the modules directory.
    pub file: String,
    /// Hash of the version a rollback returns to.
    pub previous: Option<String>,
    /// Its commands.
    pub commands: Vec<String>,
    /// Capabilities granted (declared, narrowed by the operator).
    pub capabilities: Option<Capabilities>,
    /// KV quota in force.
    pub kv_quota: Option<Quota>,
}

/// What an install did.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Installed {
    /// The module.
    pub name: String,
    /// Its version now.
    pub version: String,
    /// Its hash now.
    pub hash: String,
    /// `added`, `swapped`, `unchanged`, `rolled back`, `reconfigured`, `enabled`.
    pub action: String,
    /// The version it replaced.
    pub replaced: Option<String>,
}

/// What a module's environment keeps from its earlier versions: its tag, namespace, log and
/// persisted state.
type RealEnv<'a> = (
    String,
    Option<Arc<Namespace>>,
    Option<Arc<GuestLog>>,
    &'a Persisted,
);

/// What an install may do.
#[derive(Debug, Clone, Copy)]
pub enum Expect<'a> {
    /// Add a new module or swap the one of the same name.
    Any,
    /// Add a new module only.
    New,
    /// Swap the named module only.
    Swap(&'a str),
}

/// Everything a change needs.
pub(crate) struct Ctx {
    pub(crate) config: Config,
    pub(crate) db: Arc<Db>,
    pub(crate) tickets: Arc<TicketCounter>,
    pub(crate) shard_deps: ShardDeps,
    pub(crate) quotas: Arc<Quotas>,
}

/// The modules of a running bot.
pub struct Registry {
    ctx: Ctx,
    slots: RwLock<BTreeMap<String, Slot>>,
    router: RwLock<Arc<Router>>,
    /// One change at a time.
    change: tokio::sync::Mutex<()>,
}

impl Registry {
    pub(crate) fn new(ctx: Ctx, router: Router) -> Registry {
        Registry {
            ctx,
            slots: RwLock::new(BTreeMap::new()),
            router: RwLock::new(Arc::new(router)),
            change: tokio::sync::Mutex::new(()),
        }
    }

    fn sandbox(&self) -> &Arc<Sandbox> {
        &self.ctx.shard_deps.sandbox
    }

    /// The routing table in force.
    pub fn router(&self) -> Arc<Router> {
        self.router.read().clone()
    }

    /// The running module `name`.
    pub fn get(&self, name: &str) -> Option<Arc<LoadedModule>> {
        self.slots.read().get(name).and_then(|s| s.module.clone())
    }

    /// The KV namespace of module `name`, once it ran.
    pub fn namespace(&self, name: &str) -> Option<Arc<Namespace>> {
        self.slots
            .read()
            .get(name)
            .and_then(|s| s.namespace.clone())
    }

    /// Every running module.
    pub fn running(&self) -> Vec<Arc<LoadedModule>> {
        self.slots
            .read()
            .values()
            .filter_map(|s| s.module.clone())
            .collect()
    }

    /// Counters of every module, running or not.
    pub fn stats(&self) -> BTreeMap<String, Arc<ModuleStats>> {
        self.slots
            .read()
            .iter()
            .map(|(k, s)| (k.clone(), s.stats.clone()))
            .collect()
    }

    /// The modules, as the admin API shows them.
    pub fn list(&self) -> Vec<ModuleInfo> {
        self.slots
            .read()
            .iter()
            .map(|(name, s)| info(name, s))
            .collect()
    }

    /// One module, as the admin API shows it.
    pub fn info(&self, name: &str) -> Result<ModuleInfo> {
        self.slots
            .read()
            .get(name)
            .map(|s| info(name, s))
            .ok_or_else(|| not_found(name))
    }

    /// The module's log: its last `n` lines and what the host did with it.
    pub fn logs(&self, name: &str, n: usize) -> Result<Vec<crate::sandbox::LogLine>> {
        self.slots
            .read()
            .get(name)
            .map(|s| s.log.tail(n))
            .ok_or_else(|| not_found(name))
    }

    /// The file of each module, with its current hash (the directory watcher compares them).
    pub(crate) fn files(&self) -> HashMap<PathBuf, (String, String)> {
        self.slots
            .read()
            .iter()
            .map(|(n, s)| (s.file.clone(), (n.clone(), s.hash.clone())))
            .collect()
    }

    fn persisted_all(&self) -> Result<BTreeMap<String, Persisted>> {
        match self.ctx.db.meta(META_MODULES)? {
            Some(b) => {
                serde_json::from_slice(&b).map_err(|e| Error::Corrupt(format!("module state: {e}")))
            }
            None => Ok(BTreeMap::new()),
        }
    }

    fn persist(&self) -> Result<()> {
        let all: BTreeMap<String, Persisted> = self
            .slots
            .read()
            .iter()
            .map(|(n, s)| {
                let mut p = s.persisted.clone();
                p.file = Some(s.file.clone());
                (n.clone(), p)
            })
            .collect();
        let bytes =
            serde_json::to_vec(&all).map_err(|e| Error::Corrupt(format!("module state: {e}")))?;
        self.ctx.db.set_meta(META_MODULES, &bytes)
    }

    /// Loads every `*.wasm` of the modules directory (at start). A file that fails is logged
    /// and skipped; a module disabled before the stop stays disabled.
    pub(crate) async fn load_dir(&self) -> Result<()> {
        let persisted = self.persisted_all()?;
        for (file, bytes) in read_modules_dir(&self.ctx.config.modules_dir)? {
            let hash = hex::encode(Sha256::digest(&bytes));
            let stem = file
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            // A module disabled before the stop is not started; its name is its file's stem
            // or the name its state was kept under.
            if let Some((name, p)) = persisted.iter().find(|(n, p)| {
                p.disabled.is_some() && (p.file.as_ref() == Some(&file) || **n == stem)
            }) {
                self.insert_disabled(name, &file, hash, p.clone())?;
                continue;
            }
            let _guard = self.change.lock().await;
            match self
                .install_locked(&bytes, Some(&file), false, Expect::Any)
                .await
            {
                Ok(done) => {
                    if let Some(p) = persisted.get(&done.name)
                        && let Some(slot) = self.slots.write().get_mut(&done.name)
                    {
                        slot.persisted.previous = p.previous.clone();
                    }
                }
                Err(e) => tracing::error!(file = %file.display(), "module not loaded: {e}"),
            }
        }
        if self.slots.read().is_empty() {
            tracing::warn!(dir = %self.ctx.config.modules_dir.display(), "no modules loaded: the bot will not answer");
        }
        Ok(())
    }

    fn insert_disabled(&self, name: &str, file: &Path, hash: String, p: Persisted) -> Result<()> {
        let tag = module_tag(&self.ctx.db, name)?;
        let log = GuestLog::new(
            name.into(),
            self.ctx.config.sandbox.log_lines_per_minute,
            self.ctx.config.sandbox.log_lines_kept,
        );
        log.host_event(&format!(
            "disabled: {}",
            p.disabled.as_deref().unwrap_or("by the operator")
        ));
        self.slots.write().insert(
            name.to_string(),
            Slot {
                module: None,
                stats: Arc::default(),
                file: file.to_path_buf(),
                hash,
                manifest: None,
                namespace: None,
                log,
                tag,
                persisted: p,
            },
        );
        Ok(())
    }

    /// Adds a module, or swaps the running module of the same name for this version. `file` is
    /// where the bytes are (the watcher) or should be kept (the API: `None` → the module's
    /// current file, or `<modules_dir>/<name>.wasm`).
    pub async fn install(&self, bytes: &[u8], file: Option<&Path>) -> Result<Installed> {
        let _guard = self.change.lock().await;
        self.install_locked(bytes, file, true, Expect::Any).await
    }

    /// Like [`Self::install`], refusing a module whose name is taken (`Expect::New`) or one
    /// that is not the named module (`Expect::Swap`).
    pub async fn install_expecting(&self, bytes: &[u8], expect: Expect<'_>) -> Result<Installed> {
        let _guard = self.change.lock().await;
        self.install_locked(bytes, None, true, expect).await
    }

    async fn install_locked(
        &self,
        bytes: &[u8],
        file: Option<&Path>,
        write_file: bool,
        expect: Expect<'_>,
    ) -> Result<Installed> {
        let label = file.map_or_else(|| "upload".to_string(), |f| f.display().to_string());
        let code = self.compile(&label, bytes).await?;
        // Learn the name with a probe that has no KV usage count and no real tag.
        let stem = file
            .and_then(Path::file_stem)
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "upload".into());
        let probe_env = self.env(&stem, None)?;
        let mut probe = self.sandbox().instantiate(&code, probe_env).await?;
        let probed = probe
            .init()
            .await
            .map_err(|e| Error::module(&label, format!("init {e}")))?;
        router::validate(&probed)
            .map_err(|e| Error::module(&label, format!("bad manifest: {e}")))?;
        drop(probe);
        let name = probed.name.clone();
        let existing = self
            .slots
            .read()
            .get(&name)
            .map(|s| (s.hash.clone(), s.module.is_some(), s.file.clone()));
        match expect {
            Expect::Any => {}
            Expect::New if existing.is_some() => {
                return Err(Error::Conflict(format!(
                    "a module named `{name}` exists: swap it instead"
                )));
            }
            Expect::New => {}
            Expect::Swap(want) if want != name => {
                return Err(Error::module(
                    &label,
                    format!("is the module `{name}`, not `{want}`"),
                ));
            }
            Expect::Swap(want) if existing.is_none() => return Err(not_found(want)),
            Expect::Swap(_) => {}
        }
        let target = match (file, &existing) {
            (Some(f), _) => f.to_path_buf(),
            (None, Some((_, _, f))) => f.clone(),
            (None, None) => self.ctx.config.modules_dir.join(format!("{name}.wasm")),
        };
        if let Some((hash, true, _)) = &existing
            && *hash == code.hash
        {
            return Ok(Installed {
                version: probed.version,
                hash: code.hash.clone(),
                name,
                action: "unchanged".into(),
                replaced: None,
            });
        }
        let action = if existing.as_ref().is_some_and(|e| e.1) {
            "swapped"
        } else {
            "added"
        };
        self.start_version(&name, code, &target, bytes, action, write_file)
            .await
    }

    async fn compile(&self, label: &str, bytes: &[u8]) -> Result<ModuleCode> {
        let (sandbox, label, bytes) = (self.sandbox().clone(), label.to_string(), bytes.to_vec());
        tokio::task::spawn_blocking(move || sandbox.compile(&label, &bytes))
            .await
            .map_err(|e| Error::Sandbox(e.to_string()))?
    }

    /// Canary-inits `code` as module `name` and switches to it (or starts it).
    async fn start_version(
        &self,
        name: &str,
        code: ModuleCode,
        file: &Path,
        bytes: &[u8],
        action: &str,
        write_file: bool,
    ) -> Result<Installed> {
        let (namespace, log, tag, persisted) = match self.slots.read().get(name) {
            Some(s) => (
                s.namespace.clone(),
                Some(s.log.clone()),
                Some(s.tag.clone()),
                s.persisted.clone(),
            ),
            None => (None, None, None, Persisted::default()),
        };
        let tag = match tag {
            Some(t) => t,
            None => module_tag(&self.ctx.db, name)?,
        };
        let env = self.env(name, Some((tag.clone(), namespace, log, &persisted)))?;
        let mut first = self.sandbox().instantiate(&code, env.clone()).await?;
        let manifest = first
            .init()
            .await
            .map_err(|e| Error::module(name, format!("init {e}")))?;
        router::validate(&manifest)
            .map_err(|e| Error::module(name, format!("bad manifest: {e}")))?;
        if manifest.name != name {
            return Err(Error::module(
                name,
                format!(
                    "its name changes with its configuration (now `{}`)",
                    manifest.name
                ),
            ));
        }
        let outbox_per_minute = self.grant(&env, &manifest);
        // Past this point nothing can fail for the module's sake: it switches.
        if write_file {
            write_atomically(file, bytes)?;
        }
        self.keep_version(name, &code.hash, bytes);
        let version = Arc::new(Version {
            code: code.clone(),
            env: env.clone(),
            manifest: manifest.clone(),
        });
        let (old_module, old_hash, old_file) = {
            let slots = self.slots.read();
            match slots.get(name) {
                Some(s) => (s.module.clone(), Some(s.hash.clone()), Some(s.file.clone())),
                None => (None, None, None),
            }
        };
        let stats = self
            .slots
            .read()
            .get(name)
            .map(|s| s.stats.clone())
            .unwrap_or_default();
        let module = match &old_module {
            Some(m) => {
                m.switch(version).await;
                m.clone()
            }
            None => Arc::new(LoadedModule::start(
                &self.ctx.shard_deps,
                version,
                first,
                stats.clone(),
            )),
        };
        self.ctx.quotas.set(name, outbox_per_minute);
        let replaced = old_hash.filter(|h| *h != code.hash);
        {
            let mut slots = self.slots.write();
            let slot = slots.entry(name.to_string()).or_insert_with(|| Slot {
                module: None,
                stats,
                file: file.to_path_buf(),
                hash: String::new(),
                manifest: None,
                namespace: None,
                log: env.log.clone(),
                tag: tag.clone(),
                persisted: Persisted::default(),
            });
            slot.module = Some(module);
            slot.hash = code.hash.clone();
            slot.manifest = Some(manifest.clone());
            slot.namespace = Some(env.namespace.clone());
            slot.file = file.to_path_buf();
            slot.persisted.disabled = None;
            if action != "reconfigured" && replaced.is_some() {
                slot.persisted.previous = replaced.clone();
            }
        }
        // A module that moved to another file leaves no stale copy to load at the next start.
        if let Some(old) = old_file
            && old != file
            && write_file
        {
            let _ = std::fs::remove_file(&old);
        }
        self.rebuild_router();
        self.persist()?;
        env.log.host_event(&format!(
            "{action}: version {} ({})",
            manifest.version,
            &code.hash[..12]
        ));
        Ok(Installed {
            name: name.to_string(),
            version: manifest.version,
            hash: code.hash,
            action: action.to_string(),
            replaced,
        })
    }

    /// Sets the module's quotas and capabilities from its manifest, narrowed by the operator;
    /// returns its outbox quota.
    fn grant(&self, env: &ModuleEnv, manifest: &Manifest) -> Option<u32> {
        let config = &self.ctx.config;
        let operator = config.modules.get(&manifest.name);
        // The host's setting is the default and the ceiling: a module cannot grant itself more.
        let narrow = |declared: Option<u64>, host: u64, op: Option<u64>| {
            let declared = declared.map_or(host, |d| d.min(host));
            op.map_or(declared, |o| o.min(declared))
        };
        env.namespace.set_quota(Quota {
            max_bytes: narrow(
                manifest.kv_max_bytes,
                config.sandbox.kv_max_bytes,
                operator.and_then(|m| m.kv_max_bytes),
            ),
            max_keys: narrow(
                manifest.kv_max_keys,
                config.sandbox.kv_max_keys,
                operator.and_then(|m| m.kv_max_keys),
            ),
        });
        *env.capabilities.write() =
            Capabilities::granted(manifest.timers, &manifest.http_hosts, operator);
        match (
            manifest.outbox_per_minute,
            operator.and_then(|m| m.outbox_per_minute),
        ) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Keeps the bytes of a version that served, for rollback.
    fn keep_version(&self, name: &str, hash: &str, bytes: &[u8]) {
        let path = self.version_path(name, hash);
        if path.exists() {
            return;
        }
        if let Err(e) = write_atomically(&path, bytes) {
            tracing::warn!(module = name, "cannot keep this version for rollback: {e}");
        }
    }

    fn version_path(&self, name: &str, hash: &str) -> PathBuf {
        self.ctx
            .config
            .data_dir
            .join("versions")
            .join(name)
            .join(format!("{hash}.wasm"))
    }

    /// Swaps back to the version before the current one (which becomes the one a second
    /// rollback returns to).
    pub async fn rollback(&self, name: &str) -> Result<Installed> {
        let _guard = self.change.lock().await;
        let (previous, file) = {
            let slots = self.slots.read();
            let s = slots.get(name).ok_or_else(|| not_found(name))?;
            (s.persisted.previous.clone(), s.file.clone())
        };
        let previous = previous.ok_or_else(|| {
            Error::module(name, "has no previous version to roll back to".to_string())
        })?;
        let path = self.version_path(name, &previous);
        let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
        let code = self.compile(name, &bytes).await?;
        self.start_version(name, code, &file, &bytes, "rolled back", true)
            .await
    }

    /// Stops the module and forgets it; its KV data stays (a module of that name added later
    /// finds it). Its file is deleted from the modules directory unless `keep_file`.
    pub async fn remove(&self, name: &str, keep_file: bool) -> Result<()> {
        let _guard = self.change.lock().await;
        let slot = self
            .slots
            .write()
            .remove(name)
            .ok_or_else(|| not_found(name))?;
        self.rebuild_router();
        self.ctx.quotas.set(name, None);
        if let Some(m) = &slot.module {
            m.stop().await;
        }
        if !keep_file {
            match std::fs::remove_file(&slot.file) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(Error::io(&slot.file, e)),
            }
        }
        slot.log.host_event("removed");
        self.persist()
    }

    /// Stops routing updates to the module and stops its instances; `why` is shown in the list.
    pub async fn disable(&self, name: &str, why: &str) -> Result<()> {
        let _guard = self.change.lock().await;
        let module = {
            let mut slots = self.slots.write();
            let s = slots.get_mut(name).ok_or_else(|| not_found(name))?;
            s.persisted.disabled = Some(why.to_string());
            s.log.host_event(&format!("disabled: {why}"));
            s.module.take()
        };
        self.rebuild_router();
        self.ctx.quotas.set(name, None);
        if let Some(m) = module {
            m.stop().await;
        }
        self.persist()
    }

    /// Starts a disabled module again from its file.
    pub async fn enable(&self, name: &str) -> Result<Installed> {
        let _guard = self.change.lock().await;
        let (file, running) = {
            let slots = self.slots.read();
            let s = slots.get(name).ok_or_else(|| not_found(name))?;
            (s.file.clone(), s.module.is_some())
        };
        if running {
            return Err(Error::module(name, "is running already".to_string()));
        }
        let bytes = std::fs::read(&file).map_err(|e| Error::io(&file, e))?;
        let code = self.compile(name, &bytes).await?;
        if let Some(s) = self.slots.write().get_mut(name) {
            s.stats
                .quarantined_in_a_row
                .store(0, std::sync::atomic::Ordering::Relaxed);
        }
        self.start_version(name, code, &file, &bytes, "enabled", false)
            .await
    }

    /// Replaces the module's configuration (what it reads with `config::get`) and restarts it
    /// with it through the same canary path; a module that refuses it keeps the old one.
    pub async fn set_config(&self, name: &str, config: toml::Table) -> Result<Installed> {
        let _guard = self.change.lock().await;
        let (file, old) = {
            let mut slots = self.slots.write();
            let s = slots.get_mut(name).ok_or_else(|| not_found(name))?;
            let old = s.persisted.config.replace(config);
            (s.file.clone(), old)
        };
        let running = self.get(name).is_some();
        let result = async {
            if !running {
                return Err(Error::module(
                    name,
                    "is disabled: enable it to apply a configuration".to_string(),
                ));
            }
            let bytes = std::fs::read(&file).map_err(|e| Error::io(&file, e))?;
            let code = self.compile(name, &bytes).await?;
            self.start_version(name, code, &file, &bytes, "reconfigured", false)
                .await
        }
        .await;
        if result.is_err()
            && let Some(s) = self.slots.write().get_mut(name)
        {
            s.persisted.config = old;
        }
        result
    }

    fn rebuild_router(&self) {
        let slots = self.slots.read();
        let mut router = self.router.read().empty_like();
        for (name, s) in slots.iter() {
            let (Some(_), Some(manifest)) = (&s.module, &s.manifest) else {
                continue;
            };
            let extra = self
                .ctx
                .config
                .modules
                .get(name)
                .map(|m| m.admin_commands.clone())
                .unwrap_or_default();
            for lost in router.add(manifest, &s.tag, &extra) {
                tracing::warn!(
                    module = %name,
                    "command /{lost} belongs to another module; it stays there"
                );
            }
        }
        *self.router.write() = Arc::new(router);
    }

    /// The environment of module `name`'s instances. `real` carries its tag, and the
    /// namespace and log it already has (a new version shares them); `None` makes the probe
    /// environment that only runs `init` to learn the name.
    fn env(&self, name: &str, real: Option<RealEnv<'_>>) -> Result<Arc<ModuleEnv>> {
        let config = &self.ctx.config;
        let limits = crate::runtime::kv_limits(config);
        let name: Arc<str> = name.into();
        let db = &self.ctx.db;
        let (tag, namespace, log, persisted) = match real {
            None => (
                String::new(),
                Arc::new(Namespace::for_init(db.raw().clone(), &name, limits)),
                None,
                None,
            ),
            Some((tag, Some(ns), log, p)) => (tag, ns, log, Some(p)),
            Some((tag, None, log, p)) => {
                // The host's default until the manifest is known (see `grant`).
                let quota = Quota {
                    max_bytes: config.sandbox.kv_max_bytes,
                    max_keys: config.sandbox.kv_max_keys,
                };
                let ns = Namespace::open(db.raw().clone(), &name, limits, quota).map_err(|e| {
                    Error::module(&*name, format!("cannot open its KV namespace: {e:?}"))
                })?;
                let timers = db.timer_counts()?.get(&*name).copied().unwrap_or(0);
                ns.add_pending_timers(i64::try_from(timers).unwrap_or(i64::MAX));
                (tag, Arc::new(ns), log, Some(p))
            }
        };
        let module_config = persisted
            .and_then(|p| p.config.clone())
            .or_else(|| config.modules.get(&*name).map(|m| m.config.clone()))
            .unwrap_or_default();
        Ok(Arc::new(ModuleEnv {
            namespace,
            tag,
            config: module_config,
            log: log.unwrap_or_else(|| {
                GuestLog::new(
                    name.clone(),
                    config.sandbox.log_lines_per_minute,
                    config.sandbox.log_lines_kept,
                )
            }),
            tickets: self.ctx.tickets.clone(),
            db: db.clone(),
            recent_tickets: parking_lot::Mutex::default(),
            capabilities: RwLock::default(),
            max_timers: config.sandbox.max_timers,
            http: OutgoingLimits::from_config(&config.http),
            name,
        }))
    }

    /// Stops every module (at shutdown), letting each finish what it has queued.
    pub(crate) async fn stop_all(&self) {
        let modules: Vec<_> = self
            .slots
            .write()
            .values_mut()
            .filter_map(|s| s.module.take())
            .collect();
        for m in modules {
            m.stop().await;
        }
    }
}

fn info(name: &str, s: &Slot) -> ModuleInfo {
    use std::sync::atomic::Ordering::Relaxed;
    let latency = s.stats.latency_us();
    let current = s.module.as_ref().map(|m| m.current());
    ModuleInfo {
        name: name.to_string(),
        version: s
            .manifest
            .as_ref()
            .map(|m| m.version.clone())
            .unwrap_or_default(),
        hash: s.hash.clone(),
        state: if s.module.is_some() {
            "running"
        } else {
            "disabled"
        }
        .into(),
        disabled_reason: s.persisted.disabled.clone(),
        shards: s.module.as_ref().map_or(0, |m| m.shard_count()),
        calls: s.stats.calls.load(Relaxed),
        errors: s.stats.errors.load(Relaxed),
        traps: s.stats.traps.load(Relaxed),
        quarantined: s.stats.quarantined.load(Relaxed),
        latency_p50_us: latency.map(|l| l.0),
        latency_p99_us: latency.map(|l| l.1),
        file: s.file.display().to_string(),
        previous: s.persisted.previous.clone(),
        commands: s
            .manifest
            .as_ref()
            .map(|m| m.commands.iter().map(|c| c.name.clone()).collect())
            .unwrap_or_default(),
        capabilities: current.as_ref().map(|v| v.env.capabilities.read().clone()),
        kv_quota: current.as_ref().map(|v| v.env.namespace.quota()),
    }
}

fn not_found(name: &str) -> Error {
    Error::NotFound(format!("no module named `{name}`"))
}

/// Writes `bytes` to `path` through a temporary file in the same directory and a rename, so a
/// reader (the directory watcher, a restart) never sees half a file.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let tmp = dir.join(format!(
        ".{}.partial",
        path.file_name()
            .map_or_else(|| "module".into(), |f| f.to_string_lossy().into_owned())
    ));
    std::fs::write(&tmp, bytes).map_err(|e| Error::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
}

/// The `*.wasm` files of `dir`, in name order, with their bytes.
pub(crate) fn read_modules_dir(dir: &Path) -> Result<Vec<(PathBuf, Vec<u8>)>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            tracing::warn!(dir = %dir.display(), "modules directory does not exist");
            return Ok(Vec::new());
        }
        Err(e) => return Err(Error::io(dir, e)),
    };
    let mut files: Vec<_> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "wasm"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let bytes = std::fs::read(&p).map_err(|e| Error::io(&p, e))?;
            Ok((p, bytes))
        })
        .collect()
}

/// The module's callback-data tag: short, stable across restarts, never reused.
fn module_tag(db: &Db, name: &str) -> Result<String> {
    use crate::store::META_TAGS;
    let corrupt = |e: serde_json::Error| Error::Corrupt(format!("module tags: {e}"));
    let mut tags: BTreeMap<String, String> = match db.meta(META_TAGS)? {
        Some(b) => serde_json::from_slice(&b).map_err(corrupt)?,
        None => BTreeMap::new(),
    };
    if let Some(t) = tags.get(name) {
        return Ok(t.clone());
    }
    let tag = base36(tags.len() as u64);
    tags.insert(name.to_string(), tag.clone());
    db.set_meta(META_TAGS, &serde_json::to_vec(&tags).map_err(corrupt)?)?;
    Ok(tag)
}

fn base36(mut n: u64) -> String {
    const DIGITS: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut out = Vec::new();
    loop {
        out.push(DIGITS[(n % 36) as usize]);
        n /= 36;
        if n == 0 {
            break;
        }
    }
    out.reverse();
    String::from_utf8(out).expect("ascii")
}
