//! One bot of a test run: the fake Telegram, a runtime with its own data directory, the module.

use std::{
    path::{Path, PathBuf},
    time::Duration,
};

use anyhow::{Context, bail};
use fake_bot_api::{ChatEntry, FakeBotApi, FakeConfig, Limits, TestUser};
use serde_json::{Value, json};

mod payments;

use super::{Message, Request};
use crate::{
    Config, Runtime,
    clock::Clock,
    config::{ModuleSettings, Secret},
    runtime::Options,
};

/// How long the bot may take to settle before the request fails.
const SETTLE_LIMIT: Duration = Duration::from_secs(30);
/// How often settling is checked.
const SETTLE_POLL: Duration = Duration::from_millis(5);

/// A running bot under test.
pub(super) struct Session {
    fake: FakeBotApi,
    runtime: Runtime,
    clock: Clock,
    module: String,
}

impl Session {
    /// Starts a bot running the component `file`, configured with `config` (TOML), run by
    /// `operators`, with the Bot API `grants` given to the module.
    pub(super) async fn start(
        file: &Path,
        config: Option<String>,
        (operators, grants): (Vec<i64>, Vec<String>),
        data_dir: PathBuf,
        cache_dir: PathBuf,
    ) -> anyhow::Result<Session> {
        let settings = match &config {
            Some(text) => Some(
                toml::from_str::<toml::Table>(text)
                    .context("the module's config is not valid TOML")?,
            ),
            None => None,
        };
        let modules_dir = data_dir.join("modules");
        std::fs::create_dir_all(&modules_dir)
            .with_context(|| format!("cannot create {}", modules_dir.display()))?;
        let file_name = file.file_name().context("the module has no file name")?;
        std::fs::copy(file, modules_dir.join(file_name))
            .with_context(|| format!("cannot read the module {}", file.display()))?;

        // The fake never answers 429 and the outbox sends at once: module tests are about the
        // module's behaviour; the outbox's limits have tests of their own.
        let fake = FakeBotApi::start(FakeConfig {
            limits: Limits::unlimited(),
            ..FakeConfig::default()
        })?;
        let mut c = Config {
            data_dir,
            modules_dir,
            ..Config::default()
        };
        c.telegram.token = Secret::new(fake.token());
        c.telegram.api_url = fake.api_url().to_string();
        c.telegram.poll_timeout_secs = 1;
        c.telegram.operators = operators;
        c.outbox.chat_per_second = 1000.0;
        c.outbox.chat_burst = 1000;
        c.outbox.group_per_minute = 60_000;
        c.outbox.global_per_second = 1000;
        c.sandbox.watch_interval_ms = 0;
        // The HTTP peers a test starts are the developer's own, on loopback: granted.
        c.http.private_for_every_module = crate::config::http_private::loopback();
        // Test binaries run side by side: modules' HTTP on a port of its own.
        c.http.addr = "127.0.0.1:0".into();
        // The config reaches the module's first `init` under the name its crate most likely
        // gives it; if the manifest says otherwise it is set again below.
        let stem = Path::new(file_name)
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        if settings.is_some() || !grants.is_empty() {
            for name in [stem.clone(), stem.replace('_', "-")] {
                c.modules.insert(
                    name,
                    ModuleSettings {
                        config: settings.clone().unwrap_or_default(),
                        bot_api_grants: grants.clone(),
                        ..ModuleSettings::default()
                    },
                );
            }
        }
        let clock = Clock::default();
        let options = Options {
            clock: clock.clone(),
            cache_dir: Some(cache_dir),
            ..Options::default()
        };
        let runtime = match Runtime::start_with(c, options).await {
            Ok(r) => r,
            Err(e) => {
                fake.shutdown();
                return Err(e).context("the bot did not start");
            }
        };
        let module = match runtime.modules().into_keys().next() {
            Some(m) => m,
            None => {
                let why = runtime
                    .db()
                    .meta("modules")
                    .ok()
                    .flatten()
                    .map(|m| String::from_utf8_lossy(&m).into_owned())
                    .unwrap_or_default();
                runtime.stop().await;
                fake.shutdown();
                bail!(
                    "the module {} did not load (see the log above) {why}",
                    file.display()
                );
            }
        };
        if let Some(table) = settings
            && module != stem
            && module != stem.replace('_', "-")
        {
            runtime.registry().set_config(&module, table).await?;
        }
        Ok(Session {
            fake,
            runtime,
            clock,
            module,
        })
    }

    /// The fake Telegram.
    pub(super) fn fake(&self) -> &FakeBotApi {
        &self.fake
    }

    /// Waits until the bot settles.
    pub(super) async fn settled(&self) -> anyhow::Result<()> {
        self.settle().await
    }

    /// The module's name (from its manifest).
    pub(super) fn module(&self) -> &str {
        &self.module
    }

    /// Carries out one request (not `Start`).
    pub(super) async fn handle(&self, request: Request) -> anyhow::Result<Value> {
        match request {
            Request::Start { .. } => bail!("the bot is already started"),
            Request::Send {
                user,
                name,
                text,
                group,
            } => {
                let user = self.user(user, name);
                Ok(json!(match group {
                    Some((id, title)) => self.fake.send_text_in_group(id, &title, &user, text),
                    None => self.fake.send_text(&user, text),
                }))
            }
            Request::Press {
                user,
                name,
                label,
                group,
            } => {
                // A button drawn by a reply still on its way cannot be pressed yet.
                self.settle().await?;
                let user = self.user(user, name);
                let chat = group.unwrap_or(user.id);
                Ok(json!(self.fake.press_inline_label(&user, chat, &label)?))
            }
            Request::Settle => self.settle().await.map(|()| Value::Null),
            Request::Chat { chat } => {
                self.settle().await?;
                let messages: Vec<Message> =
                    self.fake.transcript(chat).iter().map(message).collect();
                Ok(serde_json::to_value(messages)?)
            }
            Request::Advance { ms } => {
                // What is due now happens before the jump, as it would have in real time.
                self.settle().await?;
                self.clock.advance(Duration::from_millis(ms));
                self.settle().await.map(|()| Value::Null)
            }
            Request::KvGet { key } => {
                let ns = self.namespace()?;
                let mut txn = ns.begin();
                let value = ns.get(&mut txn, &key);
                ns.abort(&mut txn);
                Ok(json!(value.map_err(|e| anyhow::anyhow!("{e:?}"))?))
            }
            Request::KvScan { prefix } => {
                let ns = self.namespace()?;
                let mut txn = ns.begin();
                let mut entries = Vec::new();
                let mut after: Option<Vec<u8>> = None;
                loop {
                    let page = ns.scan(&mut txn, &prefix, after.as_deref(), 1000);
                    let (page, next) = match page {
                        Ok(p) => p,
                        Err(e) => {
                            ns.abort(&mut txn);
                            bail!("{e:?}");
                        }
                    };
                    entries.extend(page);
                    match next {
                        Some(n) => after = Some(n),
                        None => break,
                    }
                }
                ns.abort(&mut txn);
                Ok(json!(entries))
            }
            Request::Inline { user, name, query } => {
                let user = TestUser::new(user, name);
                Ok(json!(self.fake.send_inline_query(&user, &query)))
            }
            Request::InlineAnswer { query_id } => {
                self.settle().await?;
                Ok(match self.fake.inline_answer(&query_id) {
                    Some(a) => json!({
                        "results": a.results,
                        "cache_time": a.cache_time,
                        "is_personal": a.is_personal,
                    }),
                    None => Value::Null,
                })
            }
            Request::Choose {
                user,
                name,
                query_id,
                result_id,
            } => {
                let user = TestUser::new(user, name);
                let id = self
                    .fake
                    .choose_inline_result(&user, &query_id, &result_id)?;
                Ok(json!(id))
            }
            Request::Pay { user, name } => self.pay(user, name).await,
            Request::Logs => {
                let lines = self.runtime.registry().logs(&self.module, usize::MAX)?;
                Ok(json!(
                    lines
                        .into_iter()
                        .map(|l| format!("{}: {}", l.level, l.text))
                        .collect::<Vec<_>>()
                ))
            }
        }
    }

    fn user(&self, id: i64, name: String) -> TestUser {
        let user = TestUser::new(id, name);
        self.fake.open_chat(&user);
        user
    }

    fn namespace(&self) -> anyhow::Result<std::sync::Arc<crate::store::kv::Namespace>> {
        self.runtime
            .registry()
            .namespace(&self.module)
            .with_context(|| format!("the module {} is not running", self.module))
    }

    /// Waits until Telegram has handed over every update, each is handled and committed, every
    /// queued message is delivered and no timer is due.
    async fn settle(&self) -> anyhow::Result<()> {
        let deadline = tokio::time::Instant::now() + SETTLE_LIMIT;
        loop {
            let state = self.busy()?;
            if state.is_none() {
                return Ok(());
            }
            if tokio::time::Instant::now() > deadline {
                bail!(
                    "the bot did not settle in {} s: {}",
                    SETTLE_LIMIT.as_secs(),
                    state.unwrap_or_default()
                );
            }
            tokio::time::sleep(SETTLE_POLL).await;
        }
    }

    /// What the bot is still busy with, or `None`.
    fn busy(&self) -> anyhow::Result<Option<String>> {
        let db = self.runtime.db();
        let waiting = self.fake.pending_updates();
        let unhandled = usize::try_from(db.pending_update_count()?).unwrap_or(usize::MAX);
        let queued = db.outbox()?.len();
        let due = db.due_timers(self.clock.now_ms(), 1)?.len();
        // A message leaves the outbox table once its delivery is committed.
        Ok((waiting + unhandled + queued + due > 0).then(|| {
            format!(
                "{waiting} updates not fetched, {unhandled} not handled, {queued} messages \
                     queued, {due} timers due"
            )
        }))
    }

    /// Stops the bot.
    pub(super) async fn stop(self) {
        self.runtime.stop().await;
        self.fake.shutdown();
    }
}

fn message(entry: &ChatEntry) -> Message {
    Message {
        id: entry.message_id,
        from_bot: entry.from_bot,
        from_id: entry.from_id,
        text: entry.text.clone(),
        buttons: entry
            .inline_buttons()
            .iter()
            .map(|row| row.iter().map(|b| b.text.clone()).collect())
            .collect(),
        edits: entry.edits,
        deleted: entry.deleted,
    }
}
