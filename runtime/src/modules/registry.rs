//! The modules of a running bot: what is loaded, what each one is, and what survives a
//! restart. How they change is [`lifecycle`].
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

use parking_lot::{Mutex, RwLock};
use serde::{Deserialize, Serialize};

use crate::{
    Error, Result,
    bindings::types::Manifest,
    config::Config,
    modules::{LoadedModule, ModuleStats, Router, ShardDeps, Version},
    outbox::Quotas,
    sandbox::{GuestLog, ModuleCode, ModuleEnv, OutgoingLimits, Sandbox, TicketCounter},
    store::{Db, kv::Namespace, kv_txn::KvNamespace},
};

mod approval;
mod cluster;
mod info;
mod lifecycle;
mod loading;
mod operator_changes;
mod shared_kv;
mod versions;

use approval::PendingDir;
pub use approval::{Awaiting, Changes, Requests};
pub(crate) use cluster::follow_the_bot;
use info::info;
pub use info::{Action, Installed, ModuleInfo, State};

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
    /// Hash of the version serving (or last serving), kept in `<data_dir>/versions/<name>/`.
    #[serde(default)]
    current: Option<String>,
    /// What the serving version asks for, as the operator let it: a new version asking for more
    /// waits for approval (see [`approval`]).
    #[serde(default)]
    granted: Option<Requests>,
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
    /// The module of this file of the modules directory: a file naming a module that runs from
    /// another file is refused (the watcher, the start).
    File,
    /// Add a new module; a swap waits for the operator's approval (`/install` in Telegram).
    NewOrAsk,
}

/// Everything a change needs.
pub(crate) struct Ctx {
    pub(crate) config: Config,
    pub(crate) db: Arc<Db>,
    pub(crate) tickets: Arc<TicketCounter>,
    pub(crate) shard_deps: ShardDeps,
    pub(crate) quotas: Arc<Quotas>,
    pub(crate) queued_bytes: Arc<crate::outbox::QueuedBytes>,
    pub(crate) clock: crate::clock::Clock,
    /// The Bot API as modules reach it outside the outbox.
    pub(crate) bot: Arc<crate::sandbox::bot_access::BotAccess>,
    /// The bot's store on PostgreSQL, when it is there, and what this node holds of it:
    /// modules' KV namespaces are opened in it, their units fenced.
    pub(crate) pg: Option<(Arc<crate::store::pg::PgStore>, Arc<crate::store::pg::Owned>)>,
    /// This node's name on PostgreSQL (empty on one node).
    pub(crate) node: String,
}

/// The modules of a running bot.
pub struct Registry {
    ctx: Ctx,
    slots: RwLock<BTreeMap<String, Slot>>,
    router: RwLock<Arc<Router>>,
    /// One change at a time per module name. A module's `init` runs under its own name's lock
    /// only, so a slow `init` never holds up a change of another module (the breaker's disable,
    /// an install, a swap).
    changing: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// Serializes what is derived from all the slots (the router, the persisted record), so
    /// changes of different modules never publish a stale view over a newer one.
    publishing: Mutex<()>,
    /// Bumped whenever the routing table changes (see [`Registry::watch_router`]).
    router_changes: tokio::sync::watch::Sender<u64>,
    /// While the start loads the modules directory (side by side): what was kept before the
    /// stop. The record written when one module is up keeps the others' until they load, so
    /// a module loaded later still finds what it was granted and which version served.
    loading: Mutex<Option<BTreeMap<String, Persisted>>>,
    /// Modules' namespaces on PostgreSQL (`shared_kv.rs`), when the store is there.
    shared_kv: Mutex<HashMap<String, Arc<crate::store::pg::kv::PgNamespace>>>,
    /// Modules changed here whose change the database did not take yet (`cluster.rs`).
    unpublished: Mutex<std::collections::BTreeSet<String>>,
    /// Modules whose change made on another node failed here, to be tried again.
    unfollowed: Mutex<std::collections::BTreeSet<String>>,
}

impl Registry {
    pub(crate) fn new(ctx: Ctx, router: Router) -> Registry {
        Registry {
            ctx,
            slots: RwLock::new(BTreeMap::new()),
            router: RwLock::new(Arc::new(router)),
            changing: Mutex::new(HashMap::new()),
            publishing: Mutex::new(()),
            router_changes: tokio::sync::watch::Sender::new(0),
            loading: Mutex::new(None),
            shared_kv: Mutex::new(HashMap::new()),
            unpublished: Mutex::default(),
            unfollowed: Mutex::default(),
        }
    }

    /// Changes whenever the routing table does (a module added, swapped, removed, enabled or
    /// disabled), for what is derived from it, like the bot's command menu.
    pub fn watch_router(&self) -> tokio::sync::watch::Receiver<u64> {
        self.router_changes.subscribe()
    }

    /// Waits until no other change of module `name` runs; the change lasts as long as the guard.
    async fn lock_name(&self, name: &str) -> tokio::sync::OwnedMutexGuard<()> {
        let lock = self
            .changing
            .lock()
            .entry(name.to_string())
            .or_default()
            .clone();
        lock.lock_owned().await
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
        let pending = self.pending();
        self.slots
            .read()
            .iter()
            .map(|(name, s)| ModuleInfo {
                awaiting_approval: pending.describe(name),
                ..info(name, s)
            })
            .collect()
    }

    /// One module, as the admin API shows it.
    pub fn info(&self, name: &str) -> Result<ModuleInfo> {
        self.slots
            .read()
            .get(name)
            .map(|s| ModuleInfo {
                awaiting_approval: self.pending().describe(name),
                ..info(name, s)
            })
            .ok_or_else(|| not_found(name))
    }

    /// The configuration the operator set for the module since it was installed (`None`:
    /// the one of the configuration file).
    pub fn config_of(&self, name: &str) -> Option<toml::Table> {
        self.slots.read().get(name)?.persisted.config.clone()
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
        let _publishing = self.publishing.lock();
        let mut all: BTreeMap<String, Persisted> = self
            .slots
            .read()
            .iter()
            .map(|(n, s)| {
                let mut p = s.persisted.clone();
                p.file = Some(s.file.clone());
                (n.clone(), p)
            })
            .collect();
        if let Some(kept) = self.loading.lock().as_ref() {
            for (name, p) in kept {
                all.entry(name.clone()).or_insert_with(|| p.clone());
            }
        }
        let bytes =
            serde_json::to_vec(&all).map_err(|e| Error::Corrupt(format!("module state: {e}")))?;
        self.ctx.db.set_meta(META_MODULES, &bytes)
    }

    fn rebuild_router(&self) {
        let _publishing = self.publishing.lock();
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
            let kinds = s
                .module
                .as_ref()
                .map(|m| m.current().env.wanted_kinds.read().clone())
                .unwrap_or_default();
            let wants = self
                .ctx
                .config
                .modules
                .get(name)
                .and_then(|m| m.wants.as_deref());
            if let Some(prefix) = self
                .ctx
                .config
                .modules
                .get(name)
                .and_then(|m| m.inline.as_deref())
            {
                router.set_inline_prefix(name, prefix);
            }
            for lost in router.add(manifest, &s.tag, &extra, &kinds, wants) {
                tracing::warn!(
                    module = %name,
                    "command /{lost} belongs to another module; it stays there"
                );
            }
        }
        let undecided = router.undecided_inline();
        if !undecided.is_empty() {
            tracing::warn!(
                "modules {} all answer inline queries and none has `[modules.<name>] inline` set: queries reach none of them until the operator gives one a prefix or `*`",
                undecided.join(", ")
            );
        }
        *self.router.write() = Arc::new(router);
        self.router_changes
            .send_modify(|generation| *generation += 1);
    }

    /// The environment of module `name`'s instances. `real` carries its tag, and the
    /// namespace and log it already has (a new version shares them); `None` makes the probe
    /// environment that only runs `init` to learn the name.
    fn env(&self, name: &str, real: Option<RealEnv<'_>>) -> Result<Arc<ModuleEnv>> {
        let config = &self.ctx.config;
        let limits = config.kv_limits();
        let name: Arc<str> = name.into();
        let db = &self.ctx.db;
        let serving = real.is_some();
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
                let quota = config.kv_quota();
                let ns = Namespace::open(db.raw().clone(), &name, limits, quota).map_err(|e| {
                    Error::module(&*name, format!("cannot open its KV namespace: {e:?}"))
                })?;
                let (timers, bytes) = db.timer_counts()?.get(&*name).copied().unwrap_or((0, 0));
                ns.add_pending_timers(
                    i64::try_from(timers).unwrap_or(i64::MAX),
                    i64::try_from(bytes).unwrap_or(i64::MAX),
                );
                (tag, Arc::new(ns), log, Some(p))
            }
        };
        let module_config = persisted
            .and_then(|p| p.config.clone())
            .or_else(|| config.modules.get(&*name).map(|m| m.config.clone()))
            .unwrap_or_default();
        let kv = match self.shared_kv(&name).filter(|_| serving) {
            Some(ns) => KvNamespace::Pg(ns),
            None => KvNamespace::Redb(namespace.clone()),
        };
        Ok(Arc::new(ModuleEnv {
            kv,
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
            recent_tickets: Arc::default(),
            capabilities: RwLock::default(),
            clock: self.ctx.clock.clone(),
            max_timers: config.sandbox.max_timers,
            max_timer_bytes: config.sandbox.max_timer_bytes,
            queued_outbox: self.ctx.queued_bytes.clone(),
            max_queued_outbox_bytes: config.outbox.module_max_queued_bytes,
            http: OutgoingLimits::from_config(&config.http),
            // The probe that only learns a file's name gets no Bot API.
            bot: serving.then(|| self.ctx.bot.clone()),
            reads: Default::default(),
            wanted_kinds: Default::default(),
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
