//! One live instance of a module: a wasmtime store, its limits and deadline.

mod http_call;

pub use http_call::HttpReply;

use std::{future::Future, sync::Arc, time::Duration};

use wasmtime::{Store, StoreLimitsBuilder, UpdateDeadline};

use super::{CallOutput, EPOCH_TICK, HostState, ModuleEnv};
use crate::{
    Error, Result,
    bindings::{self, types},
    config::SandboxConfig,
};

/// Why a call did not return normally.
#[derive(Debug, Clone)]
pub enum CallError {
    /// The module returned an error value: a bug it reported itself. The instance is fine.
    Refused(String),
    /// The instance trapped, ran out of time or memory: it must not be used again.
    Trap(String),
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallError::Refused(m) => write!(f, "returned an error: {m}"),
            CallError::Trap(m) => write!(f, "trapped: {m}"),
        }
    }
}

/// An instance with its store.
pub struct Instance {
    store: Store<HostState>,
    /// Wall-clock time a call may take, waiting included.
    wall_limit: Duration,
    module: bindings::Module,
    /// Its `wasi:http/incoming-handler` export, when it has one.
    http: Option<bindings::incoming_handler::Guest>,
    /// Its `handle-update` runs natively (`sandbox/native.rs`, benchmarks only).
    #[cfg(feature = "native-baseline")]
    native: bool,
}

/// The message of the trap raised when a call runs past its CPU deadline.
pub const DEADLINE_MESSAGE: &str = "CPU time limit of the call exceeded";

impl Instance {
    pub(super) async fn new(
        engine: &wasmtime::Engine,
        code: &super::ModuleCode,
        env: Arc<ModuleEnv>,
        limits: &SandboxConfig,
    ) -> Result<Instance> {
        let store_limits = StoreLimitsBuilder::new()
            .memory_size(usize::try_from(limits.memory_mib << 20).unwrap_or(usize::MAX))
            .table_elements(limits.max_table_elements)
            .instances(32)
            .tables(32)
            .memories(4)
            .trap_on_grow_failure(true)
            .build();
        let max_ticks = (limits.call_timeout_ms / EPOCH_TICK.as_millis() as u64).max(1);
        let name = env.name.to_string();
        let mut store = Store::new(engine, HostState::new(env, store_limits, max_ticks));
        store.limiter(|s| &mut s.limits);
        // Each tick the call has run counts against its budget; between ticks it yields, so
        // a busy module never holds an executor thread for longer than one tick.
        store.epoch_deadline_callback(|mut ctx| {
            let s = ctx.data_mut();
            s.ticks += 1;
            if s.ticks >= s.max_ticks {
                Err(wasmtime::Error::msg(DEADLINE_MESSAGE))
            } else {
                Ok(UpdateDeadline::Yield(1))
            }
        });
        store.set_epoch_deadline(1);
        let fail =
            |e: wasmtime::Error| Error::module(&name, format!("cannot be instantiated: {e:#}"));
        let instance = code
            .pre
            .instance_pre()
            .instantiate_async(&mut store)
            .await
            .map_err(fail)?;
        let module = bindings::Module::new(&mut store, &instance).map_err(fail)?;
        let http = match &code.http {
            Some(indices) => Some(indices.load(&mut store, &instance).map_err(fail)?),
            None => None,
        };
        Ok(Instance {
            store,
            wall_limit: Duration::from_millis(limits.wall_timeout_ms),
            module,
            http,
            #[cfg(feature = "native-baseline")]
            native: false,
        })
    }

    /// The failure of a call that started at `started_ms`, with the last line it wrote.
    fn trap(&self, e: wasmtime::Error, started_ms: u64) -> CallError {
        let mut msg = format!("{e:#}");
        if let Some(trap) = e.downcast_ref::<wasmtime::Trap>() {
            msg = format!("{trap}: {msg}");
        }
        let recent = self.store.data().env.log.recent(started_ms);
        if let Some(last) = recent.last() {
            msg.push_str(&format!(" (last output: {last})"));
        }
        // A trap's message names the module's own functions and quotes its output: printable,
        // and bounded, wherever it is logged or kept.
        CallError::Trap(crate::text::printable(&msg, 4096).into_owned())
    }

    /// The failure of a call stopped at its wall-clock deadline. The instance was left in the
    /// middle of the call and must not be used again, as after a trap.
    fn past_wall_limit(&self) -> CallError {
        CallError::Trap(format!(
            "wall-clock limit of the call ({} ms) exceeded: it was waiting (a sleep, a slow peer), not computing",
            self.wall_limit.as_millis()
        ))
    }

    /// Calls `init`.
    pub async fn init(&mut self) -> Result<types::Manifest, CallError> {
        let started_ms = crate::clock::unix_ms();
        self.store.data_mut().ticks = 0;
        self.store.set_epoch_deadline(1);
        let handler = self.module.botbox_bot_handler();
        let call = handler.call_init(&mut self.store);
        match within(self.wall_limit, call).await {
            None => Err(self.past_wall_limit()),
            Some(Ok(Ok(m))) => Ok(m),
            Some(Ok(Err(e))) => Err(CallError::Refused(refusal(&e))),
            Some(Err(e)) => Err(self.trap(e, started_ms)),
        }
    }

    /// Calls `handle-update` inside a fresh KV transaction. Returns the call's transaction and
    /// requests even when it failed, so the caller can abort the transaction.
    pub async fn handle(
        &mut self,
        update: &types::Update,
        chat_id: Option<i64>,
    ) -> (Result<(), CallError>, CallOutput) {
        let started_ms = crate::clock::unix_ms();
        let own = match &update.kind {
            types::UpdateKind::Message(m) | types::UpdateKind::EditedMessage(m) => {
                vec![(m.chat.id, m.message_id)]
            }
            types::UpdateKind::CallbackQuery(q) => q
                .message
                .iter()
                .map(|m| (m.chat.id, m.message_id))
                .collect(),
            _ => Vec::new(),
        };
        let own_query = match &update.kind {
            types::UpdateKind::Other(kind)
                if matches!(kind.as_str(), "pre_checkout_query" | "shipping_query") =>
            {
                serde_json::from_str::<serde_json::Value>(&update.raw_json)
                    .ok()
                    .and_then(|raw| crate::bot_api::payments::query_id(&raw).map(str::to_string))
            }
            _ => None,
        };
        self.store.data_mut().begin_call(chat_id, own, own_query);
        self.store.set_epoch_deadline(1);
        let result = match self.run_natively(update).await {
            Some(native) => Some(Ok(native)),
            None => {
                let handler = self.module.botbox_bot_handler();
                let call = handler.call_handle_update(&mut self.store, update);
                within(self.wall_limit, call).await
            }
        };
        let output = self
            .store
            .data_mut()
            .end_call()
            .expect("begin_call was called above");
        let result = match result {
            None => Err(self.past_wall_limit()),
            Some(Ok(Ok(()))) => Ok(()),
            Some(Ok(Err(e))) => Err(CallError::Refused(refusal(&e))),
            Some(Err(e)) => Err(self.trap(e, started_ms)),
        };
        (result, output)
    }
}

impl Instance {
    /// The native baseline's handling of `update` when this module runs natively
    /// (`sandbox/native.rs`), else `None`.
    /// This instance, its `handle-update` run natively (`sandbox/native.rs`) when `native`.
    #[cfg(feature = "native-baseline")]
    pub(super) fn natively_if(mut self, native: bool) -> Instance {
        self.native = native;
        self
    }

    #[cfg(feature = "native-baseline")]
    async fn run_natively(&mut self, update: &types::Update) -> Option<Result<(), String>> {
        if !self.native {
            return None;
        }
        let name = self.store.data().env.name.clone();
        Some(super::native::handle(&name, self.store.data_mut(), update).await)
    }

    #[cfg(not(feature = "native-baseline"))]
    async fn run_natively(&mut self, _update: &types::Update) -> Option<Result<(), String>> {
        None
    }
}

/// `call`'s output, or `None` when it did not finish within `limit` (it is then dropped).
async fn within<T>(limit: Duration, call: impl Future<Output = T>) -> Option<T> {
    tokio::time::timeout(limit, call).await.ok()
}

/// The error a module returned, printable and bounded wherever it is logged or kept.
pub(crate) fn refusal(e: &str) -> String {
    crate::text::printable(e, 4096).into_owned()
}
