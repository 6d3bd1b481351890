//! `botbox dev`: the runtime against an in-process fake Telegram, with a chat in the terminal.
//!
//! The person at the terminal is a Telegram user. Each line they type is a message to the bot;
//! a line equal to the label of an inline button on the bot's latest message presses that
//! button (reply-keyboard buttons send their label as a message anyway, as in Telegram). The
//! bot's messages are printed with their keyboards: `[Label]` for reply keyboards, `(Label)`
//! for inline buttons. End of input (Ctrl-D) waits for the bot's last replies, then quits.
//!
//! With `--watch`, the modules' sources are watched: after an edit they are rebuilt and every
//! module that changed is hot-swapped into the running bot (compile, canary `init`, switch, as
//! any swap), so the chat and the modules' data stay. A build error or a refused version is
//! printed and the running version keeps serving.

use std::{
    io::Write,
    path::{Path, PathBuf},
    time::Duration,
};

mod group;
mod inline;
mod media;
mod payments;

use anyhow::Context;
use fake_bot_api::{ChatEntry, ChatEvent, FakeBotApi, FakeConfig, Markup, TestUser};
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::{Config, Runtime, config::Secret};

/// The Telegram user id of the person at the terminal.
const DEV_USER_ID: i64 = 1000;

/// Options of `botbox dev`.
#[derive(Debug, clap::Args)]
pub struct DevArgs {
    /// Load the modules in this directory instead of building the example modules from source.
    #[arg(long, conflicts_with_all = ["project", "watch"])]
    pub modules: Option<PathBuf>,
    /// Build the modules of this cargo project (its directory or `Cargo.toml`) instead of the
    /// example modules.
    #[arg(long)]
    pub project: Option<PathBuf>,
    /// Rebuild and hot-swap the modules when their sources change.
    #[arg(long)]
    pub watch: bool,
    /// Keep the bot's data here; by default a temporary directory, deleted on exit.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Your first name in the chat.
    #[arg(long, default_value = "Dev")]
    pub name: String,
}

/// Runs the simulator until end of input.
pub async fn run(args: DevArgs) -> anyhow::Result<()> {
    let temp = tempfile::tempdir().context("cannot create a temporary directory")?;
    let data_dir = args
        .data_dir
        .clone()
        .unwrap_or_else(|| temp.path().join("data"));
    let project = match (&args.modules, &args.project) {
        (Some(_), _) => None,
        (None, Some(p)) if p.is_dir() => Some(p.join("Cargo.toml")),
        (None, Some(p)) => Some(p.clone()),
        (None, None) => Some(examples_manifest()?),
    };
    let (modules_dir, built) = match (&args.modules, &project) {
        (Some(dir), _) => (dir.clone(), None),
        (None, Some(manifest)) => {
            let (dir, built) = build_project(manifest, temp.path()).await?;
            (dir, Some(built))
        }
        (None, None) => unreachable!("one of the two is set"),
    };
    // Update ids continue above those a kept data dir has seen, as Telegram's would.
    let first_update_id = match &args.data_dir {
        Some(dir) if dir.join("botbox.redb").exists() => {
            let last = crate::store::Db::open(dir)?.last_seen()?.unwrap_or(0);
            i64::try_from(last).unwrap_or(i64::MAX - 1) + 1
        }
        _ => 1,
    };
    let fake = FakeBotApi::start(FakeConfig {
        first_update_id,
        ..FakeConfig::default()
    })?;
    let mut config = Config {
        data_dir,
        modules_dir,
        ..Config::default()
    };
    config.telegram.token = Secret::new(fake.token());
    config.telegram.api_url = fake.api_url().to_string();
    config.telegram.poll_timeout_secs = 1;
    // The person at the terminal runs this bot: operators' commands (the shop's refunds, /modules)
    // are theirs.
    config.telegram.operators = vec![DEV_USER_ID];
    // The examples' shop sells for stars and the guard acts on the members of `:group` (the
    // grants name those modules only; the people in a dev bot are all simulated).
    for (module, grant) in [("shop", "stars"), ("guard", "members")] {
        config.modules.insert(
            module.into(),
            crate::config::ModuleSettings {
                bot_api_grants: vec![grant.into()],
                ..Default::default()
            },
        );
    }
    // The HTTP peers a developer runs next to `botbox dev` are their own: loopback is granted.
    config.http.private_for_every_module = crate::config::http_private::loopback();
    // Modules' HTTP on a free port (a second `botbox dev`, or a bot, may hold the default one),
    // unless BOTBOX_HTTP_ADDR names one; the address is printed below.
    config.http.addr = std::env::var("BOTBOX_HTTP_ADDR").unwrap_or_else(|_| "127.0.0.1:0".into());
    let runtime = Runtime::start_with(config, super::compiling_in_children())
        .await
        .context("cannot start the runtime")?;
    let user = TestUser::new(DEV_USER_ID, args.name.clone());
    let modules = runtime.modules().into_keys().collect::<Vec<_>>().join(", ");
    println!(
        "botbox dev: you are {} chatting with @{} (modules: {modules}).\n\
         Type a message, or a button's label to press it; `:photo <path>` or `:file <path>`\n\
         sends a picture or a file (a caption may follow); `@{} <query>` asks inline and\n\
         `:pick N` sends result N; `:pay` pays the bot's latest invoice; `:group` puts you in a\n\
         group with simulated members. Ctrl-D quits.",
        user.first_name,
        fake.bot_username(),
        fake.bot_username(),
    );
    if let Some(addr) = runtime.http_addr() {
        println!("botbox dev: modules' HTTP is served at http://{addr}/modules/<name>/");
    }
    let watcher = match (&project, built, args.watch) {
        (Some(manifest), Some(built), true) => {
            println!("botbox dev: watching the sources of {}", manifest.display());
            Some(tokio::spawn(watch(
                manifest.clone(),
                built,
                runtime.clone(),
            )))
        }
        _ => None,
    };
    let mut events = fake.subscribe();
    let shown = fake.clone();
    let printer = tokio::spawn(async move {
        while let Ok(event) = events.recv().await {
            print_event(&shown, &event);
        }
    });
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    let mut dev_group = group::DevGroup::default();
    while let Some(line) = lines.next_line().await? {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        match dev_group.handle(&fake, &user, line) {
            Ok(true) => continue,
            Ok(false) => {}
            Err(e) => {
                println!("botbox dev: {e:#}");
                continue;
            }
        }
        if media::send_from_path(&fake, &user, line)? {
            continue;
        }
        match payments::handle(&fake, &user, line) {
            Ok(true) => continue,
            Ok(false) => {}
            Err(e) => {
                println!("botbox dev: {e:#}");
                continue;
            }
        }
        match inline::handle(&fake, &user, line) {
            Ok(true) => continue,
            Ok(false) => {}
            Err(e) => {
                println!("botbox dev: {e:#}");
                continue;
            }
        }
        let pressable = last_bot_message(&fake, user.id).is_some_and(|m| {
            m.inline_button(line)
                .is_some_and(|b| b.callback_data.is_some())
        });
        if pressable {
            fake.press_inline_label(&user, user.id, line)?;
        } else {
            fake.send_text(&user, line);
        }
    }
    wait_until_quiet(&fake, &runtime).await;
    if let Some(w) = watcher {
        w.abort();
    }
    printer.abort();
    runtime.stop().await;
    fake.shutdown();
    Ok(())
}

fn last_bot_message(fake: &FakeBotApi, chat: i64) -> Option<ChatEntry> {
    fake.transcript(chat)
        .into_iter()
        .rev()
        .find(|e| e.from_bot && !e.deleted)
}

/// Waits until every update was fetched and no reply came for a while (at most 30 s).
async fn wait_until_quiet(fake: &FakeBotApi, runtime: &Runtime) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let mut last = (usize::MAX, u64::MAX);
    while tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(700)).await;
        let now = (
            fake.pending_updates(),
            runtime
                .outbox_stats()
                .delivered
                .load(std::sync::atomic::Ordering::Relaxed),
        );
        if now.0 == 0 && now == last && runtime.db().outbox().is_ok_and(|o| o.is_empty()) {
            return;
        }
        last = now;
    }
}

fn print_event(fake: &FakeBotApi, event: &ChatEvent) {
    let mut out = std::io::stdout().lock();
    let _ = match event {
        ChatEvent::BotSent { chat_id, entry } => {
            let who = group::DevGroup::label(*chat_id, DEV_USER_ID);
            let mut shown = entry.clone();
            if let Some(media) =
                media::describe(fake, *chat_id, entry.message_id, &media::files_dir())
            {
                shown.text = if entry.text.is_empty() {
                    media
                } else {
                    format!("{media}\n{}", entry.text)
                };
            } else if let Some(invoice) = payments::describe(fake, *chat_id, entry) {
                shown.text = invoice;
            }
            print_message(&mut out, &who, &shown)
        }
        ChatEvent::BotEdited { chat_id, entry } => {
            let who = group::DevGroup::label(*chat_id, DEV_USER_ID);
            print_message(&mut out, &format!("{who} (edited)"), entry)
        }
        ChatEvent::BotDeleted { entry, .. } => {
            writeln!(
                out,
                "bot deleted: {}",
                entry.text.lines().next().unwrap_or_default()
            )
        }
        ChatEvent::CallbackAnswered { answer, .. } => match &answer.text {
            Some(t) => writeln!(out, "bot (notification): {t}"),
            None => Ok(()),
        },
        ChatEvent::InlineAnswered { answer } => writeln!(out, "{}", inline::show(answer)),
        ChatEvent::CheckoutAnswered { outcome, .. } => {
            writeln!(out, "{}", payments::show(outcome))
        }
    };
    let _ = out.flush();
}

fn print_message(out: &mut impl Write, who: &str, entry: &ChatEntry) -> std::io::Result<()> {
    let mut lines = entry.text.lines();
    writeln!(out, "{who}: {}", lines.next().unwrap_or_default())?;
    let pad = " ".repeat(who.len() + 2);
    for l in lines {
        writeln!(out, "{pad}{l}")?;
    }
    match &entry.reply_markup {
        Some(Markup::Keyboard(k)) => {
            for row in &k.rows {
                let row: Vec<_> = row.iter().map(|l| format!("[{l}]")).collect();
                writeln!(out, "{pad}{}", row.join(" "))?;
            }
        }
        Some(Markup::Inline(rows)) => {
            for row in rows {
                let row: Vec<_> = row.iter().map(|b| format!("({})", b.text)).collect();
                writeln!(out, "{pad}{}", row.join(" "))?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// The example modules' workspace in this source tree.
fn examples_manifest() -> anyhow::Result<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .context("no source tree")?
        .to_path_buf();
    let manifest = root.join("example-modules/Cargo.toml");
    anyhow::ensure!(
        manifest.exists(),
        "the example modules' sources are not at {}; pass --modules DIR or --project DIR",
        manifest.display()
    );
    Ok(manifest)
}

/// Where the modules of `manifest` are built: `$CARGO_TARGET_DIR/botbox-guests` when set (shared
/// with the tests' guest builds); else the example modules beside the host's target dir, and a
/// project of one's own in its own `target/`, where `cargo build --release` puts them too.
fn guest_target(manifest: &Path) -> PathBuf {
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        return PathBuf::from(dir).join("botbox-guests");
    }
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../example-modules/Cargo.toml");
    match (manifest.canonicalize(), examples.canonicalize()) {
        (Ok(m), Ok(e)) if m == e => Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .unwrap_or(Path::new("."))
            .join("target/botbox-guests"),
        _ => manifest.parent().unwrap_or(Path::new(".")).join("target"),
    }
}

async fn build_components(manifest: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let (manifest, target) = (manifest.to_path_buf(), guest_target(manifest));
    Ok(tokio::task::spawn_blocking(move || {
        botbox_guest_build::build(&manifest, &target, botbox_guest_build::Profile::Release)
    })
    .await??)
}

/// What a build was made from: the source files and their modification times when the build
/// started.
struct Built {
    files: Vec<PathBuf>,
    stamp: Vec<Option<std::time::SystemTime>>,
}

/// Builds the modules of `manifest`; returns a directory holding them and what they were built
/// from. Files that change during the build count as changed after it.
async fn build_project(manifest: &Path, temp: &Path) -> anyhow::Result<(PathBuf, Built)> {
    eprintln!(
        "building the modules of {} (first time: about a minute)...",
        manifest.display()
    );
    let (components, built) = build_stamped(manifest, None).await?;
    let dir = temp.join("modules");
    std::fs::create_dir_all(&dir)?;
    for wasm in components {
        let name = wasm.file_name().context("module file name")?;
        std::fs::copy(&wasm, dir.join(name))?;
    }
    Ok((dir, built))
}

/// Builds, with the modification times of `previous`'s files taken before the build.
async fn build_stamped(
    manifest: &Path,
    previous: Option<&Built>,
) -> anyhow::Result<(Vec<PathBuf>, Built)> {
    let before = previous.map(|p| (p.files.clone(), stamp(&p.files)));
    let components = build_components(manifest).await?;
    let files = botbox_guest_build::watched_files(manifest, &components)?;
    let stamp = match before {
        Some((old, stamp)) if old == files => stamp,
        // New files (or the first build): a change during this build may be missed.
        _ => self::stamp(&files),
    };
    Ok((components, Built { files, stamp }))
}

/// The newest modification time among `files` (missing files count as changes too).
fn stamp(files: &[PathBuf]) -> Vec<Option<std::time::SystemTime>> {
    files
        .iter()
        .map(|f| std::fs::metadata(f).and_then(|m| m.modified()).ok())
        .collect()
}

/// Rebuilds the project when one of its source files changes and swaps the modules that did.
async fn watch(manifest: PathBuf, mut built: Built, runtime: Runtime) {
    loop {
        tokio::time::sleep(Duration::from_millis(300)).await;
        if stamp(&built.files) == built.stamp {
            continue;
        }
        // Let an editor finish writing.
        tokio::time::sleep(Duration::from_millis(200)).await;
        println!("botbox dev: sources changed, rebuilding...");
        let components = match build_stamped(&manifest, Some(&built)).await {
            Ok((components, next)) => {
                built = next;
                components
            }
            Err(e) => {
                // Try again at the next change.
                built.stamp = stamp(&built.files);
                println!("botbox dev: the build failed, the running version stays: {e:#}");
                continue;
            }
        };
        for wasm in &components {
            let Ok(bytes) = std::fs::read(wasm) else {
                continue;
            };
            match runtime.registry().install(&bytes, None).await {
                Ok(done) if done.action == crate::modules::registry::Action::Unchanged => {}
                Ok(done) => println!(
                    "botbox dev: {} {} {} (chat and data kept)",
                    done.name, done.version, done.action
                ),
                Err(e) => println!("botbox dev: refused, the running version stays: {e}"),
            }
        }
    }
}
