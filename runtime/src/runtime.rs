//! The runtime: everything wired together.

use std::{
    collections::{BTreeMap, HashMap, HashSet},
    path::Path,
    sync::Arc,
};

use parking_lot::Mutex;
use redb::ReadableTable;
use teloxide_core::{Bot, prelude::Requester};
use tokio::sync::{broadcast, mpsc, watch};

use crate::{
    Error, Result,
    config::{Config, Mode},
    convert, intake,
    module::{LoadedModule, ModuleStats, Work},
    outbox::{self, metrics::OutboxStats},
    router::{self, Reason, Router},
    sandbox::{GuestLog, ModuleEnv, Sandbox, TicketCounter},
    store::{
        Committed, Committer, Db, META, META_TAGS,
        kv::{KvLimits, Namespace, Quota},
    },
};

/// Options that tests, benchmarks and `botbox dev` change.
#[derive(Debug, Clone)]
pub struct Options {
    /// Start the intake the configuration asks for (polling or webhook). Without it, updates
    /// arrive only through [`Runtime::submit`].
    pub intake: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options { intake: true }
    }
}

pub(crate) struct Inner {
    pub(crate) config: Config,
    pub(crate) db: Arc<Db>,
    pub(crate) committer: Committer,
    pub(crate) bot: Bot,
    pub(crate) router: Router,
    pub(crate) modules: HashMap<String, Arc<LoadedModule>>,
    /// Update ids recorded in a commit that is not durable yet (deduplication).
    pub(crate) in_flight: Mutex<HashSet<u64>>,
    pub(crate) shutdown: watch::Sender<bool>,
    pub(crate) fatal: watch::Receiver<Option<String>>,
    pub(crate) outbox_stats: Arc<OutboxStats>,
    pub(crate) tasks: Mutex<Vec<tokio::task::JoinHandle<()>>>,
    /// Chats whose user blocked the bot (shared with the outbox).
    pub(crate) blocked_chats: Arc<Mutex<HashSet<i64>>>,
}

/// A running bot. Cheap to clone.
#[derive(Clone)]
pub struct Runtime {
    pub(crate) inner: Arc<Inner>,
}

impl Runtime {
    /// Starts the bot described by `config`.
    pub async fn start(config: Config) -> Result<Runtime> {
        Self::start_with(config, Options::default()).await
    }

    /// Starts the bot with `options`.
    pub async fn start_with(config: Config, options: Options) -> Result<Runtime> {
        config.validate()?;
        let db = Arc::new(Db::open(&config.data_dir)?);
        let sandbox = {
            let (limits, cache) = (config.sandbox.clone(), config.data_dir.join("cache"));
            tokio::task::spawn_blocking(move || Sandbox::new(&limits, &cache))
                .await
                .map_err(|e| Error::Sandbox(e.to_string()))??
        };
        let url = reqwest::Url::parse(&config.telegram.api_url)
            .map_err(|e| Error::Config(format!("telegram.api_url: {e}")))?;
        let bot = Bot::new(config.telegram.token.expose()).set_api_url(url);
        let me = bot.get_me().await.map_err(|e| match e {
            teloxide_core::RequestError::Api(teloxide_core::ApiError::InvalidToken) => {
                Error::Config("the Bot API rejected the token".into())
            }
            other => Error::Telegram(other),
        })?;
        let bot_username = me.username.clone().unwrap_or_default();
        tracing::info!(bot = %bot_username, "connected to the Bot API");

        // Update ids older than Telegram's redelivery window are forgotten now and every hour.
        let pruned = db.prune_seen(SEEN_RETENTION)?;
        if pruned > 0 {
            tracing::info!(pruned, "forgot old update ids");
        }
        let (fatal_tx, fatal) = watch::channel(None);
        let (outbox_tx, outbox_rx) = mpsc::unbounded_channel();
        let committer = Committer::start(db.raw().clone(), outbox_tx, fatal_tx)?;
        let tickets = Arc::new(TicketCounter::new(db.last_ticket()?));

        let mut router = Router::new(&bot_username);
        let mut modules = HashMap::new();
        for (file, bytes) in read_modules_dir(&config.modules_dir)? {
            match load_module(&config, &db, &sandbox, &tickets, &committer, &file, &bytes).await {
                Ok(m) if modules.contains_key(m.name()) => {
                    tracing::error!(file = %file, "module `{}` is loaded already; skipped", m.name());
                }
                Ok(m) => {
                    for lost in router.add(&m.manifest, &m.env.tag) {
                        tracing::warn!(
                            module = m.name(),
                            "command /{lost} belongs to a module loaded earlier"
                        );
                    }
                    tracing::info!(module = m.name(), version = %m.manifest.version, file = %file, "module loaded");
                    modules.insert(m.name().to_string(), Arc::new(m));
                }
                Err(e) => tracing::error!(file = %file, "module not loaded: {e}"),
            }
        }
        if modules.is_empty() {
            tracing::warn!(dir = %config.modules_dir.display(), "no modules loaded: the bot will not answer");
        }

        let (shutdown, shutdown_rx) = watch::channel(false);
        let outbox_stats = Arc::new(OutboxStats::default());
        let inner = Arc::new(Inner {
            config,
            db: db.clone(),
            committer: committer.clone(),
            bot: bot.clone(),
            router,
            modules,
            in_flight: Mutex::new(HashSet::new()),
            shutdown,
            fatal,
            outbox_stats: outbox_stats.clone(),
            tasks: Mutex::new(Vec::new()),
            blocked_chats: Arc::default(),
        });
        let runtime = Runtime { inner };

        // Resume updates recorded before a stop, then queued messages, then new updates.
        runtime.resume().await?;
        let initial = db
            .outbox()?
            .into_iter()
            .map(|(seq, bytes)| {
                serde_json::from_slice::<outbox::Entry>(&bytes)
                    .map(|e| (seq, e))
                    .map_err(|e| Error::Corrupt(format!("outbox entry {seq}: {e}")))
            })
            .collect::<Result<Vec<_>>>()?;
        if !initial.is_empty() {
            tracing::info!(
                queued = initial.len(),
                "resuming delivery of queued messages"
            );
        }
        let quotas = runtime
            .inner
            .modules
            .values()
            .filter_map(|m| m.outbox_per_minute.map(|q| (m.name().to_string(), q)))
            .collect();
        let deps = outbox::scheduler::Deps {
            bot,
            db,
            committer,
            stats: outbox_stats,
            blocked: runtime.inner.blocked_chats.clone(),
            quotas,
        };
        let scheduler = tokio::spawn(outbox::scheduler::run(
            deps,
            runtime.inner.config.outbox.clone(),
            initial,
            outbox_rx,
            shutdown_rx.clone(),
        ));
        runtime.inner.tasks.lock().push(scheduler);
        {
            let inner = &runtime.inner;
            let namespaces = inner
                .modules
                .iter()
                .map(|(name, m)| (name.clone(), m.env.namespace.clone()))
                .collect();
            let kv = crate::admin::kv_ops::KvOps::online(
                inner.db.clone(),
                inner.committer.clone(),
                namespaces,
                kv_limits(&inner.config),
            );
            let token =
                crate::admin::token(inner.config.admin.token.expose(), &inner.config.data_dir)?;
            let (addr, task) = crate::admin::serve(
                inner.config.admin.listen,
                token,
                kv,
                inner.db.clone(),
                inner.outbox_stats.clone(),
                shutdown_rx.clone(),
            )
            .await?;
            crate::admin::write_addr(&inner.config.data_dir, addr)?;
            inner.tasks.lock().push(task);
        }
        runtime
            .inner
            .tasks
            .lock()
            .push(tokio::spawn(prune_seen_hourly(
                runtime.inner.db.clone(),
                shutdown_rx.clone(),
            )));
        if runtime.inner.config.backup.interval_secs > 0 {
            let task = tokio::spawn(scheduled_backups(
                runtime.inner.db.clone(),
                runtime.inner.bot.clone(),
                runtime.inner.config.clone(),
                shutdown_rx.clone(),
            ));
            runtime.inner.tasks.lock().push(task);
        }
        if options.intake {
            let task = match runtime.inner.config.telegram.mode {
                Mode::Polling => tokio::spawn(intake::poll(runtime.clone(), shutdown_rx)),
                Mode::Webhook => intake::webhook::start(runtime.clone(), shutdown_rx).await?,
            };
            runtime.inner.tasks.lock().push(task);
        }
        Ok(runtime)
    }

    /// Records `updates` (raw Bot API JSON) durably, then hands them to their modules. Returns
    /// once they are durable: the moment Telegram may be told they arrived.
    pub async fn submit(&self, updates: Vec<serde_json::Value>) -> Result<()> {
        intake::submit(self, updates).await
    }

    /// Updates recorded but not handled yet are handed to their modules again.
    async fn resume(&self) -> Result<()> {
        let pending = self.inner.db.pending_updates()?;
        if !pending.is_empty() {
            tracing::info!(
                count = pending.len(),
                "resuming updates recorded before the last stop"
            );
        }
        for p in pending {
            let Ok(raw) = serde_json::from_str::<serde_json::Value>(&p.raw) else {
                continue;
            };
            let Ok(update) = serde_json::from_str(&p.raw) else {
                continue;
            };
            let routes: Vec<_> = self
                .inner
                .router
                .route(&update)
                .into_iter()
                .filter(|(m, _)| p.modules.contains(m))
                .collect();
            self.dispatch(p.update_id, &raw, &update, routes).await?;
        }
        Ok(())
    }

    pub(crate) async fn dispatch(
        &self,
        update_id: u64,
        raw: &serde_json::Value,
        update: &teloxide_core::types::Update,
        routes: Vec<(String, Reason)>,
    ) -> Result<()> {
        let chat_id = convert::chat_of(update);
        // A user who blocked the bot and writes again has unblocked it.
        if let Some(chat) = chat_id {
            let mut blocked = self.inner.blocked_chats.lock();
            if !blocked.is_empty() {
                blocked.remove(&chat);
            }
        }
        for (name, reason) in routes {
            let Some(module) = self.inner.modules.get(&name) else {
                tracing::warn!(module = %name, update = update_id, "update waits for a module that is not loaded");
                continue;
            };
            let (callback, command) = match &reason {
                Reason::Callback(d) => (Some(d.as_str()), None),
                Reason::Command(c, a) => (None, Some((c.as_str(), a.as_str()))),
                Reason::Wanted => (None, None),
            };
            let wit = convert::update(update, raw, callback, command);
            module
                .submit(Work {
                    update_id,
                    update: wit,
                    chat_id,
                })
                .await?;
        }
        Ok(())
    }

    /// Every durable commit of a handled update, as it happens.
    pub fn subscribe(&self) -> broadcast::Receiver<Committed> {
        self.inner.committer.subscribe()
    }

    /// The modules in service, by name, with their counters.
    pub fn modules(&self) -> BTreeMap<String, Arc<ModuleStats>> {
        self.inner
            .modules
            .iter()
            .map(|(k, m)| (k.clone(), m.stats.clone()))
            .collect()
    }

    /// The outbox's counters.
    pub fn outbox_stats(&self) -> &OutboxStats {
        &self.inner.outbox_stats
    }

    /// The outbox's queue: depth per class, rate, 429s, age of the oldest message.
    pub fn outbox_metrics(&self) -> outbox::metrics::Metrics {
        self.inner.outbox_stats.metrics()
    }

    /// The database (for tools and tests).
    pub fn db(&self) -> &Arc<Db> {
        &self.inner.db
    }

    /// Resolves when the runtime hits an error it cannot continue after (the database failed).
    pub async fn fatal(&self) -> String {
        let mut rx = self.inner.fatal.clone();
        loop {
            if let Some(msg) = rx.borrow().clone() {
                return msg;
            }
            if rx.changed().await.is_err() {
                return "the runtime stopped".into();
            }
        }
    }

    /// Asks intake and delivery to stop, without waiting. Work already committed is resumed
    /// by the next start.
    pub fn shutdown(&self) {
        let _ = self.inner.shutdown.send(true);
    }

    /// Stops intake and delivery, lets the shards finish what they hold, waits until the
    /// database is closed. Other clones of this runtime must be dropped for it to finish.
    pub async fn stop(self) {
        self.shutdown();
        let tasks = std::mem::take(&mut *self.inner.tasks.lock());
        for t in tasks {
            let _ = t.await;
        }
        if let Some(chat) = self.inner.config.backup.telegram_chat_id {
            // A last snapshot at shutdown, so the chat has everything up to the stop.
            let db = self.inner.db.clone();
            let snapshot = tokio::task::spawn_blocking(move || {
                let mut out = Vec::new();
                crate::backup::write_snapshot(db.raw(), &mut out).map(|info| (out, info))
            })
            .await;
            let part_bytes = self.inner.config.backup.telegram_part_bytes;
            let sent = match snapshot {
                Ok(Ok((bytes, info))) => {
                    crate::backup::telegram::send(&self.inner.bot, chat, &bytes, &info, part_bytes)
                        .await
                }
                Ok(Err(e)) => Err(e),
                Err(e) => Err(Error::Sandbox(e.to_string())),
            };
            match sent {
                Ok(m) => tracing::info!(
                    chat,
                    parts = m.parts.len(),
                    "shutdown backup sent to Telegram"
                ),
                Err(e) => tracing::error!("shutdown backup not sent to Telegram: {e}"),
            }
        }
        let thread = self.inner.committer.take_thread();
        let Ok(inner) = Arc::try_unwrap(self.inner) else {
            tracing::warn!("runtime still in use elsewhere; not waiting for the database to close");
            return;
        };
        let Inner {
            modules,
            committer,
            db,
            ..
        } = inner;
        for (_, m) in modules {
            if let Ok(m) = Arc::try_unwrap(m) {
                m.stop().await;
            }
        }
        drop((committer, db));
        if let Some(thread) = thread {
            let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        }
    }
}

/// Serves `app` on `listener` until `shutdown` turns true, letting requests in progress finish.
pub(crate) fn serve_until(
    listener: tokio::net::TcpListener,
    app: axum::Router,
    mut shutdown: watch::Receiver<bool>,
    what: &'static str,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let stop = async move {
            while shutdown.changed().await.is_ok() {
                if *shutdown.borrow() {
                    break;
                }
            }
        };
        if let Err(e) = axum::serve(listener, app)
            .with_graceful_shutdown(stop)
            .await
        {
            tracing::error!("{what} failed: {e}");
        }
    })
}

/// How long an update id is remembered for deduplication (Telegram redelivers for 24 hours).
const SEEN_RETENTION: std::time::Duration = std::time::Duration::from_secs(2 * 24 * 3600);

async fn prune_seen_hourly(db: Arc<Db>, mut shutdown: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(std::time::Duration::from_secs(3600)) => {}
            _ = shutdown.changed() => return,
        }
        let db = db.clone();
        match tokio::task::spawn_blocking(move || db.prune_seen(SEEN_RETENTION)).await {
            Ok(Ok(n)) if n > 0 => tracing::info!(pruned = n, "forgot old update ids"),
            Ok(Err(e)) => tracing::warn!("cannot prune old update ids: {e}"),
            _ => {}
        }
    }
}

/// Writes a snapshot every `backup.interval_secs` and keeps the newest `backup.keep`.
async fn scheduled_backups(
    db: Arc<Db>,
    bot: Bot,
    config: Config,
    mut shutdown: watch::Receiver<bool>,
) {
    let every = std::time::Duration::from_secs(config.backup.interval_secs);
    let dir = config.backup_dir();
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = shutdown.changed() => return,
        }
        let (db, dir, keep) = (db.clone(), dir.clone(), config.backup.keep);
        let result = tokio::task::spawn_blocking(move || -> Result<std::path::PathBuf> {
            std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            let path = dir.join(crate::backup::backup_file_name(now));
            // Written under a temporary name, so a crash never leaves a half file that looks
            // like a backup.
            let partial = path.with_extension("partial");
            let file = std::fs::File::create(&partial).map_err(|e| Error::io(&partial, e))?;
            let mut out = std::io::BufWriter::new(file);
            crate::backup::write_snapshot(db.raw(), &mut out)?;
            let file = out
                .into_inner()
                .map_err(|e| Error::io(&partial, e.into_error()))?;
            file.sync_all().map_err(|e| Error::io(&partial, e))?;
            std::fs::rename(&partial, &path).map_err(|e| Error::io(&path, e))?;
            crate::backup::prune_backups(&dir, keep)?;
            Ok(path)
        })
        .await;
        match result {
            Ok(Ok(path)) => {
                tracing::info!(file = %path.display(), "scheduled backup written");
                if let Some(chat) = config.backup.telegram_chat_id
                    && let Err(e) =
                        send_file_to_telegram(&bot, chat, &path, config.backup.telegram_part_bytes)
                            .await
                {
                    tracing::error!("backup not sent to Telegram: {e}");
                }
            }
            Ok(Err(e)) => tracing::error!("scheduled backup failed: {e}"),
            Err(e) => tracing::error!("scheduled backup failed: {e}"),
        }
    }
}

async fn send_file_to_telegram(bot: &Bot, chat: i64, path: &Path, part_bytes: usize) -> Result<()> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let info = crate::backup::verify(bytes.as_slice())?;
    let manifest = crate::backup::telegram::send(bot, chat, &bytes, &info, part_bytes).await?;
    tracing::info!(
        chat,
        parts = manifest.parts.len(),
        "backup sent to Telegram"
    );
    Ok(())
}

fn read_modules_dir(dir: &Path) -> Result<Vec<(String, Vec<u8>)>> {
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
            Ok((p.display().to_string(), bytes))
        })
        .collect()
}

/// The host's KV size limits from the configuration.
pub fn kv_limits(config: &Config) -> KvLimits {
    KvLimits {
        max_key: config.sandbox.max_key_bytes,
        max_value: config.sandbox.max_value_bytes,
        max_scan: config.sandbox.max_scan_entries,
    }
}

fn env_for(
    config: &Config,
    db: &Arc<Db>,
    tickets: &Arc<TicketCounter>,
    name: &str,
    tag: Option<String>,
) -> Result<Arc<ModuleEnv>> {
    let limits = kv_limits(config);
    let name: Arc<str> = name.into();
    // Without a tag this is the probe that only runs `init` to learn the module's name: it
    // needs no KV usage count (a scan of the whole table).
    let namespace = match &tag {
        None => Namespace::for_init(db.raw().clone(), &name, limits),
        Some(_) => {
            // The host's default until the manifest is known (see `load_module`).
            let quota = Quota {
                max_bytes: config.sandbox.kv_max_bytes,
                max_keys: config.sandbox.kv_max_keys,
            };
            Namespace::open(db.raw().clone(), &name, limits, quota).map_err(|e| {
                Error::module(&*name, format!("cannot open its KV namespace: {e:?}"))
            })?
        }
    };
    Ok(Arc::new(ModuleEnv {
        namespace: Arc::new(namespace),
        tag: tag.unwrap_or_default(),
        config: config
            .modules
            .get(&*name)
            .map(|m| m.config.clone())
            .unwrap_or_default(),
        log: GuestLog::new(name.clone(), config.sandbox.log_lines_per_minute),
        tickets: tickets.clone(),
        db: db.clone(),
        recent_tickets: Mutex::default(),
        name,
    }))
}

/// Compiles a module, runs `init` on a probe instance, checks the manifest, starts its shards.
async fn load_module(
    config: &Config,
    db: &Arc<Db>,
    sandbox: &Arc<Sandbox>,
    tickets: &Arc<TicketCounter>,
    committer: &Committer,
    file: &str,
    bytes: &[u8],
) -> Result<LoadedModule> {
    let code = {
        let (sandbox, file, bytes) = (sandbox.clone(), file.to_string(), bytes.to_vec());
        tokio::task::spawn_blocking(move || sandbox.compile(&file, &bytes))
            .await
            .map_err(|e| Error::Sandbox(e.to_string()))??
    };
    let stem = Path::new(file)
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let probe_env = env_for(config, db, tickets, &stem, None)?;
    let mut probe = sandbox.instantiate(&code, probe_env).await?;
    let manifest = probe
        .init()
        .await
        .map_err(|e| Error::module(file, format!("init {e}")))?;
    router::validate(&manifest).map_err(|e| Error::module(file, format!("bad manifest: {e}")))?;
    let tag = module_tag(db, &manifest.name)?;
    // Now with the settings of its real name: the manifest may depend on them.
    let env = env_for(config, db, tickets, &manifest.name, Some(tag))?;
    let mut first = sandbox.instantiate(&code, env.clone()).await?;
    let manifest = first
        .init()
        .await
        .map_err(|e| Error::module(file, format!("init {e}")))?;
    router::validate(&manifest).map_err(|e| Error::module(file, format!("bad manifest: {e}")))?;
    if *manifest.name != *env.name {
        return Err(Error::module(
            file,
            "its name changes with its configuration",
        ));
    }
    // The operator can narrow the module's quotas, never widen them.
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
    tracing::info!(module = %manifest.name, quota = ?env.namespace.quota(), "KV quota");
    let outbox_per_minute = match (
        manifest.outbox_per_minute,
        operator.and_then(|m| m.outbox_per_minute),
    ) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    let mut module = LoadedModule::start(
        sandbox.clone(),
        code,
        env,
        manifest,
        first,
        &config.sandbox,
        committer.clone(),
    );
    module.outbox_per_minute = outbox_per_minute;
    Ok(module)
}

/// The module's callback-data tag: short, stable across restarts, never reused.
fn module_tag(db: &Db, name: &str) -> Result<String> {
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
    let txn = db.raw().begin_write()?;
    {
        let mut meta = txn.open_table(META)?;
        let bytes = serde_json::to_vec(&tags).map_err(corrupt)?;
        meta.insert(META_TAGS, bytes.as_slice())?;
        let _ = meta.get(META_TAGS)?;
    }
    txn.commit()?;
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
