//! The runtime: everything wired together. It opens the store, starts the sandbox, the
//! registry (which loads the modules), the committer and the outbox, the control plane and the
//! intake the configuration asks for; each part gets the handles it uses, not the runtime.

mod retention;
mod shared_store;
mod tasks;

use std::{
    collections::{BTreeMap, HashSet},
    sync::Arc,
};

use parking_lot::Mutex;
use teloxide_core::{Bot, prelude::Requester};
use tokio::sync::{broadcast, mpsc, watch};

use crate::{
    Error, Result,
    config::{Config, Mode},
    control,
    health::Health,
    intake::{self, Intake},
    modules::{ModuleStats, Registry, Router, ShardDeps, registry::Ctx},
    outbox::{self, metrics::OutboxStats},
    sandbox::{Sandbox, TicketCounter},
    store::{Committed, Committer, Db},
};
use tasks::Tasks;

/// Options that tests, benchmarks and `botbox dev` change.
#[derive(Debug, Clone)]
pub struct Options {
    /// Start the intake the configuration asks for (polling or webhook). Without it, updates
    /// arrive only through [`Runtime::submit`].
    pub intake: bool,
    /// The clock modules see; the module test harness moves it forward by hand.
    pub clock: crate::clock::Clock,
    /// Where compiled modules are cached; `<data_dir>/cache` when absent. The test harness
    /// shares one between the many short-lived bots of a test run.
    pub cache_dir: Option<std::path::PathBuf>,
    /// The program that compiles modules in processes of their own (`botbox compile-module`,
    /// `sandbox/compiler.rs`): `botbox run` and `botbox dev` name themselves. `None` (a
    /// runtime embedded in another program, as in tests) compiles in this process.
    pub compiler: Option<std::path::PathBuf>,
    /// Modules whose `handle-update` runs natively in the host instead of in WebAssembly
    /// (`sandbox/native.rs`): the benchmarks' baseline. Only with the `native-baseline` feature.
    #[cfg(feature = "native-baseline")]
    pub native_modules: Vec<String>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            intake: true,
            clock: crate::clock::Clock::default(),
            cache_dir: None,
            compiler: None,
            #[cfg(feature = "native-baseline")]
            native_modules: Vec::new(),
        }
    }
}

struct Inner {
    config: Arc<Config>,
    db: Arc<Db>,
    committer: Committer,
    bot: Bot,
    registry: Arc<Registry>,
    intake: Intake,
    shutdown: watch::Sender<bool>,
    health: Health,
    outbox_stats: Arc<OutboxStats>,
    tasks: Tasks,
    /// Where modules' HTTP is served, once listening.
    http_addr: Mutex<Option<std::net::SocketAddr>>,
    /// When the start began (the console's uptime).
    started: std::time::Instant,
    /// The bot's store on PostgreSQL, when `[store] url` puts it there.
    pg: Option<Arc<crate::store::pg::PgStore>>,
}

/// A running bot. Cheap to clone.
#[derive(Clone)]
pub struct Runtime {
    inner: Arc<Inner>,
}

impl Runtime {
    /// Starts the bot described by `config`.
    pub async fn start(config: Config) -> Result<Runtime> {
        Self::start_with(config, Options::default()).await
    }

    /// Starts the bot with `options`.
    pub async fn start_with(config: Config, options: Options) -> Result<Runtime> {
        config.validate()?;
        let config = Arc::new(config);
        let db = Arc::new(Db::open_with_cache(
            &config.data_dir,
            config.store.cache_bytes(),
        )?);
        let sandbox = {
            let cache =
                (options.cache_dir.clone()).unwrap_or_else(|| config.data_dir.join("cache"));
            let limits = config.sandbox.clone();
            let compiler = options.compiler.clone();
            #[cfg(feature = "native-baseline")]
            let native = options.native_modules.clone();
            tokio::task::spawn_blocking(move || {
                #[cfg(feature = "native-baseline")]
                return Sandbox::new_with_native(&limits, &cache, native, compiler);
                #[cfg(not(feature = "native-baseline"))]
                Sandbox::new_with_compiler(&limits, &cache, compiler)
            })
            .await??
        };
        let shared = shared_store::open(&config).await?;
        let bot = connect(&config).await?;
        let me = bot.get_me().await.map_err(|e| match e {
            teloxide_core::RequestError::Api(teloxide_core::ApiError::InvalidToken) => {
                Error::Config("the Bot API rejected the token".into())
            }
            other => Error::Telegram(other),
        })?;
        let bot_username = me.username.clone().unwrap_or_default();
        tracing::info!(bot = %bot_username, "connected to the Bot API");

        retention::prune_now(&db)?;
        let health = Health::default();
        let (outbox_tx, outbox_rx) = mpsc::unbounded_channel();
        let committer = Committer::start(db.raw().clone(), outbox_tx, health.sender())?;
        let tickets = Arc::new(match &shared {
            Some(s) => TicketCounter::shared(s.ids.clone()),
            None => TicketCounter::new(db.last_ticket()?),
        });
        let pg = shared.as_ref().map(|s| s.store.clone());
        let owned = shared.as_ref().map(|s| s.owned.clone());

        let (events_tx, events_rx) = mpsc::unbounded_channel();
        let quotas = Arc::new(outbox::Quotas::default());
        let queued_bytes = Arc::new(outbox::QueuedBytes::default());
        let registry = Arc::new(Registry::new(
            Ctx {
                config: (*config).clone(),
                db: db.clone(),
                tickets,
                shard_deps: ShardDeps {
                    sandbox,
                    limits: config.sandbox.clone(),
                    committer: committer.clone(),
                    events: events_tx,
                    health: health.clone(),
                },
                quotas: quotas.clone(),
                queued_bytes: queued_bytes.clone(),
                clock: options.clock.clone(),
                bot: crate::sandbox::bot_access::BotAccess::new(
                    crate::bot_api::transport::Transport::of(&bot),
                ),
                pg: shared.as_ref().map(|s| (s.store.clone(), s.owned.clone())),
                node: shared.as_ref().map(|s| s.node.clone()).unwrap_or_default(),
            },
            Router::new(&bot_username, &config.telegram.operators),
        ));

        let (shutdown, shutdown_rx) = watch::channel(false);
        let (host_commands_tx, host_commands_rx) = mpsc::unbounded_channel();
        let blocked_chats = Arc::new(Mutex::new(HashSet::new()));
        let checkouts = Arc::new(outbox::checkouts::Checkouts::default());
        let intake = Intake::new(intake::Parts {
            db: db.clone(),
            committer: committer.clone(),
            registry: registry.clone(),
            bot: bot.clone(),
            telegram: config.telegram.clone(),
            blocked_chats: blocked_chats.clone(),
            host_commands: host_commands_tx,
            checkouts: checkouts.clone(),
            payments: config.payments.clone(),
            pg: pg.clone(),
            owned: owned.clone(),
        });
        let runtime = Runtime {
            inner: Arc::new(Inner {
                config: config.clone(),
                db: db.clone(),
                committer: committer.clone(),
                bot: bot.clone(),
                registry: registry.clone(),
                intake: intake.clone(),
                shutdown,
                health: health.clone(),
                outbox_stats: Arc::new(OutboxStats::default()),
                tasks: Tasks::new(health.clone(), shutdown_rx.clone()),
                http_addr: Mutex::new(None),
                started: std::time::Instant::now(),
                pg: pg.clone(),
            }),
        };
        let tasks = &runtime.inner.tasks;
        if let Some(shared) = shared {
            shared.store.mark_owners_since().await?;
            tasks.spawn(
                "node lease",
                shared_store::keep_lease(
                    shared.store,
                    (
                        shared.node,
                        config.store.lease(),
                        config.store.renew_every(),
                    ),
                    shared.owned,
                    shutdown_rx.clone(),
                ),
            );
        }

        // Modules' HTTP is bound first: an address the operator chose that someone else holds
        // stops the start before anything runs. Then the admin API (and /healthz): a module
        // whose `init` is slow must not keep the operator out while the modules load.
        runtime.serve_module_http(shutdown_rx.clone()).await?;
        runtime.serve_admin(shutdown_rx.clone()).await?;
        registry.load_dir().await?;
        // On PostgreSQL: the bot's modules, as the other nodes changed them, before any update.
        let modules_seen = registry.join_the_bot().await?;
        // Resume updates recorded before a stop, then queued messages, then new updates.
        intake.resume(config.sandbox.max_attempts).await?;
        let initial = outbox::queued(&db, pg.as_deref(), owned.as_deref()).await?;
        let timers_owned = owned.clone();
        let deps = outbox::scheduler::Deps {
            transport: crate::bot_api::transport::Transport::of(&bot),
            uploads: Arc::default(),
            bot: crate::bot_api::deadline::sending_bot(&bot),
            db: db.clone(),
            committer: committer.clone(),
            pg: pg.clone(),
            owned,
            stats: runtime.inner.outbox_stats.clone(),
            blocked: blocked_chats,
            quotas,
            queued: queued_bytes,
            checkouts,
        };
        tasks.spawn(
            "outbox",
            outbox::scheduler::run(
                deps,
                config.outbox.clone(),
                initial,
                outbox_rx,
                shutdown_rx.clone(),
            ),
        );
        tasks.spawn(
            "circuit breaker",
            control::breaker::run(
                registry.clone(),
                bot.clone(),
                config.clone(),
                events_rx,
                shutdown_rx.clone(),
            ),
        );
        tasks.spawn(
            "operators' commands",
            control::operator_commands::run(
                registry.clone(),
                bot.clone(),
                host_commands_rx,
                shutdown_rx.clone(),
            ),
        );
        tasks.spawn(
            "command menu",
            control::command_menu::run(
                registry.clone(),
                bot.clone(),
                config.telegram.operators.clone(),
                shutdown_rx.clone(),
            ),
        );
        tasks.spawn(
            "timers",
            intake::timers::run(
                db.clone(),
                pg.clone(),
                timers_owned,
                registry.clone(),
                options.clock.clone(),
                shutdown_rx.clone(),
            ),
        );
        if config.sandbox.watch_interval_ms > 0 {
            tasks.spawn(
                "modules directory watcher",
                control::watcher::watch_modules_dir(
                    registry.clone(),
                    config.modules_dir.clone(),
                    std::time::Duration::from_millis(config.sandbox.watch_interval_ms),
                    shutdown_rx.clone(),
                ),
            );
        }
        if pg.is_some() {
            tasks.spawn(
                "modules of the bot",
                crate::modules::registry::follow_the_bot(
                    registry.clone(),
                    modules_seen,
                    shutdown_rx.clone(),
                ),
            );
        }
        tasks.spawn(
            "backlog pump",
            intake::pump_backlogs(intake.clone(), shutdown_rx.clone()),
        );
        if pg.is_some() {
            tasks.spawn(
                "owed updates pickup",
                intake::pump_owed(intake.clone(), shutdown_rx.clone()),
            );
        }
        tasks.spawn(
            "store retention",
            retention::prune_hourly(db.clone(), pg.clone(), shutdown_rx.clone()),
        );
        if config.backup.interval_secs > 0 {
            tasks.spawn(
                "scheduled backups",
                crate::backup::schedule::run(
                    db.clone(),
                    pg.clone(),
                    bot.clone(),
                    (*config).clone(),
                    shutdown_rx.clone(),
                ),
            );
        }
        if options.intake {
            match config.telegram.mode {
                Mode::Polling => {
                    tasks.spawn("polling", intake::polling::poll(intake, shutdown_rx));
                }
                Mode::Webhook => {
                    let server = intake::webhook::start(intake, shutdown_rx).await?;
                    tasks.add("webhook", server);
                }
            }
        }
        Ok(runtime)
    }

    /// Starts the admin API on `admin.listen` and writes its address to the data directory.
    async fn serve_admin(&self, shutdown: watch::Receiver<bool>) -> Result<()> {
        let inner = &self.inner;
        let kv = control::admin::kv_ops::KvOps::online(
            inner.db.clone(),
            inner.committer.clone(),
            inner.registry.clone(),
            inner.config.kv_limits(),
        );
        let data_dir = &inner.config.data_dir;
        let configured = !inner.config.admin.token.expose().is_empty();
        let listen = control::admin::Listen {
            addr: inner.config.admin.listen,
            socket: Some(control::admin::socket_path(data_dir)),
            token: control::admin::token(inner.config.admin.token.expose(), data_dir)?,
            token_dir: (!configured).then(|| data_dir.clone()),
        };
        let sources = control::admin::monitoring::Sources {
            db: inner.db.clone(),
            outbox: inner.outbox_stats.clone(),
            committer: inner.committer.clone(),
            registry: inner.registry.clone(),
            health: inner.health.clone(),
            polling: inner.intake.polling_stats(),
            pg: inner.pg.clone(),
        };
        let parts = control::admin::ConsoleParts {
            intake: inner.intake.clone(),
            config: inner.config.clone(),
            bot: inner.bot.clone(),
            started: inner.started,
            pg: inner.pg.clone(),
        };
        let (addr, task) = control::admin::serve(listen, kv, sources, parts, shutdown).await?;
        control::admin::write_addr(&inner.config.data_dir, addr)?;
        inner.tasks.add("admin API", task);
        Ok(())
    }

    /// Where modules' HTTP is served (`/modules/<name>/...`); `None` when `http.addr` is off.
    pub fn http_addr(&self) -> Option<std::net::SocketAddr> {
        *self.inner.http_addr.lock()
    }

    /// Starts the listener of modules' HTTP. An address that cannot be bound stops the start:
    /// whoever holds it would receive what downloaders and other peers send to the modules.
    async fn serve_module_http(&self, shutdown: watch::Receiver<bool>) -> Result<()> {
        let inner = &self.inner;
        let Some(addr) = inner.config.http.listen()? else {
            return Ok(());
        };
        let (bound, task) = intake::http_gateway::serve(
            addr,
            inner.registry.clone(),
            inner.config.http.clone(),
            shutdown,
        )
        .await?;
        tracing::info!(%bound, "serving modules' HTTP under /modules/<name>/");
        let file = inner.config.data_dir.join("http.addr");
        std::fs::write(&file, bound.to_string()).map_err(|e| Error::io(&file, e))?;
        *inner.http_addr.lock() = Some(bound);
        inner.tasks.add("modules' HTTP", task);
        Ok(())
    }

    /// Records `updates` (raw Bot API JSON) durably, then hands them to their modules. Returns
    /// once they are durable: the moment Telegram may be told they arrived.
    pub async fn submit(&self, updates: Vec<serde_json::Value>) -> Result<()> {
        self.inner.intake.submit(updates).await
    }

    /// The modules of the bot.
    pub fn registry(&self) -> &Arc<Registry> {
        &self.inner.registry
    }

    /// Every durable commit of a handled update, as it happens.
    pub fn subscribe(&self) -> broadcast::Receiver<Committed> {
        self.inner.committer.subscribe()
    }

    /// Durable transactions the group committer made so far (one fsync each).
    pub fn commits(&self) -> u64 {
        self.inner.committer.commits()
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

    /// Resolves when the runtime hits an error it cannot continue after (the database failed,
    /// a background task died).
    pub async fn fatal(&self) -> String {
        self.inner.health.failed().await
    }

    /// Asks intake and delivery to stop, without waiting. Work already committed is resumed
    /// by the next start.
    pub fn shutdown(&self) {
        // A commit waiting for room on a full disk gives up, so that the stop ends.
        self.inner.db.disk().give_up();
        let _ = self.inner.shutdown.send(true);
    }

    /// Stops intake and delivery, lets the shards finish what they hold, waits until the
    /// database is closed. Other clones of this runtime must be dropped for it to finish.
    pub async fn stop(self) {
        self.shutdown();
        control::admin::remove_addr(&self.inner.config.data_dir);
        self.inner.tasks.join_all().await;
        crate::backup::schedule::at_shutdown(
            self.inner.db.clone(),
            self.inner.pg.as_deref(),
            &self.inner.bot,
            &self.inner.config,
        )
        .await;
        let thread = self.inner.committer.take_thread();
        let Ok(inner) = Arc::try_unwrap(self.inner) else {
            tracing::warn!("runtime still in use elsewhere; not waiting for the database to close");
            return;
        };
        let Inner {
            registry,
            committer,
            db,
            intake,
            ..
        } = inner;
        drop(intake);
        registry.stop_all().await;
        if let Err(e) = db.mark_clean_stop() {
            tracing::error!("cannot record the clean stop: {e}");
        }
        drop((registry, committer, db));
        if let Some(thread) = thread {
            let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        }
    }
}

/// The Bot API client for `config`.
async fn connect(config: &Config) -> Result<Bot> {
    let url = reqwest::Url::parse(&config.telegram.api_url)
        .map_err(|e| Error::Config(format!("telegram.api_url: {e}")))?;
    Ok(Bot::new(config.telegram.token.expose()).set_api_url(url))
}
