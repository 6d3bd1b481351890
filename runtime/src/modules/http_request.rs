//! HTTP requests to a module. Each request is a unit of work like an update: its KV writes,
//! messages and timers are committed durably, in one transaction, before the response is
//! handed back. Requests are served by a small pool of instances of the module's current
//! version, apart from the shards, so a chat's updates keep their order and no request waits
//! behind a chat's queue. A trap discards the instance, as for updates; the request is not
//! retried (the client sees 500 and may retry).

use std::{sync::Arc, sync::atomic::Ordering, time::Duration, time::Instant};

use bytes::Bytes;
use http_body_util::Full;
use tokio::sync::oneshot;

use super::{
    module::{LoadedModule, Version},
    shard::MAX_CONFLICT_RETRIES,
};
use crate::{
    config::HttpConfig,
    sandbox::{CallError, HttpReply, Instance},
    store::kv::Applied,
};

/// Idle instances kept per module for HTTP.
const MAX_POOLED: usize = 4;

/// Why a request got no answer from the module.
#[derive(Debug)]
pub enum HttpFailure {
    /// The module's current version does not export `wasi:http/incoming-handler`.
    NotServed,
    /// The module failed (trap, deadline, bad response) or its effects could not be committed.
    Failed(String),
}

/// The idle HTTP instances of one module, each with the version it runs.
#[derive(Default)]
pub(super) struct HttpPool(parking_lot::Mutex<Vec<(Arc<Version>, Instance)>>);

impl HttpPool {
    fn take(&self, version: &Arc<Version>) -> Option<Instance> {
        let mut idle = self.0.lock();
        // Instances of a version swapped out are dropped here.
        idle.retain(|(v, _)| Arc::ptr_eq(v, version));
        idle.pop().map(|(_, i)| i)
    }

    fn give_back(&self, version: Arc<Version>, instance: Instance) {
        let mut idle = self.0.lock();
        if idle.len() < MAX_POOLED {
            idle.push((version, instance));
        }
    }
}

impl LoadedModule {
    /// Serves one request whose path is already relative to the module's mount.
    pub async fn serve_http(
        &self,
        parts: &http::request::Parts,
        body: Bytes,
        config: &HttpConfig,
    ) -> Result<HttpReply, HttpFailure> {
        let mut conflicts = 0;
        let mut lost = super::effects::Lost::default();
        loop {
            let version = self.current();
            if !version.code.serves_http() {
                return Err(HttpFailure::NotServed);
            }
            let env = version.env.clone();
            let mut instance = match self.http_pool.take(&version) {
                Some(i) => i,
                None => self.fresh(&version).await.map_err(HttpFailure::Failed)?,
            };
            let mut request = http::Request::new(Full::new(body.clone()));
            *request.method_mut() = parts.method.clone();
            *request.uri_mut() = parts.uri.clone();
            *request.headers_mut() = parts.headers.clone();
            self.stats.calls.fetch_add(1, Ordering::Relaxed);
            let started = Instant::now();
            let wall = Duration::from_millis(config.request_timeout_ms);
            let (result, mut out) = instance
                .serve_http(request, config.max_response_bytes, wall)
                .await;
            self.stats.record_latency(started);
            let reply = match result {
                Ok(reply) => reply,
                Err(CallError::Refused(msg)) => {
                    env.kv.abort(&mut out.txn).await;
                    self.stats.errors.fetch_add(1, Ordering::Relaxed);
                    env.log.line("warn", &format!("HTTP request failed: {msg}"));
                    self.http_pool.give_back(version, instance);
                    return Err(HttpFailure::Failed(msg));
                }
                Err(CallError::Trap(msg)) => {
                    env.kv.abort(&mut out.txn).await;
                    self.stats.traps.fetch_add(1, Ordering::Relaxed);
                    tracing::error!(module = %env.name, "module stopped during an HTTP request: {msg}");
                    env.log
                        .host_event(&format!("HTTP request: module stopped: {msg}"));
                    return Err(HttpFailure::Failed(msg));
                }
            };
            let (done, durable) = oneshot::channel();
            let applied = super::effects::commit_call(
                &self.deps.committer,
                &env,
                &mut out,
                None,
                None,
                Some(done),
                None,
                &mut lost,
            )
            .await;
            self.http_pool.give_back(version, instance);
            match applied.map_err(HttpFailure::Failed)? {
                Applied::Ok(..) => {
                    // The response leaves only once the request's effects are durable.
                    return match durable.await {
                        Ok(Ok(())) => Ok(reply),
                        Ok(Err(e)) => Err(HttpFailure::Failed(format!("commit failed: {e}"))),
                        Err(_) => Err(HttpFailure::Failed("the runtime is stopping".into())),
                    };
                }
                Applied::Conflict => {
                    // Another call changed what this one read: run it again, as for updates.
                    self.stats.conflicts.fetch_add(1, Ordering::Relaxed);
                    conflicts += 1;
                    if conflicts >= MAX_CONFLICT_RETRIES {
                        return Err(HttpFailure::Failed("endless KV conflicts".into()));
                    }
                }
            }
        }
    }

    /// A fresh instance of `version` that passed `init`.
    async fn fresh(&self, version: &Arc<Version>) -> Result<Instance, String> {
        let mut fresh = self
            .deps
            .sandbox
            .instantiate(&version.code, version.env.clone())
            .await
            .map_err(|e| e.to_string())?;
        fresh.init().await.map_err(|e| format!("init {e}"))?;
        Ok(fresh)
    }
}
