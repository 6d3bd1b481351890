//! `botbox test-runner`: runs a module's own tests against the real host.
//!
//! A module project's tests are compiled for wasm32-wasip2 like the module (its
//! `.cargo/config.toml` names this command as cargo's runner for that target), so `cargo test`
//! in the project just works. The runner:
//!
//! 1. listens on a loopback port for the harness (crate `botbox-test`, in the test binary),
//! 2. runs the test binary as a WASI command in wasmtime, network access to loopback addresses
//!    only, one fresh instance per test (see `isolate.rs`: wasm cannot unwind, so a failing
//!    test would otherwise end the ones after it),
//! 3. for each `Bot` the tests start (one connection each), starts a real bot: the in-memory
//!    fake Telegram (the same one `botbox dev` uses), a runtime with a fresh data directory, and
//!    the module under test — the `.wasm` cargo built next to the test binary — and carries out
//!    the harness's requests: users send messages and press buttons, the clock moves forward,
//!    the module's KV is read, and the bot *settles* (every update handled, every message
//!    delivered, no timer due) before the harness looks at a chat.
//!
//! The wire protocol is one JSON object per line each way, request then answer
//! ([`Request`], [`Answer`]); the harness and the runner ship together, so it is not versioned.

mod group_ops;
mod isolate;
mod session;
mod wasm;

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::{Deserialize, Serialize};
use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader},
    net::{TcpListener, TcpStream},
};

/// `botbox test-runner`'s arguments (cargo passes them: the test binary, then its own).
#[derive(Debug, clap::Args)]
pub struct TestRunnerArgs {
    /// The test binary cargo built (a wasm32-wasip2 component).
    pub binary: PathBuf,
    /// The test binary's own arguments (test name filters, `--nocapture`, ...).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub args: Vec<String>,
}

/// One request from the harness.
#[derive(Debug, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Request {
    /// Starts the bot (the first request of a connection).
    Start {
        /// The module to load: a crate name (its `.wasm` next to the test binary) or a path;
        /// the package under test when absent.
        module: Option<String>,
        /// The module's settings (`[modules.<name>.config]`) as TOML.
        config: Option<String>,
        /// User ids that are the bot's operators.
        #[serde(default)]
        operators: Vec<i64>,
        /// The Bot API grants the operator gives the module (`bot_api_grants`).
        #[serde(default)]
        grants: Vec<String>,
    },
    /// A user writes to the bot: in their private chat, or in a group.
    Send {
        /// The user's id.
        user: i64,
        /// Their first name.
        name: String,
        /// The text.
        text: String,
        /// The group (its id and title), if not the private chat.
        #[serde(default)]
        group: Option<(i64, String)>,
    },
    /// A user presses the inline button labelled `label` on the newest bot message of the chat
    /// that has it.
    Press {
        /// The user's id.
        user: i64,
        /// Their first name.
        name: String,
        /// The button's label.
        label: String,
        /// The group's id, if not the private chat.
        #[serde(default)]
        group: Option<i64>,
    },
    /// Waits until the bot settles.
    Settle,
    /// A chat (a user's private chat: the user's id; a group: its negative id), after the bot
    /// settles.
    Chat {
        /// The chat's id.
        chat: i64,
    },
    /// Moves the modules' clock forward, then waits until the bot settles.
    Advance {
        /// Milliseconds.
        ms: u64,
    },
    /// Reads a key of the module's KV store.
    KvGet {
        /// The key.
        key: Vec<u8>,
    },
    /// Lists the module's KV entries whose key starts with `prefix`.
    KvScan {
        /// The prefix.
        prefix: Vec<u8>,
    },
    /// The module's recent log lines.
    Logs,
    /// A user types `@bot query` (an inline query); answers the query's id. The user's chat
    /// with the bot is not opened by it: a user may ask inline without ever writing to the bot.
    Inline {
        /// The user's id.
        user: i64,
        /// Their first name.
        name: String,
        /// What they typed after the bot's name.
        query: String,
    },
    /// The bot's answer to an inline query, after the bot settles (`null` until it answered).
    InlineAnswer {
        /// The query's id.
        query_id: String,
    },
    /// A user presses Pay on the bot's newest invoice in their private chat; answers what
    /// became of the payment (`{"outcome": "paid", "charge_id": ..}`, `declined` with the
    /// `reason`, or `timed_out`) once the bot settled.
    Pay {
        /// The user's id.
        user: i64,
        /// Their first name.
        name: String,
    },
    /// A user picks a result of the bot's answer to an inline query.
    Choose {
        /// The user's id.
        user: i64,
        /// Their first name.
        name: String,
        /// The query's id.
        query_id: String,
        /// The result's id.
        result_id: String,
    },
}

/// The answer to one request.
#[derive(Debug, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Answer {
    /// It worked; the value depends on the request.
    Ok(serde_json::Value),
    /// It did not; the reason, for the test's failure message.
    Error(String),
}

/// One message of a chat as the harness sees it.
#[derive(Debug, Serialize)]
pub struct Message {
    /// Its id in the chat.
    pub id: i64,
    /// Whether the bot sent it.
    pub from_bot: bool,
    /// The sender's user id.
    pub from_id: i64,
    /// Its visible text.
    pub text: String,
    /// The labels of its inline buttons, row by row.
    pub buttons: Vec<Vec<String>>,
    /// How many times it was edited.
    pub edits: u32,
    /// Whether it was deleted.
    pub deleted: bool,
}

/// Runs the test binary and returns its exit status.
pub async fn run(args: TestRunnerArgs) -> anyhow::Result<i32> {
    let modules_dir = args
        .binary
        .parent()
        .context("the test binary has no directory")?
        .to_path_buf();
    let default_module = std::env::var("CARGO_PKG_NAME").ok();
    let work = tempfile::tempdir().context("cannot create a temporary directory")?;
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let cache = cache_dir();
    let shared = Shared {
        modules_dir,
        default_module,
        work: work.path().to_path_buf(),
        cache: cache.join("modules"),
    };
    let server = tokio::spawn(serve(listener, shared));
    let status = match wasm::TestProgram::load(&args.binary, addr, &cache.join("tests")) {
        Ok(program) => isolate::run_tests(&program, &args.args).await,
        Err(e) => Err(e),
    };
    server.abort();
    status
}

/// What every connection shares.
#[derive(Debug, Clone)]
struct Shared {
    /// Where cargo put the test binary and the module's `.wasm`.
    modules_dir: PathBuf,
    /// The package under test (`CARGO_PKG_NAME`, which cargo sets for the runner).
    default_module: Option<String>,
    /// The runner's temporary directory: one data dir per bot.
    work: PathBuf,
    /// Where compiled modules are kept between runs.
    cache: PathBuf,
}

impl Shared {
    /// The component file for `module` (see [`Request::Start`]).
    fn module_file(&self, module: Option<&str>) -> anyhow::Result<PathBuf> {
        let name = match module.or(self.default_module.as_deref()) {
            Some(name) => name,
            None => anyhow::bail!(
                "no module named and CARGO_PKG_NAME is not set: run the tests with `cargo test`"
            ),
        };
        if name.ends_with(".wasm") || name.contains('/') {
            return Ok(PathBuf::from(name));
        }
        let file = self
            .modules_dir
            .join(format!("{}.wasm", name.replace('-', "_")));
        if !file.exists() {
            anyhow::bail!(
                "{} does not exist: is `{name}` a cdylib crate of this workspace, built for \
                 wasm32-wasip2? (found: {})",
                file.display(),
                built_components(&self.modules_dir).join(", ")
            );
        }
        Ok(file)
    }
}

/// Where compiled test binaries and modules are kept between runs (a change to either is a
/// new cache entry): `$XDG_CACHE_HOME/botbox/test-runner` or `~/.cache/botbox/test-runner`,
/// or a temporary directory when neither is set.
fn cache_dir() -> PathBuf {
    let base =
        crate::cli::new::xdg_dir("XDG_CACHE_HOME", ".cache").unwrap_or_else(std::env::temp_dir);
    base.join("botbox/test-runner")
}

/// The components in `dir` that are not test binaries (those have a `-<hash>` suffix).
fn built_components(dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut names: Vec<String> = entries
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".wasm") && !n.contains('-'))
        .collect();
    names.sort();
    names
}

async fn serve(listener: TcpListener, shared: Shared) {
    let mut next = 0u32;
    while let Ok((stream, _)) = listener.accept().await {
        next += 1;
        let data_dir = shared.work.join(format!("bot-{next}"));
        tokio::spawn(connection(stream, shared.clone(), data_dir));
    }
}

/// Serves one harness `Bot`: its first request starts the bot, the connection's end stops it.
async fn connection(stream: TcpStream, shared: Shared, data_dir: PathBuf) {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read).lines();
    let mut session: Option<session::Session> = None;
    while let Ok(Some(line)) = lines.next_line().await {
        let answer = match serde_json::from_str::<Request>(&line) {
            Err(e) => match (
                serde_json::from_str::<group_ops::GroupRequest>(&line),
                &session,
            ) {
                (Ok(request), Some(s)) => match s.handle_group(request).await {
                    Ok(value) => Answer::Ok(value),
                    Err(e) => Answer::Error(format!("{e:#}")),
                },
                (Ok(_), None) => Answer::Error("the bot is not started".into()),
                (Err(_), _) => Answer::Error(format!("not a request: {e}")),
            },
            Ok(Request::Start {
                module,
                config,
                operators,
                grants,
            }) => {
                let started = match shared.module_file(module.as_deref()) {
                    Ok(file) => {
                        let cache = shared.cache.clone();
                        session::Session::start(
                            &file,
                            config,
                            (operators, grants),
                            data_dir.clone(),
                            cache,
                        )
                        .await
                    }
                    Err(e) => Err(e),
                };
                match started {
                    Ok(s) => {
                        let name = s.module().to_string();
                        session = Some(s);
                        Answer::Ok(serde_json::json!({ "module": name }))
                    }
                    Err(e) => Answer::Error(format!("{e:#}")),
                }
            }
            Ok(request) => match &session {
                Some(s) => match s.handle(request).await {
                    Ok(value) => Answer::Ok(value),
                    Err(e) => Answer::Error(format!("{e:#}")),
                },
                None => Answer::Error("the bot is not started".into()),
            },
        };
        let mut out = serde_json::to_vec(&answer).unwrap_or_default();
        out.push(b'\n');
        if write.write_all(&out).await.is_err() {
            break;
        }
    }
    if let Some(s) = session {
        s.stop().await;
    }
    let _ = std::fs::remove_dir_all(&data_dir);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_module_is_found_by_its_crate_name_next_to_the_test_binary() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("my_bot.wasm"), b"").unwrap();
        std::fs::write(dir.path().join("bot-0123abcd.wasm"), b"").unwrap();
        let shared = Shared {
            modules_dir: dir.path().to_path_buf(),
            default_module: Some("my-bot".into()),
            work: dir.path().to_path_buf(),
            cache: dir.path().join("cache"),
        };
        assert_eq!(
            shared.module_file(None).unwrap(),
            dir.path().join("my_bot.wasm")
        );
        let missing = shared.module_file(Some("other")).unwrap_err().to_string();
        assert!(missing.contains("other.wasm does not exist"), "{missing}");
        assert!(missing.contains("found: my_bot.wasm"), "{missing}");
    }
}
