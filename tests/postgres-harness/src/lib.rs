//! A private, throwaway PostgreSQL server for tests and benchmarks, started from the machine's
//! own binaries (Debian's `postgresql-15`).
//!
//! [`Postgres::start`] runs `initdb` into a fresh temporary directory and starts `postgres` on a
//! unix socket in that directory and on a free TCP port of 127.0.0.1, with `fsync` on (the fault
//! tests count what survives a crash, so the server must be as durable as a real one). The server
//! can be stopped, killed with SIGKILL and restarted on the same data directory; it is stopped and
//! its directory removed when the value is dropped.
//!
//! `initdb` refuses to run as root. When the tests run as root (CI), the directory is given to
//! `nobody` and every server binary runs as `nobody` through `setpriv`.

use std::{
    fmt,
    fs::File,
    net::TcpListener,
    os::unix::process::CommandExt,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    thread::sleep,
    time::{Duration, Instant},
};

/// Environment variable naming the directory of `initdb` and `postgres`, when they are not
/// where Debian puts them.
pub const BINDIR_ENV: &str = "BOTBOX_PG_BINDIR";

/// The superuser of the throwaway cluster (authentication is `trust`, local only).
pub const USER: &str = "postgres";

/// A failure to set up or drive the server; the message says what to do.
#[derive(Debug)]
pub struct Error(String);

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

fn err(msg: impl Into<String>) -> Error {
    Error(msg.into())
}

/// The uid and gid of `nobody`, when this process is root (and so must not run the server as
/// itself).
fn unprivileged_user() -> Result<Option<(u32, u32)>, Error> {
    let uid = Command::new("id")
        .arg("-u")
        .output()
        .map_err(|e| err(format!("cannot run `id -u`: {e}")))?;
    if String::from_utf8_lossy(&uid.stdout).trim() != "0" {
        return Ok(None);
    }
    let passwd = std::fs::read_to_string("/etc/passwd")
        .map_err(|e| err(format!("cannot read /etc/passwd: {e}")))?;
    let line = passwd
        .lines()
        .find(|l| l.starts_with("nobody:"))
        .ok_or_else(|| err("running as root and there is no user `nobody` to run PostgreSQL as"))?;
    let fields: Vec<&str> = line.split(':').collect();
    let num = |i: usize| fields.get(i).and_then(|f| f.parse::<u32>().ok());
    match (num(2), num(3)) {
        (Some(u), Some(g)) => Ok(Some((u, g))),
        _ => Err(err(format!(
            "cannot parse the `nobody` line of /etc/passwd: {line}"
        ))),
    }
}

/// The directory holding `initdb` and `postgres`.
pub fn bindir() -> Result<PathBuf, Error> {
    let has_server = |d: &Path| d.join("initdb").is_file() && d.join("postgres").is_file();
    if let Some(d) = std::env::var_os(BINDIR_ENV) {
        let d = PathBuf::from(d);
        return if has_server(&d) {
            Ok(d)
        } else {
            Err(err(format!(
                "{BINDIR_ENV}={} holds no initdb and postgres",
                d.display()
            )))
        };
    }
    let mut candidates = vec![PathBuf::from("/usr/lib/postgresql/15/bin")];
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output()
        && out.status.success()
    {
        candidates.push(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()));
    }
    if let Ok(versions) = std::fs::read_dir("/usr/lib/postgresql") {
        let mut others: Vec<PathBuf> = versions.flatten().map(|v| v.path().join("bin")).collect();
        others.sort();
        candidates.extend(others.into_iter().rev());
    }
    first_with_server(candidates)
}

/// The first of `candidates` holding `initdb` and `postgres`, or an error naming the package.
fn first_with_server(candidates: Vec<PathBuf>) -> Result<PathBuf, Error> {
    let has_server = |d: &Path| d.join("initdb").is_file() && d.join("postgres").is_file();
    candidates
        .into_iter()
        .find(|d| has_server(d))
        .ok_or_else(|| {
            err(format!(
                "PostgreSQL's server binaries (initdb, postgres) were not found in \
             /usr/lib/postgresql/*/bin nor by `pg_config --bindir`: install Debian's package \
             postgresql-15 (apt-get install postgresql-15), or set {BINDIR_ENV}"
            ))
        })
}

fn free_port() -> Result<u16, Error> {
    let l = TcpListener::bind("127.0.0.1:0").map_err(|e| err(format!("no free port: {e}")))?;
    l.local_addr()
        .map(|a| a.port())
        .map_err(|e| err(format!("no free port: {e}")))
}

/// A command running `program` as the user `user` (uid, gid) through `setpriv`, or as this
/// process's user when `None`.
pub(crate) fn as_user(program: &Path, user: Option<(u32, u32)>) -> Command {
    match user {
        Some((uid, gid)) => {
            let mut c = Command::new("setpriv");
            c.arg(format!("--reuid={uid}"))
                .arg(format!("--regid={gid}"))
                .arg("--clear-groups")
                .arg("--")
                .arg(program);
            c
        }
        None => Command::new(program),
    }
}

/// A running (or stopped) throwaway server; see the crate docs.
pub struct Postgres {
    dir: tempfile::TempDir,
    bindir: PathBuf,
    user: Option<(u32, u32)>,
    port: u16,
    child: Option<Child>,
}

impl Postgres {
    /// Creates a cluster in a temporary directory and starts it.
    pub fn start() -> Result<Postgres, Error> {
        let bindir = bindir()?;
        let user = unprivileged_user()?;
        let dir = tempfile::Builder::new()
            .prefix("botbox-pg-")
            .tempdir()
            .map_err(|e| err(format!("cannot create a temporary directory: {e}")))?;
        if let Some((uid, gid)) = user {
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid)).map_err(|e| {
                err(format!(
                    "cannot give {} to nobody: {e}",
                    dir.path().display()
                ))
            })?;
        }
        let mut pg = Postgres {
            dir,
            bindir,
            user,
            port: 0,
            child: None,
        };
        let out = pg
            .command("initdb")
            .args([
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
                "-U",
                USER,
                "-D",
            ])
            .arg(pg.data_dir())
            .output()
            .map_err(|e| err(format!("cannot run initdb: {e}")))?;
        if !out.status.success() {
            return Err(err(format!(
                "initdb failed: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )));
        }
        // Another process may take the port between our probe and the server's bind: try again
        // with another one.
        let mut last = err("not started");
        for _ in 0..5 {
            pg.port = free_port()?;
            match pg.launch(Duration::from_secs(60)) {
                Ok(()) => return Ok(pg),
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    /// A command running `program` of the server's binaries, as `nobody` when we are root.
    fn command(&self, program: &str) -> Command {
        let mut cmd = as_user(&self.bindir.join(program), self.user);
        cmd.env("LC_ALL", "C").env_remove("PGDATA");
        cmd
    }

    /// The data directory.
    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// The directory of the unix socket.
    pub fn socket_dir(&self) -> &Path {
        self.dir.path()
    }

    /// The TCP port on 127.0.0.1 (also the number in the socket's name).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A libpq-style connection string over the unix socket.
    pub fn url(&self) -> String {
        format!(
            "host={} port={} user={USER} dbname=postgres",
            self.socket_dir().display(),
            self.port
        )
    }

    /// A `postgres://` URL over TCP.
    pub fn tcp_url(&self) -> String {
        format!("postgres://{USER}@127.0.0.1:{}/postgres", self.port)
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("postgres.log")
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// Whether the postmaster is running.
    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// The postmaster's process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    fn launch(&mut self, patience: Duration) -> Result<(), Error> {
        let log = File::options()
            .create(true)
            .append(true)
            .open(self.log_path())
            .map_err(|e| err(format!("cannot open the server log: {e}")))?;
        let log2 = log
            .try_clone()
            .map_err(|e| err(format!("cannot open the server log: {e}")))?;
        let child = self
            .command("postgres")
            .arg("-D")
            .arg(self.data_dir())
            .arg("-p")
            .arg(self.port.to_string())
            .args(["-c", "listen_addresses=127.0.0.1"])
            .arg("-c")
            .arg(format!(
                "unix_socket_directories={}",
                self.socket_dir().display()
            ))
            .args(["-c", "fsync=on", "-c", "synchronous_commit=on"])
            .args(["-c", "shared_buffers=16MB", "-c", "max_connections=64"])
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2)
            // Its own process group, with every backend it forks: `kill` ends them all at once.
            .process_group(0)
            .spawn()
            .map_err(|e| err(format!("cannot start postgres: {e}")))?;
        self.child = Some(child);
        let deadline = Instant::now() + patience;
        loop {
            if let Some(c) = self.child.as_mut()
                && let Ok(Some(status)) = c.try_wait()
            {
                self.child = None;
                return Err(err(format!(
                    "postgres exited ({status}) while starting; its log:\n{}",
                    self.log()
                )));
            }
            let ready = Command::new(self.bindir.join("pg_isready"))
                .arg("-q")
                .arg("-h")
                .arg(self.socket_dir())
                .arg("-p")
                .arg(self.port.to_string())
                .status()
                .is_ok_and(|s| s.success());
            if ready {
                return Ok(());
            }
            if Instant::now() > deadline {
                self.kill()?;
                return Err(err(format!(
                    "postgres did not accept connections within {patience:?}; its log:\n{}",
                    self.log()
                )));
            }
            sleep(Duration::from_millis(50));
        }
    }

    fn signal(&self, sig: &str) -> Result<(), Error> {
        let Some(pid) = self.pid() else {
            return Ok(());
        };
        Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(pid.to_string())
            .status()
            .map_err(|e| err(format!("cannot run kill: {e}")))?;
        Ok(())
    }

    fn wait_exit(&mut self) -> Result<(), Error> {
        if let Some(mut c) = self.child.take() {
            c.wait()
                .map_err(|e| err(format!("cannot wait for postgres: {e}")))?;
        }
        Ok(())
    }

    /// Stops the server cleanly (a "fast" shutdown: clients are disconnected, everything
    /// committed is flushed) and waits for it.
    pub fn stop(&mut self) -> Result<(), Error> {
        self.signal("INT")?;
        self.wait_exit()
    }

    /// Kills the server with SIGKILL, as a crash of its machine would — the postmaster and every
    /// backend at once (a backend outliving a killed postmaster answers its connection for a
    /// while, which no crash does) — and reaps it. Committed transactions are in the WAL.
    pub fn kill(&mut self) -> Result<(), Error> {
        if let Some(pid) = self.pid() {
            // Every backend makes itself a session leader (`InitPostmasterChild` calls
            // `setsid`), so the postmaster's group does not hold them: they are found as its
            // children and killed with it, in one `kill`.
            let mut targets = vec![pid.to_string()];
            targets.extend(children_of(pid).iter().map(u32::to_string));
            let _ = Command::new("kill").arg("-KILL").args(&targets).status();
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{pid}")])
                .status();
        }
        if let Some(c) = self.child.as_mut() {
            // An error here means it had already exited.
            let _ = c.kill();
        }
        self.wait_exit()
    }

    /// Starts the server again on the same data directory and port (after [`Self::stop`] or
    /// [`Self::kill`]; after a kill it runs crash recovery). Waits while the killed server's
    /// backends still hold its shared memory.
    pub fn restart(&mut self) -> Result<(), Error> {
        if self.is_running() {
            self.stop()?;
        }
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            match self.launch(Duration::from_secs(60)) {
                Ok(()) => return Ok(()),
                Err(e) if Instant::now() < deadline => {
                    let _ = e;
                    sleep(Duration::from_millis(200));
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Runs `sql` with `psql` and returns its unaligned, tuples-only output (for tests that
    /// check the server directly).
    pub fn psql(&self, sql: &str) -> Result<String, Error> {
        let out = Command::new(self.bindir.join("psql"))
            .args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"])
            .arg("-h")
            .arg(self.socket_dir())
            .arg("-p")
            .arg(self.port.to_string())
            .args(["-U", USER, "-d", "postgres", "-c", sql])
            .output()
            .map_err(|e| err(format!("cannot run psql: {e}")))?;
        if !out.status.success() {
            return Err(err(format!(
                "psql failed: {}",
                String::from_utf8_lossy(&out.stderr)
            )));
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    }
}

impl Drop for Postgres {
    /// Stops the server at once (SIGQUIT: immediate shutdown, its backends too); the directory
    /// goes with the `TempDir`.
    fn drop(&mut self) {
        if self.is_running() {
            let _ = self.signal("QUIT");
            let _ = self.wait_exit();
        }
    }
}

#[cfg(test)]
mod tests;

pub mod patroni;

/// The processes whose parent is `pid` (from `/proc/<p>/stat`: the fourth field, after the
/// command name in parentheses).
fn children_of(pid: u32) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|p| {
            std::fs::read_to_string(format!("/proc/{p}/stat")).is_ok_and(|stat| {
                stat.rfind(')')
                    .and_then(|i| stat[i + 1..].split_whitespace().nth(1)?.parse::<u32>().ok())
                    == Some(pid)
            })
        })
        .collect()
}
