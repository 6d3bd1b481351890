//! A throwaway highly available PostgreSQL: one etcd and three PostgreSQL 15 members managed by
//! Patroni, with synchronous replication (Debian's `patroni` and `etcd-server`, and the server
//! binaries [`crate::bindir`] finds).
//!
//! [`PatroniCluster::start`] starts etcd and the three Patroni daemons in one temporary
//! directory, every one on private ports of 127.0.0.1, and waits until a leader runs with a
//! synchronous standby. [`PatroniCluster::kill_primary`] crashes the primary's machine, as far
//! as a test can: its Patroni and its PostgreSQL (postmaster and backends) get SIGKILL at once,
//! so the leader key in etcd is left to expire and Patroni promotes the synchronous standby.
//! Everything is killed and the directory removed when the value is dropped.
//!
//! As root (CI) every process runs as `nobody`, like the single server of the crate root.
//! Patroni starts PostgreSQL detached (`setsid`, reparented to init), so its processes are found
//! by their command lines, which name the member's directory.

mod config;
mod procs;
mod queries;
mod status;

use std::{
    fs::File,
    os::unix::process::CommandExt,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    thread::sleep,
    time::{Duration, Instant},
};

pub use config::{LOOP_WAIT, RETRY_TIMEOUT, TTL};
use config::{Ports, etcd_args, patroni_yml};
use procs::kill_all;
pub use procs::processes_in;
pub use status::MemberStatus;

use crate::{Error, bindir, err, free_port, unprivileged_user};

/// A write that commits only once a synchronous standby has it (`SELECT txid_current()` would
/// not do: a transaction that wrote no WAL does not wait for the standby).
const PROBE_WRITE: &str = "CREATE TABLE IF NOT EXISTS harness_probe (at timestamptz); \
                           INSERT INTO harness_probe VALUES (now())";

/// How many PostgreSQL members the cluster has.
pub const MEMBERS: usize = 3;

/// The paths of `patroni` and `etcd` (on `PATH` or in /usr/bin), or an error naming Debian's
/// packages.
pub fn binaries() -> Result<(PathBuf, PathBuf), Error> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    dirs.push(PathBuf::from("/usr/bin"));
    binaries_in(&dirs)
}

fn binaries_in(dirs: &[PathBuf]) -> Result<(PathBuf, PathBuf), Error> {
    let find = |name: &str| dirs.iter().map(|d| d.join(name)).find(|p| p.is_file());
    match (find("patroni"), find("etcd")) {
        (Some(p), Some(e)) => Ok((p, e)),
        (p, e) => Err(err(format!(
            "Patroni and etcd are needed for the high-availability tests ({}, {}): install \
             Debian's packages patroni and etcd-server (apt-get install patroni etcd-server; \
             .ci/run does)",
            if p.is_none() {
                "no patroni"
            } else {
                "patroni found"
            },
            if e.is_none() { "no etcd" } else { "etcd found" },
        ))),
    }
}

struct Member {
    name: String,
    /// Its files: `patroni.yml`, `patroni.log`, `data/`, the unix socket.
    dir: PathBuf,
    ports: Ports,
    patroni: Option<Child>,
}

/// A running throwaway HA cluster; see the module docs.
pub struct PatroniCluster {
    dir: tempfile::TempDir,
    bindir: PathBuf,
    user: Option<(u32, u32)>,
    etcd: Option<Child>,
    members: Vec<Member>,
}

impl PatroniCluster {
    /// Starts etcd and three Patroni members and waits (up to three minutes) until a leader
    /// runs, with a synchronous standby and every member up.
    pub fn start() -> Result<PatroniCluster, Error> {
        let (patroni, etcd) = binaries()?;
        let bindir = bindir()?;
        let user = unprivileged_user()?;
        let dir = tempfile::Builder::new()
            .prefix("botbox-patroni-")
            .tempdir()
            .map_err(|e| err(format!("cannot create a temporary directory: {e}")))?;
        let mut cluster = PatroniCluster {
            dir,
            bindir,
            user,
            etcd: None,
            members: Vec::new(),
        };
        cluster.own(cluster.dir.path())?;
        let etcd_dir = cluster.subdir("etcd")?;
        let (client, peer) = (free_port()?, free_port()?);
        let mut cmd = cluster.command(&etcd);
        cmd.args(etcd_args(&etcd_dir.join("data"), client, peer));
        cluster.etcd = Some(cluster.spawn(cmd, &etcd_dir.join("etcd.log"), "etcd")?);
        cluster.wait("etcd to answer", Duration::from_secs(60), || {
            Ok(status::etcd_healthy(client).then_some(()))
        })?;
        for i in 0..MEMBERS {
            let name = format!("pg{i}");
            let dir = cluster.subdir(&name)?;
            let ports = Ports {
                pg: free_port()?,
                api: free_port()?,
            };
            let yml = dir.join("patroni.yml");
            std::fs::write(
                &yml,
                patroni_yml(&name, &dir, ports, client, &cluster.bindir),
            )
            .map_err(|e| err(format!("cannot write {}: {e}", yml.display())))?;
            let mut cmd = cluster.command(&patroni);
            cmd.arg(&yml).env("HOME", &dir);
            let child = cluster.spawn(cmd, &dir.join("patroni.log"), "patroni")?;
            cluster.members.push(Member {
                name,
                dir,
                ports,
                patroni: Some(child),
            });
        }
        cluster.wait_ready(Duration::from_secs(180))?;
        Ok(cluster)
    }

    /// [`Self::start`], or `None` with a line on stderr saying what to install when Patroni or
    /// etcd is not installed (the tests that need them are skipped, loudly, on a machine
    /// without them; `.ci/run` installs them, and under CI — `CI` set — a missing one fails
    /// the test instead). Panics if they are installed and the cluster does not start.
    pub fn start_unless_missing() -> Option<PatroniCluster> {
        if let Err(e) = binaries() {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI runs the failover test: {e}"
            );
            eprintln!("SKIPPED (no Patroni/etcd here): {e}");
            return None;
        }
        Some(PatroniCluster::start().expect("a throwaway Patroni cluster"))
    }

    /// Gives `path` to the unprivileged user, when there is one.
    fn own(&self, path: &Path) -> Result<(), Error> {
        if let Some((uid, gid)) = self.user {
            std::os::unix::fs::chown(path, Some(uid), Some(gid))
                .map_err(|e| err(format!("cannot give {} to nobody: {e}", path.display())))?;
        }
        Ok(())
    }

    fn subdir(&self, name: &str) -> Result<PathBuf, Error> {
        let d = self.dir.path().join(name);
        std::fs::create_dir(&d).map_err(|e| err(format!("cannot create {}: {e}", d.display())))?;
        self.own(&d)?;
        Ok(d)
    }

    /// A command running `program` as `nobody` when we are root.
    fn command(&self, program: &Path) -> Command {
        let mut cmd = crate::as_user(program, self.user);
        // In the cluster's own directory: the unprivileged user may not enter the caller's
        // (a CI clone under a 0700 `mktemp -d`), and Patroni's worker processes change back
        // into the directory they started in.
        cmd.current_dir(self.dir.path())
            .env("LC_ALL", "C.UTF-8")
            .env_remove("PGDATA");
        cmd
    }

    fn spawn(&self, mut cmd: Command, log: &Path, what: &str) -> Result<Child, Error> {
        let open = || {
            File::options()
                .create(true)
                .append(true)
                .open(log)
                .map_err(|e| err(format!("cannot open {}: {e}", log.display())))
        };
        cmd.stdin(Stdio::null())
            .stdout(open()?)
            .stderr(open()?)
            .process_group(0)
            .spawn()
            .map_err(|e| err(format!("cannot start {what}: {e}")))
    }

    /// Calls `probe` every 200 ms until it gives a value, or fails after `patience` with the
    /// logs of every member.
    fn wait<T>(
        &self,
        what: &str,
        patience: Duration,
        mut probe: impl FnMut() -> Result<Option<T>, Error>,
    ) -> Result<T, Error> {
        let deadline = Instant::now() + patience;
        loop {
            if let Ok(Some(v)) = probe() {
                return Ok(v);
            }
            if Instant::now() > deadline {
                return Err(err(format!(
                    "waited {patience:?} for {what}; the cluster: {:?}\n{}",
                    self.members(),
                    self.logs()
                )));
            }
            sleep(Duration::from_millis(200));
        }
    }

    /// Crashes the primary: SIGKILL to its Patroni and to its PostgreSQL's processes at once.
    /// Returns its name.
    pub fn kill_primary(&mut self) -> Result<String, Error> {
        let name = self.primary_name()?;
        self.kill_member(&name)?;
        Ok(name)
    }

    /// SIGKILL to the member `name`'s Patroni and PostgreSQL, reaped; it stays down.
    pub fn kill_member(&mut self, name: &str) -> Result<(), Error> {
        let m = self
            .members
            .iter_mut()
            .find(|m| m.name == name)
            .ok_or_else(|| err(format!("no member {name}")))?;
        kill_all(&processes_in(&m.dir));
        if let Some(mut c) = m.patroni.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        // A backend that was forking as the postmaster died.
        kill_all(&processes_in(&m.dir));
        Ok(())
    }

    /// The directory holding everything (for checks that nothing outlives the cluster).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The log of the member `name` (Patroni's and its PostgreSQL's).
    pub fn log(&self, name: &str) -> String {
        self.member(name)
            .and_then(|m| std::fs::read_to_string(m.dir.join("patroni.log")).ok())
            .unwrap_or_default()
    }

    fn logs(&self) -> String {
        let tail = |s: String| {
            let lines: Vec<&str> = s.lines().collect();
            lines[lines.len().saturating_sub(30)..].join("\n")
        };
        self.members
            .iter()
            .map(|m| format!("--- {} (last lines)\n{}\n", m.name, tail(self.log(&m.name))))
            .collect()
    }
}

impl Drop for PatroniCluster {
    /// Kills every member, then etcd, then anything else still running from the directory.
    fn drop(&mut self) {
        let names: Vec<String> = self.members.iter().map(|m| m.name.clone()).collect();
        for name in names {
            let _ = self.kill_member(&name);
        }
        if let Some(mut etcd) = self.etcd.take() {
            let _ = etcd.kill();
            let _ = etcd.wait();
        }
        for _ in 0..50 {
            let left = processes_in(self.dir.path());
            if left.is_empty() {
                break;
            }
            kill_all(&left);
            sleep(Duration::from_millis(100));
        }
    }
}

#[cfg(test)]
mod tests;
