//! `botbox doctor`: checks everything a bot needs and says, in plain words, what is wrong and
//! what to do about it. It changes nothing: it reads the configuration, asks the Bot API who the
//! bot is, tries the data directory and the database, and compiles each module in a scratch
//! cache. It works whether the bot runs or not (a running bot is asked through `/healthz`).

use std::{
    io::Write,
    path::{Path, PathBuf},
};

use crate::Config;

mod backups;
mod kinds;
mod members;
mod space;

/// The configuration file a command uses: the one given, else `BOTBOX_CONFIG`, else
/// `botbox.toml` in the current directory when it exists.
pub fn config_path(given: Option<PathBuf>) -> Option<PathBuf> {
    given
        .or_else(|| std::env::var_os("BOTBOX_CONFIG").map(PathBuf::from))
        .or_else(|| {
            let p = PathBuf::from("botbox.toml");
            p.exists().then_some(p)
        })
}

struct Report<'a, W: Write> {
    out: &'a mut W,
    problems: usize,
    warnings: usize,
}

impl<W: Write> Report<'_, W> {
    fn ok(&mut self, what: &str) {
        let _ = writeln!(self.out, "  ok       {what}");
    }
    fn note(&mut self, what: &str) {
        let _ = writeln!(self.out, "  note     {what}");
    }
    /// A risk the operator should know of, which does not stop the bot (not counted as a problem).
    fn warn(&mut self, what: &str, fix: &str) {
        self.warnings += 1;
        let _ = writeln!(self.out, "  WARNING  {what}");
        if !fix.is_empty() {
            let _ = writeln!(self.out, "           {fix}");
        }
    }
    fn problem(&mut self, what: &str, fix: &str) {
        self.problems += 1;
        let _ = writeln!(self.out, "  PROBLEM  {what}");
        if !fix.is_empty() {
            let _ = writeln!(self.out, "           {fix}");
        }
    }
}

/// Runs every check, writing one line per finding to `out`; returns how many problems it found.
pub async fn run(config: Option<PathBuf>, out: &mut impl Write) -> anyhow::Result<usize> {
    let mut r = Report {
        out,
        problems: 0,
        warnings: 0,
    };
    let path = config_path(config);
    let _ = writeln!(r.out, "botbox doctor");
    let config = match check_config(&mut r, path.as_deref()) {
        Some(c) => c,
        None => {
            summary(&mut r);
            return Ok(r.problems);
        }
    };
    let token_works = check_telegram(&mut r, &config).await;
    backups::check(&mut r, &config, token_works).await;
    members::check(&mut r, &config, token_works).await;
    let running = check_data_dir(&mut r, &config).await;
    check_modules(&mut r, &config).await;
    if running {
        r.note("the bot is running; changes to the configuration or the modules need a restart (systemctl restart botbox)");
    }
    summary(&mut r);
    Ok(r.problems)
}

fn summary<W: Write>(r: &mut Report<'_, W>) {
    let _ = match r.problems {
        0 if r.warnings > 0 => writeln!(
            r.out,
            "No problems found; {} warning(s) above to read.",
            r.warnings
        ),
        0 => writeln!(r.out, "Everything looks right."),
        1 => writeln!(r.out, "1 problem found."),
        n => writeln!(r.out, "{n} problems found."),
    };
}

fn check_config<W: Write>(r: &mut Report<'_, W>, path: Option<&Path>) -> Option<Config> {
    match path {
        Some(p) if !p.exists() => {
            r.problem(
                &format!("the configuration file {} does not exist", p.display()),
                "give the right file with --config FILE (the installer writes /opt/botbox/botbox.toml)",
            );
            return None;
        }
        Some(p) => r.ok(&format!("configuration file {}", p.display())),
        None => r.note(
            "no configuration file (no --config, no BOTBOX_CONFIG, no botbox.toml here): using the defaults and the BOTBOX_* variables",
        ),
    }
    let config = match Config::load(path) {
        Ok(c) => c,
        Err(e) => {
            r.problem(
                &format!("the configuration cannot be read: {e}"),
                "fix the line it names; botbox.example.toml shows every setting",
            );
            return None;
        }
    };
    // A missing token is the token check's to explain; the other values are checked here.
    let mut probe = config.clone();
    if probe.telegram.token.is_empty() {
        probe.telegram.token = crate::config::Secret::new("0:placeholder");
    }
    match probe.validate() {
        Ok(()) => r.ok("configuration values are valid"),
        Err(e) => r.problem(&format!("{e}"), ""),
    }
    Some(config)
}

/// Returns whether the token works.
async fn check_telegram<W: Write>(r: &mut Report<'_, W>, config: &Config) -> bool {
    let api = &config.telegram.api_url;
    if config.telegram.token.is_empty() {
        r.problem(
            "there is no bot token",
            &format!(
                "put it in the configuration ([telegram] token = \"...\") or BOTBOX_TOKEN. {}",
                crate::cli::setup::WHERE_TOKENS_COME_FROM
            ),
        );
        return false;
    }
    match crate::cli::setup::check_token(api, config.telegram.token.expose()).await {
        crate::cli::setup::TokenCheck::Valid(name) => {
            r.ok(&format!("the Bot API at {api} answers"));
            r.ok(&format!("the token works: the bot is @{name}"));
            true
        }
        crate::cli::setup::TokenCheck::Wrong(why) => {
            r.ok(&format!("the Bot API at {api} answers"));
            r.problem("the bot token is wrong", &why);
            false
        }
        crate::cli::setup::TokenCheck::Unreachable(why) => {
            r.problem(
                &why,
                "check the server's internet connection and DNS (ping api.telegram.org), a firewall or proxy, and telegram.api_url",
            );
            false
        }
    }
}

/// Returns whether the bot is running (its database is in use).
async fn check_data_dir<W: Write>(r: &mut Report<'_, W>, config: &Config) -> bool {
    let dir = &config.data_dir;
    let shown = dir.display();
    if !dir.exists() {
        let parent = dir
            .ancestors()
            .skip(1)
            .find(|p| p.exists())
            .unwrap_or(Path::new("/"));
        if writable(parent) {
            r.note(&format!(
                "the data directory {shown} does not exist yet; the bot creates it at its first start"
            ));
        } else {
            r.problem(
                &format!(
                    "the data directory {shown} does not exist and cannot be created ({} is not writable)",
                    parent.display()
                ),
                "create it and give it to the user the bot runs as (mkdir -p DIR && chown botbox: DIR)",
            );
        }
        return false;
    }
    if !dir.is_dir() {
        r.problem(
            &format!("the data directory {shown} is not a directory"),
            "point data_dir at a directory",
        );
        return false;
    }
    if writable(dir) {
        r.ok(&format!("the data directory {shown} is writable"));
    } else {
        r.problem(
            &format!("the data directory {shown} is not writable by this user"),
            "run the doctor as the bot's user (or root), or fix the owner: chown -R botbox: DIR",
        );
    }
    check_owners(r, dir);
    space::check(r, dir);
    let file = dir.join("botbox.redb");
    if !file.exists() {
        r.note("there is no database yet; the bot creates it at its first start");
        return false;
    }
    let opened = tokio::task::spawn_blocking({
        let file = file.clone();
        move || {
            redb::Database::builder()
                .set_cache_size(1 << 20)
                .open(&file)
                .map(drop)
        }
    })
    .await;
    match opened {
        Ok(Ok(())) => {
            r.ok("the database opens (the bot is not running)");
            false
        }
        Ok(Err(redb::DatabaseError::DatabaseAlreadyOpen)) => {
            r.ok("the database is in use: the bot is running");
            check_running(r, dir).await;
            true
        }
        Ok(Err(e)) => {
            r.problem(
                &format!("the database {} cannot be opened: {e}", file.display()),
                &super::run::way_back(&config.backup_dir()),
            );
            false
        }
        Err(e) => {
            r.problem(&format!("the database check failed: {e}"), "");
            false
        }
    }
}

/// Asks a running bot's `/healthz`.
async fn check_running<W: Write>(r: &mut Report<'_, W>, dir: &Path) {
    let Ok(addr) = std::fs::read_to_string(crate::control::admin::addr_path(dir)) else {
        r.note("the admin API's address is unknown (no admin.addr): cannot ask the bot how it is");
        return;
    };
    let url = format!("http://{}/healthz", addr.trim());
    let answer = reqwest::Client::new()
        .get(&url)
        .timeout(std::time::Duration::from_secs(5))
        .send()
        .await;
    match answer {
        Ok(resp) if resp.status().is_success() => {
            r.ok(&format!("the running bot says it is healthy ({url})"));
        }
        Ok(resp) => {
            let status = resp.status();
            let text = resp.text().await.unwrap_or_default();
            r.problem(
                &format!(
                    "the running bot says it is not healthy ({status}): {}",
                    text.trim()
                ),
                "look at its log: journalctl -u botbox -n 100",
            );
        }
        Err(e) => r.problem(
            &format!("the running bot does not answer at {url}: {e}"),
            "it may be stuck or starting; look at its log: journalctl -u botbox -n 100",
        ),
    }
}

/// Whether this process can create a file in `dir`.
fn writable(dir: &Path) -> bool {
    let probe = dir.join(format!(".botbox-doctor-{}", std::process::id()));
    let ok = std::fs::File::create(&probe).is_ok();
    let _ = std::fs::remove_file(&probe);
    ok
}

/// Files in the data directory owned by another user than the directory itself (typically
/// root, after a command ran with sudo) cannot be written by the bot.
#[cfg(unix)]
fn check_owners<W: Write>(r: &mut Report<'_, W>, dir: &Path) {
    use std::os::unix::fs::MetadataExt;
    let Ok(meta) = std::fs::metadata(dir) else {
        return;
    };
    let owner = meta.uid();
    let strangers: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok())
        .filter(|e| e.metadata().is_ok_and(|m| m.uid() != owner))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    if !strangers.is_empty() {
        r.problem(
            &format!(
                "in the data directory, {} belong(s) to another user than the directory ({}): the bot may fail to write them",
                strangers.join(", "),
                user_name(owner)
            ),
            &format!(
                "give them back: chown -R {}: {}",
                user_name(owner),
                dir.display()
            ),
        );
    }
}

#[cfg(not(unix))]
fn check_owners<W: Write>(_: &mut Report<'_, W>, _: &Path) {}

#[cfg(unix)]
fn user_name(uid: u32) -> String {
    std::fs::read_to_string("/etc/passwd")
        .ok()
        .and_then(|p| {
            p.lines().find_map(|l| {
                let mut f = l.split(':');
                let name = f.next()?;
                let id: u32 = f.nth(1)?.parse().ok()?;
                (id == uid).then(|| name.to_string())
            })
        })
        .unwrap_or_else(|| uid.to_string())
}

/// What the first bytes of a file say it is.
fn wasm_kind(bytes: &[u8]) -> Result<(), &'static str> {
    match bytes {
        [0, b'a', b's', b'm', 0x0d, 0x00, 0x01, 0x00, ..] => Ok(()),
        [0, b'a', b's', b'm', 0x01, 0x00, 0x00, 0x00, ..] => Err(
            "is a plain WebAssembly module, not a component: build it with `cargo build --release --target wasm32-wasip2`",
        ),
        [0, b'a', b's', b'm', ..] => Err("is WebAssembly of an unknown version"),
        _ => Err("is not WebAssembly at all (a module file starts with \\0asm)"),
    }
}

async fn check_modules<W: Write>(r: &mut Report<'_, W>, config: &Config) {
    let dir = &config.modules_dir;
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            r.problem(
                &format!(
                    "the modules directory {} cannot be read: {e}",
                    dir.display()
                ),
                "create it and put module files (*.wasm) in it",
            );
            return;
        }
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "wasm"))
        .collect();
    files.sort();
    if files.is_empty() {
        r.problem(
            &format!("there are no modules (*.wasm) in {}", dir.display()),
            "the bot answers nobody without modules: copy module files there and restart it",
        );
        return;
    }
    // A scratch cache: the doctor may run as another user than the bot and must not leave
    // files the bot cannot overwrite.
    let scratch = match tempfile::tempdir() {
        Ok(d) => d,
        Err(e) => {
            r.problem(&format!("cannot make a scratch directory: {e}"), "");
            return;
        }
    };
    let limits = config.sandbox.clone();
    let cache = scratch.path().to_path_buf();
    let sandbox =
        match tokio::task::spawn_blocking(move || crate::sandbox::Sandbox::new(&limits, &cache))
            .await
        {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => {
                r.problem(&format!("the WebAssembly engine cannot start: {e}"), "");
                return;
            }
            Err(e) => {
                r.problem(&format!("the WebAssembly engine cannot start: {e}"), "");
                return;
            }
        };
    for file in files {
        let name = file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let bytes = match std::fs::read(&file) {
            Ok(b) => b,
            Err(e) => {
                r.problem(
                    &format!("module {name} cannot be read: {e}"),
                    "make it readable by the bot's user",
                );
                continue;
            }
        };
        if let Err(why) = wasm_kind(&bytes) {
            r.problem(&format!("module {name} {why}"), "");
            continue;
        }
        let compiled = tokio::task::spawn_blocking({
            let (sandbox, name) = (sandbox.clone(), name.clone());
            move || sandbox.compile(&name, &bytes)
        })
        .await;
        match compiled {
            Ok(Ok(code)) => {
                r.ok(&format!("module {name} is a botbox component"));
                kinds::check(r, config, &sandbox, scratch.path(), &name, &code).await;
            }
            Ok(Err(e)) => r.problem(
                &format!("module {e}"),
                "it was built for another botbox or is damaged: rebuild it against this version's SDK",
            ),
            Err(e) => r.problem(&format!("module {name}: {e}"), ""),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wasm_kinds_are_told_apart() {
        assert!(wasm_kind(b"\0asm\x0d\x00\x01\x00rest").is_ok());
        assert!(
            wasm_kind(b"\0asm\x01\x00\x00\x00")
                .unwrap_err()
                .contains("not a component")
        );
        assert!(
            wasm_kind(b"MZ\x90\x00")
                .unwrap_err()
                .contains("not WebAssembly")
        );
        assert!(wasm_kind(b"").is_err());
    }
}
