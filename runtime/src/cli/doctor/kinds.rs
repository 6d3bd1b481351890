//! The doctor's look at what each module asks Telegram for: it runs the module's `init` in a
//! scratch sandbox (no bot, a scratch database) and notes the kinds of update that reach a bot
//! only from chats where it is an administrator (`chat_member`, `chat_join_request`, reactions,
//! boosts), so an operator knows to make the bot an admin where the module should work.

use std::{io::Write, path::Path, sync::Arc};

use super::Report;
use crate::{
    bot_api::update_kinds::needs_admin,
    config::Config,
    sandbox::{GuestLog, ModuleEnv, OutgoingLimits, Sandbox, TicketCounter},
    store::{Db, kv::Namespace, kv_txn::KvNamespace},
};

/// Runs `init` of the compiled module `code` (file `name`) and notes its admin-only kinds.
pub(super) async fn check<W: Write>(
    r: &mut Report<'_, W>,
    config: &Config,
    sandbox: &Sandbox,
    scratch: &Path,
    name: &str,
    code: &crate::sandbox::ModuleCode,
) {
    let db = match Db::open(&scratch.join(format!("probe-{name}"))) {
        Ok(db) => Arc::new(db),
        Err(e) => {
            r.note(&format!(
                "cannot make a scratch database to start {name}: {e}"
            ));
            return;
        }
    };
    let namespace = Arc::new(Namespace::for_init(
        db.raw().clone(),
        name,
        config.kv_limits(),
    ));
    let env = Arc::new(ModuleEnv {
        name: name.into(),
        kv: KvNamespace::Redb(namespace.clone()),
        namespace,
        tag: String::new(),
        config: config
            .modules
            .get(name.trim_end_matches(".wasm"))
            .map(|m| m.config.clone())
            .unwrap_or_default(),
        log: GuestLog::new(name.into(), 60, 10),
        tickets: Arc::new(TicketCounter::new(0)),
        db,
        recent_tickets: Arc::default(),
        capabilities: parking_lot::RwLock::default(),
        max_timers: 0,
        max_timer_bytes: 0,
        queued_outbox: Arc::default(),
        max_queued_outbox_bytes: 0,
        clock: crate::clock::Clock::default(),
        http: OutgoingLimits::from_config(&config.http),
        bot: None,
        reads: Default::default(),
        wanted_kinds: Default::default(),
    });
    let started = match sandbox.instantiate(code, env.clone()).await {
        Ok(mut instance) => instance.init().await.map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    match started {
        Ok(manifest) => {
            let admin: Vec<String> = env
                .wanted_kinds
                .read()
                .iter()
                .filter(|k| needs_admin(k))
                .cloned()
                .collect();
            if !admin.is_empty() {
                r.note(&format!(
                    "module {} asks for {}: Telegram sends these only from chats where the bot is an administrator; make it one where the module should work",
                    manifest.name,
                    admin.join(", ")
                ));
            }
        }
        Err(e) => r.problem(
            &format!("module {name} does not start: {e}"),
            "the bot will refuse it too: see `botbox module logs` or rebuild it",
        ),
    }
}
