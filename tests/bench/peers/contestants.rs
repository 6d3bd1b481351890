//! The contestants of the peers bench: botbox's release binary with the clicker module, and the
//! clicker written with aiogram, grammY and teloxide (tests/bench/peers/), each in memory and on
//! SQLite. Preparing a peer installs or builds it under `<target>/peers` (a virtualenv, an
//! `npm ci`, a `cargo build --release`); a peer whose toolchain is missing is skipped with the
//! reason. Each contestant runs as a process of its own, so its RSS is its own.

use std::{
    path::{Path, PathBuf},
    process::{Command, Stdio},
};

const BOTBOX: &str = env!("CARGO_BIN_EXE_botbox");
const PEERS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/bench/peers");

/// A bot to start: its program, arguments and working directory.
pub struct Contestant {
    /// `botbox`, or `<framework>-<memory|sqlite>`.
    pub name: String,
    pub program: PathBuf,
    pub args: Vec<String>,
    pub dir: PathBuf,
    /// Whether what it acknowledged survives `kill -9`.
    pub durable: bool,
}

/// `<target>/peers`: beside the bench's own build (`<target>/release/deps/peers-…`).
pub fn work_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the bench's path");
    let target = exe.ancestors().nth(3).expect("<target>/release/deps/<exe>");
    target.join("peers")
}

/// botbox running the clicker from `tests/artifacts`, with a configuration in `root` against
/// the fake at `api_url`. The outbox's limits are raised: the peers do not limit themselves.
pub fn botbox(root: &Path, token: &str, api_url: &str) -> Contestant {
    let config = crate::support::clicker_toml(root, token, api_url, "");
    Contestant {
        name: "botbox".into(),
        // Another build of botbox, to compare two side by side (`BOTBOX_BENCH_BIN`).
        program: std::env::var_os("BOTBOX_BENCH_BIN").map_or_else(|| BOTBOX.into(), Into::into),
        args: vec![
            "run".into(),
            "--config".into(),
            config.display().to_string(),
        ],
        dir: root.to_path_buf(),
        durable: true,
    }
}

/// The peers of `framework` (`aiogram`, `grammy` or `teloxide`), prepared; or why not.
pub fn peers(framework: &str) -> Result<Vec<Contestant>, String> {
    let work = work_dir();
    std::fs::create_dir_all(&work).map_err(|e| format!("{}: {e}", work.display()))?;
    let (program, dir, files): (PathBuf, PathBuf, [&str; 2]) = match framework {
        "aiogram" => (
            aiogram(&work)?,
            Path::new(PEERS).join("aiogram"),
            ["clicker_memory.py", "clicker_sqlite.py"],
        ),
        "grammy" => (
            which("node").ok_or("node is not installed")?,
            grammy(&work)?,
            ["clicker_memory.js", "clicker_sqlite.js"],
        ),
        "teloxide" => {
            let release = teloxide(&work)?;
            return Ok(["memory", "sqlite"]
                .into_iter()
                .map(|storage| Contestant {
                    name: format!("teloxide-{storage}"),
                    program: release.join(format!("clicker-{storage}")),
                    args: Vec::new(),
                    dir: work.clone(),
                    durable: storage == "sqlite",
                })
                .collect());
        }
        other => return Err(format!("no peer named {other}")),
    };
    Ok(files
        .into_iter()
        .zip(["memory", "sqlite"])
        .map(|(file, storage)| Contestant {
            name: format!("{framework}-{storage}"),
            program: program.clone(),
            args: vec![dir.join(file).display().to_string()],
            dir: dir.clone(),
            durable: storage == "sqlite",
        })
        .collect())
}

/// A virtualenv in `<work>/venv` with requirements.txt installed; returns its python.
fn aiogram(work: &Path) -> Result<PathBuf, String> {
    let python = which("python3").ok_or("python3 is not installed")?;
    let venv = work.join("venv");
    let venv_python = venv.join("bin/python");
    if !venv_python.exists() {
        run(Command::new(&python).arg("-m").arg("venv").arg(&venv))?;
    }
    let requirements = Path::new(PEERS).join("aiogram/requirements.txt");
    run(Command::new(&venv_python)
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "-r",
        ])
        .arg(requirements))?;
    Ok(venv_python)
}

/// A copy of the grammY project in `<work>/grammy` with `npm ci` done; returns the copy.
/// better-sqlite3 has no prebuilt binary without GitHub: node-gyp builds it against the
/// headers of the installed Node (`/usr/include/node`, Debian's and NodeSource's place).
fn grammy(work: &Path) -> Result<PathBuf, String> {
    let npm = which("npm").ok_or("npm is not installed")?;
    let copy = work.join("grammy");
    std::fs::create_dir_all(&copy).map_err(|e| e.to_string())?;
    let source = Path::new(PEERS).join("grammy");
    let lock = std::fs::read(source.join("package-lock.json")).map_err(|e| e.to_string())?;
    let installed = std::fs::read(copy.join("node_modules/.installed-lock")).ok();
    for file in ["package.json", "package-lock.json", "bot.js"]
        .into_iter()
        .chain(["clicker_memory.js", "clicker_sqlite.js"])
    {
        std::fs::copy(source.join(file), copy.join(file)).map_err(|e| format!("{file}: {e}"))?;
    }
    if installed.as_deref() != Some(&lock[..]) {
        let mut ci = Command::new(npm);
        ci.args(["ci", "--no-audit", "--no-fund"])
            .current_dir(&copy);
        if Path::new("/usr/include/node/node.h").exists() {
            ci.env("npm_config_nodedir", "/usr");
        }
        run(&mut ci)?;
        std::fs::write(copy.join("node_modules/.installed-lock"), &lock)
            .map_err(|e| e.to_string())?;
    }
    Ok(copy)
}

/// `cargo build --release` of the teloxide project into `<work>` (its own target directory);
/// returns the directory of the binaries.
fn teloxide(work: &Path) -> Result<PathBuf, String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    run(Command::new(cargo)
        .args(["build", "--release", "--quiet", "--manifest-path"])
        .arg(Path::new(PEERS).join("teloxide/Cargo.toml"))
        .env("CARGO_TARGET_DIR", work)
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS"))?;
    Ok(work.join("release"))
}

fn run(command: &mut Command) -> Result<(), String> {
    let shown = format!("{command:?}");
    let output = command
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{shown}: {e}"))?;
    if output.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let tail: Vec<&str> = stderr.lines().rev().take(15).collect();
    Err(format!(
        "{shown} failed ({}):\n{}",
        output.status,
        tail.into_iter().rev().collect::<Vec<_>>().join("\n")
    ))
}

/// The program's path on `PATH`.
fn which(program: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(program))
        .find(|path| path.is_file())
}
