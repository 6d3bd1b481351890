//! A fake Telegram Bot API server for botbox's tests and `botbox dev`.
//!
//! [`FakeBotApi::start`] serves, on `127.0.0.1` and a free port, the Bot API methods the
//! runtime calls, with Telegram's JSON shapes, validation, error descriptions and rate limits.
//! Point a real client at [`FakeBotApi::api_url`] with [`FakeBotApi::token`] (teloxide:
//! `Bot::new(token).set_api_url(url)`), make users write and press buttons with the
//! [injection methods](FakeBotApi::send_text), and read each chat back with
//! [`FakeBotApi::transcript`] — waiting for the bot with [`FakeBotApi::wait_until`] rather
//! than sleeping.
//!
//! ```
//! use std::time::Duration;
//! use fake_bot_api::{FakeBotApi, FakeConfig, TestUser};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> anyhow::Result<()> {
//! let fake = FakeBotApi::start(FakeConfig::default())?;
//! let alice = TestUser::alice();
//! let update_id = fake.send_text(&alice, "/start");
//! assert_eq!(fake.pending_updates(), 1);
//! // Run the bot against fake.api_url(), then for instance:
//! // fake.wait_for_bot_text(alice.chat_id(), "Welcome", Duration::from_secs(5)).await?;
//! # let _ = (update_id, Duration::ZERO);
//! # Ok(())
//! # }
//! ```
//!
//! Chats exist once a user wrote in them (or a test [opened](FakeBotApi::open_chat) them): the
//! bot sending to any other chat gets `400 Bad Request: chat not found`, as it would from
//! Telegram. Tests can also [migrate a group](FakeBotApi::migrate_group) and force failures:
//! errors, 429 storms and slow answers ([`FakeBotApi::fail_next`], [`FakeBotApi::fail_all`]).
//!
//! Files: the sends of a photo, video, audio, voice, animation, sticker, video note or
//! document, and the items of sendMediaGroup, take an upload (a multipart part, directly or
//! as `attach://<part>`), the `file_id` of an earlier file of the same kind, or an HTTP URL
//! (not fetched). Uploads are kept for getFile and the download path; a photo's width and
//! height are read from its PNG or JPEG bytes. Read them back with [`FakeBotApi::photos`],
//! [`FakeBotApi::documents`] or, as JSON, [`FakeBotApi::bot_messages`]; count uploads and
//! sends by id with [`FakeBotApi::counters`].

#![deny(missing_docs)]

mod arrange;
mod config;
mod error;
mod groups;
mod inject;
mod inline;
mod json;
mod limits;
mod markup;
mod methods;
mod model;
mod params;
mod payments;
mod read;
mod server;
mod state;
mod text;
mod webhook;

use std::{net::SocketAddr, sync::Arc, time::Duration};

use anyhow::Context as _;
use tokio::{sync::broadcast, task::AbortHandle};

use crate::state::Shared;
pub use crate::{
    config::{Failure, FakeConfig, FileLimits, Limits, WebhookRetry},
    groups::{JoinDecision, Restriction},
    model::{
        AnsweredCallback, BotReaction, ChatEntry, ChatEvent, Counters, Document, InlineAnswer,
        InlineButton, Markup, MemberStatus, Photo, ReplyKeyboard, TestUser,
    },
    payments::{CheckoutOutcome, Invoice, Payment},
    read::StateView,
};

/// A running fake Bot API server. Clones are handles to the same server, which stops with
/// [`shutdown`](Self::shutdown) or when the last handle is dropped.
#[derive(Clone)]
pub struct FakeBotApi {
    inner: Arc<Inner>,
}

struct Inner {
    shared: Arc<Shared>,
    address: SocketAddr,
    tasks: Vec<AbortHandle>,
    stop: tokio::sync::watch::Sender<bool>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        stop(&self.shared, &self.stop, &self.tasks);
    }
}

fn stop(shared: &Shared, signal: &tokio::sync::watch::Sender<bool>, tasks: &[AbortHandle]) {
    // Ends waiting long polls, so the server's graceful shutdown does not wait for them.
    shared.write(|state| state.closed = true);
    signal.send_replace(true);
    tasks.iter().for_each(AbortHandle::abort);
}

impl FakeBotApi {
    /// Starts a server on `127.0.0.1` and a free port, on the current tokio runtime.
    pub fn start(config: FakeConfig) -> anyhow::Result<Self> {
        let runtime = tokio::runtime::Handle::try_current()
            .context("FakeBotApi::start must be called inside a tokio runtime")?;
        let listener = std::net::TcpListener::bind(("127.0.0.1", 0))
            .context("binding the fake Bot API to 127.0.0.1")?;
        listener.set_nonblocking(true)?;
        let address = listener.local_addr()?;
        let listener = {
            let _entered = runtime.enter();
            tokio::net::TcpListener::from_std(listener)?
        };
        let shared = Arc::new(Shared::new(config));
        let (stop, mut stopped) = tokio::sync::watch::channel(false);
        let app = server::router(shared.clone());
        // Not aborted on shutdown: its graceful shutdown also closes the open connections.
        runtime.spawn(async move {
            let shutdown = async move {
                let _ = stopped.wait_for(|stop| *stop).await;
            };
            if let Err(error) = axum::serve(listener, app)
                .with_graceful_shutdown(shutdown)
                .await
            {
                tracing::error!(%error, "fake Bot API server failed");
            }
        });
        let webhook = runtime.spawn(webhook::run(shared.clone()));
        let tasks = vec![webhook.abort_handle()];
        Ok(Self {
            inner: Arc::new(Inner {
                shared,
                address,
                tasks,
                stop,
            }),
        })
    }

    /// The base URL for clients, e.g. `http://127.0.0.1:40123/` (teloxide's `set_api_url`).
    pub fn api_url(&self) -> reqwest::Url {
        reqwest::Url::parse(&format!("http://{}/", self.inner.address))
            .expect("a socket address makes a valid URL")
    }

    /// The address the server listens on.
    pub fn address(&self) -> SocketAddr {
        self.inner.address
    }

    /// The bot token requests must carry.
    pub fn token(&self) -> &str {
        &self.inner.shared.config.token
    }

    /// The bot's username, without `@`.
    pub fn bot_username(&self) -> &str {
        &self.inner.shared.config.bot_username
    }

    /// The bot's user id.
    pub fn bot_id(&self) -> i64 {
        self.inner.shared.config.bot_id()
    }

    /// The configuration the server was started with.
    pub fn config(&self) -> &FakeConfig {
        &self.inner.shared.config
    }

    /// Stops the server for every handle: it stops accepting connections, ends long polls,
    /// closes connections once their requests are answered, and stops webhook deliveries.
    pub fn shutdown(&self) {
        stop(&self.inner.shared, &self.inner.stop, &self.inner.tasks);
    }

    /// Reports what the bot does in any chat from now on. A receiver that falls more than
    /// 1024 events behind loses the oldest (`RecvError::Lagged`).
    pub fn subscribe(&self) -> broadcast::Receiver<ChatEvent> {
        self.inner.shared.subscribe()
    }

    /// Waits until `predicate` holds, re-checking after every change of the fake's state.
    /// On timeout the error shows every chat's transcript.
    ///
    /// The predicate runs under the state's lock: read through the view it is given, not
    /// through `self`.
    pub async fn wait_until(
        &self,
        timeout: Duration,
        predicate: impl Fn(&StateView<'_>) -> bool,
    ) -> anyhow::Result<()> {
        let shared = &self.inner.shared;
        let mut changes = shared.changes();
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if shared.read(|state| predicate(&StateView::new(state))) {
                return Ok(());
            }
            match tokio::time::timeout_at(deadline, changes.changed()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => anyhow::bail!("the fake Bot API was dropped while waiting"),
                Err(_) => anyhow::bail!(
                    "condition not met within {timeout:?}; the chats are:\n{}",
                    self.view(|view| view.describe())
                ),
            }
        }
    }

    /// Waits until a (not deleted) bot message in `chat_id` contains `needle`, and returns it.
    pub async fn wait_for_bot_text(
        &self,
        chat_id: i64,
        needle: &str,
        timeout: Duration,
    ) -> anyhow::Result<ChatEntry> {
        let find = |view: &StateView<'_>| {
            view.transcript(chat_id)
                .into_iter()
                .rev()
                .find(|entry| entry.from_bot && !entry.deleted && entry.text.contains(needle))
        };
        self.wait_until(timeout, |view| find(view).is_some())
            .await
            .with_context(|| format!("waiting for the bot to say {needle:?} in chat {chat_id}"))?;
        self.view(find).context("the message vanished")
    }
}
