//! The download-queue test's peers: a local file server, and real downloader processes (the
//! `download-queue-downloader` binary, built on first use).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use tokio::io::AsyncBufReadExt as _;

/// How long a condition may take to come true (generous: the machine may be loaded).
pub const PATIENCE: Duration = Duration::from_secs(60);

/// The bytes the file server serves as `/files/<name>`: distinct per name, a few KiB.
pub fn file_bytes(name: &str) -> Vec<u8> {
    (0..4096u32)
        .flat_map(|i| format!("{name}:{i};").into_bytes())
        .collect()
}

/// The registry token the tests' bots set and their downloaders send.
pub const REGISTRY_TOKEN: &str = "test-registry-token";

/// Serves on 127.0.0.1: `/files/<name>` (see [`file_bytes`]); `/redirect/<name>`, a redirect
/// to `/files/<name>`; `/to-metadata`, a redirect to a cloud metadata address; `/slow/<name>`,
/// a body that trickles a byte every 100 ms without end. Anything else is 404.
pub async fn file_server() -> SocketAddr {
    use axum::extract::Path as Name;
    use axum::response::{IntoResponse as _, Redirect};
    let app = axum::Router::new()
        .route(
            "/files/{name}",
            axum::routing::get(|Name(name): Name<String>| async move { file_bytes(&name) }),
        )
        .route(
            "/redirect/{name}",
            axum::routing::get(|Name(name): Name<String>| async move {
                Redirect::to(&format!("/files/{name}"))
            }),
        )
        .route(
            "/to-metadata",
            axum::routing::get(|| async {
                Redirect::to("http://169.254.169.254/latest/meta-data/")
            }),
        )
        .route(
            "/slow/{name}",
            axum::routing::get(|| async {
                let trickle = futures::stream::unfold((), |()| async {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    Some((Ok::<_, std::io::Error>(vec![b'.']), ()))
                });
                axum::body::Body::from_stream(trickle).into_response()
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

/// The downloader binary, built once per test run with the cargo that runs the tests (same
/// target dir and profile; the outer `cargo test` no longer holds the build lock while tests
/// run).
pub fn downloader_exe() -> &'static Path {
    static EXE: OnceLock<PathBuf> = OnceLock::new();
    EXE.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let output = std::process::Command::new(env!("CARGO"))
            .current_dir(root)
            .args([
                "build",
                "-p",
                "download-queue-downloader",
                "--bin",
                "download-queue-downloader",
                "--message-format=json-render-diagnostics",
            ])
            .stderr(Stdio::inherit())
            .output()
            .expect("run cargo build for the downloader");
        assert!(output.status.success(), "building the downloader failed");
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
            .filter_map(|v| v["executable"].as_str().map(PathBuf::from))
            .find(|exe| {
                exe.file_name()
                    .is_some_and(|n| n == "download-queue-downloader")
            })
            .expect("cargo reported the downloader's executable")
    })
}

/// A running downloader process; killed when dropped.
pub struct Downloader {
    pub name: String,
    pub dir: PathBuf,
    pub journal: PathBuf,
    pub pause_file: PathBuf,
    pub address_file: PathBuf,
    child: tokio::process::Child,
    stdout: Arc<Mutex<Vec<String>>>,
}

impl Downloader {
    /// Starts downloader `name` with its files under `root/<name>/`, listening on a free port
    /// (its address file says `127.0.0.1:0`), registering with `bot_url` and the tests'
    /// [`REGISTRY_TOKEN`], downloading from 127.0.0.1 (the file server) as an allowed host.
    pub async fn start(root: &Path, name: &str, bot_url: &str) -> Self {
        Self::start_with(root, name, bot_url, &[]).await
    }

    /// [`start`](Self::start) with these environment variables (its `DQ_*` settings) too.
    pub async fn start_with(root: &Path, name: &str, bot_url: &str, env: &[(&str, &str)]) -> Self {
        let home = root.join(name);
        std::fs::create_dir_all(&home).unwrap();
        let address_file = home.join("address.toml");
        std::fs::write(&address_file, "listen = \"127.0.0.1:0\"\n").unwrap();
        let exe = tokio::task::spawn_blocking(downloader_exe).await.unwrap();
        let mut child = tokio::process::Command::new(exe)
            .args(["--bot-url", bot_url, "--name", name])
            .arg("--dir")
            .arg(home.join("files"))
            .arg("--journal")
            .arg(home.join("journal.jsonl"))
            .arg("--pause-file")
            .arg(home.join("paused"))
            .arg("--address-file")
            .arg(&address_file)
            .env("DQ_LOG", "warn")
            .env("DQ_TOKEN", REGISTRY_TOKEN)
            .env("DQ_INTERNAL_HOSTS", "127.0.0.1")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("start the downloader");
        let stdout = Arc::new(Mutex::new(Vec::new()));
        let lines = stdout.clone();
        let mut reader = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
        tokio::spawn(async move {
            while let Ok(Some(line)) = reader.next_line().await {
                lines.lock().unwrap().push(line);
            }
        });
        Self {
            name: name.into(),
            dir: home.join("files"),
            journal: home.join("journal.jsonl"),
            pause_file: home.join("paused"),
            address_file,
            child,
            stdout,
        }
    }

    /// Waits for the `n`-th (1-based) stdout line starting with `prefix`, and returns it.
    pub async fn wait_line(&self, prefix: &str, n: usize) -> String {
        let found = || {
            self.stdout
                .lock()
                .unwrap()
                .iter()
                .filter(|l| l.starts_with(prefix))
                .nth(n - 1)
                .cloned()
        };
        wait(&format!("{} to print {prefix:?} #{n}", self.name), || {
            found().is_some()
        })
        .await;
        found().unwrap()
    }

    /// The address it listens on now (its latest `listening on` line).
    pub fn listening(&self) -> String {
        let lines = self.stdout.lock().unwrap();
        let line = lines
            .iter()
            .rev()
            .find(|l| l.starts_with("listening on "))
            .unwrap();
        line.trim_start_matches("listening on ").to_string()
    }

    /// The journal's entries.
    pub fn journal(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(&self.journal)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// Refuses new jobs with `reason` until [`resume`](Self::resume).
    pub fn pause(&self, reason: &str) {
        std::fs::write(&self.pause_file, reason).unwrap();
    }

    pub fn resume(&self) {
        let _ = std::fs::remove_file(&self.pause_file);
    }

    /// Moves it to a new free port: rewrites its address file and sends SIGHUP. Returns the
    /// new address.
    pub fn move_to_new_port(&self) -> String {
        let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let new = free.local_addr().unwrap().to_string();
        drop(free);
        std::fs::write(&self.address_file, format!("listen = \"{new}\"\n")).unwrap();
        let pid = self.child.id().unwrap().to_string();
        let status = std::process::Command::new("kill")
            .args(["-HUP", &pid])
            .status()
            .unwrap();
        assert!(status.success());
        new
    }

    /// The file `<quality>/<name>` it downloaded, if it exists.
    pub fn file(&self, quality: &str, name: &str) -> Option<Vec<u8>> {
        std::fs::read(self.dir.join(quality).join(name)).ok()
    }
}

/// Polls `condition` every 50 ms until it holds; panics after [`PATIENCE`].
pub async fn wait(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !condition() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
