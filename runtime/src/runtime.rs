//! The runtime: everything wired together.

use std::{
    collections::{BTreeMap, HashSet},
    path::Path,
    sync::Arc,
};

use parking_lot::Mutex;
use teloxide_core::{Bot, prelude::Requester};
use tokio::sync::{broadcast, mpsc, watch};

use crate::{
    Error, Result,
    config::{Config, Mode},
    convert, intake,
    module::{ModuleStats, ShardDeps, Work, finish_unhandled},
    outbox::{self, metrics::OutboxStats},
    registry::{Ctx, Registry},
    router::{Reason, Router},
    sandbox::{Sandbox, TicketCounter},
    store::{Committed, Committer, Db, kv::KvLimits},
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
    pub(crate) registry: Arc<Registry>,
    /// Update ids recorded in a commit that is not durable yet (deduplication).
    pub(crate) in_flight: Mutex<HashSet<u64>>,
    pub(crate) shutdown: watch::Sender<bool>,
    pub(crate) fatal: watch::Receiver<Option<String>>,
    pub(crate) outbox_stats: Arc<OutboxStats>,
    pub(crate) tasks: Mutex<Vec<tokio::task::JoinHandle<()>>>,
    /// Chats whose user blocked the bot (shared with the outbox).
    pub(crate) blocked_chats: Arc<Mutex<HashSet<i64>>>,
    /// Where modules' HTTP is served, once listening.
    pub(crate) http_addr: Mutex<Option<std::net::SocketAddr>>,
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

        let (events_tx, events_rx) = mpsc::unbounded_channel();
        let quotas = Arc::new(outbox::Quotas::default());
        let registry = Arc::new(Registry::new(
            Ctx {
                config: config.clone(),
                db: db.clone(),
                tickets,
                shard_deps: ShardDeps {
                    sandbox,
                    limits: config.sandbox.clone(),
                    committer: committer.clone(),
                    events: events_tx,
                },
                quotas: quotas.clone(),
            },
            Router::new(&bot_username, &config.telegram.operators),
        ));
        registry.load_dir().await?;

        let (shutdown, shutdown_rx) = watch::channel(false);
        let outbox_stats = Arc::new(OutboxStats::default());
        let inner = Arc::new(Inner {
            config,
            db: db.clone(),
            committer: committer.clone(),
            bot: bot.clone(),
            registry: registry.clone(),
            in_flight: Mutex::new(HashSet::new()),
            shutdown,
            fatal,
            outbox_stats: outbox_stats.clone(),
            tasks: Mutex::new(Vec::new()),
            blocked_chats: Arc::default(),
            http_addr: Mutex::new(None),
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
            let kv = crate::admin::kv_ops::KvOps::online(
                inner.db.clone(),
                inner.committer.clone(),
                inner.registry.clone(),
                kv_limits(&inner.config),
            );
            let token =
                crate::admin::token(inner.config.admin.token.expose(), &inner.config.data_dir)?;
            let (addr, task) = crate::admin::serve(
                inner.config.admin.listen,
                token,
                kv,
                inner.registry.clone(),
                inner.db.clone(),
                inner.outbox_stats.clone(),
                shutdown_rx.clone(),
            )
            .await?;
            crate::admin::write_addr(&inner.config.data_dir, addr)?;
            inner.tasks.lock().push(task);
        }
        runtime.serve_module_http(shutdown_rx.clone()).await?;
        runtime
            .inner
            .tasks
            .lock()
            .push(tokio::spawn(crate::ops::breaker_watch(
                runtime.clone(),
                events_rx,
                shutdown_rx.clone(),
            )));
        runtime
            .inner
            .tasks
            .lock()
            .push(tokio::spawn(crate::timers::run(
                runtime.inner.db.clone(),
                runtime.inner.registry.clone(),
                shutdown_rx.clone(),
            )));
        if runtime.inner.config.sandbox.watch_interval_ms > 0 {
            let task = tokio::spawn(crate::ops::watch_modules_dir(
                runtime.inner.registry.clone(),
                runtime.inner.config.modules_dir.clone(),
                std::time::Duration::from_millis(runtime.inner.config.sandbox.watch_interval_ms),
                shutdown_rx.clone(),
            ));
            runtime.inner.tasks.lock().push(task);
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

    /// Where modules' HTTP is served (`/modules/<name>/...`); `None` when `http.addr` is off
    /// or the address could not be bound.
    pub fn http_addr(&self) -> Option<std::net::SocketAddr> {
        *self.inner.http_addr.lock()
    }

    /// Starts the listener of modules' HTTP. An address that cannot be bound is logged and the
    /// bot runs without it: Telegram traffic matters more than module endpoints.
    async fn serve_module_http(&self, shutdown: watch::Receiver<bool>) -> Result<()> {
        let inner = &self.inner;
        let Some(addr) = inner.config.http.listen()? else {
            return Ok(());
        };
        let served = crate::module_http::serve(
            addr,
            inner.registry.clone(),
            inner.config.http.clone(),
            shutdown,
        )
        .await;
        match served {
            Ok((bound, task)) => {
                tracing::info!(%bound, "serving modules' HTTP under /modules/<name>/");
                let file = inner.config.data_dir.join("http.addr");
                std::fs::write(&file, bound.to_string()).map_err(|e| Error::io(&file, e))?;
                *inner.http_addr.lock() = Some(bound);
                inner.tasks.lock().push(task);
            }
            Err(e) => tracing::error!("modules' HTTP is not served: {e}"),
        }
        Ok(())
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
                .registry
                .router()
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
            let Some(module) = self.inner.registry.get(&name) else {
                self.skip_for(&name, update_id);
                continue;
            };
            let (callback, command) = match &reason {
                Reason::Callback(d) => (Some(d.as_str()), None),
                Reason::Command(c, a) => (None, Some((c.as_str(), a.as_str()))),
                Reason::Wanted => (None, None),
            };
            let wit = convert::update(update, raw, callback, command);
            let work = Work {
                update_id,
                update: wit,
                chat_id,
                timer_id: None,
            };
            if module.submit(work).await.is_err() {
                // Removed or disabled between routing and now.
                self.skip_for(&name, update_id);
            }
        }
        Ok(())
    }

    /// Marks an update routed to a module that is no longer running as handled by it, so it
    /// is not resumed forever.
    fn skip_for(&self, module: &str, update_id: u64) {
        tracing::info!(
            module,
            update = update_id,
            "update skipped: the module is not running"
        );
        if let Some(ns) = self.inner.registry.namespace(module) {
            finish_unhandled(&self.inner.committer, &ns, Some(update_id), None, None);
        }
    }

    /// The modules of the bot.
    pub fn registry(&self) -> &Arc<Registry> {
        &self.inner.registry
    }

    /// Every durable commit of a handled update, as it happens.
    pub fn subscribe(&self) -> broadcast::Receiver<Committed> {
        self.inner.committer.subscribe()
    }

    /// The modules in service, by name, with their counters.
    pub fn modules(&self) -> BTreeMap<String, Arc<ModuleStats>> {
        self.inner.registry.stats()
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
            registry,
            committer,
            db,
            ..
        } = inner;
        registry.stop_all().await;
        drop((registry, committer, db));
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

/// The host's KV size limits from the configuration.
pub fn kv_limits(config: &Config) -> KvLimits {
    KvLimits {
        max_key: config.sandbox.max_key_bytes,
        max_value: config.sandbox.max_value_bytes,
        max_scan: config.sandbox.max_scan_entries,
    }
}
