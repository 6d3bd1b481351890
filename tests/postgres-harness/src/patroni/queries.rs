//! What the cluster says and does: its members and leader, the URL an application uses, psql
//! on a member, waiting for a leader or for a commit.

use std::{
    process::{Command, Stdio},
    thread::sleep,
    time::{Duration, Instant},
};

use super::{Member, MemberStatus, PROBE_WRITE, PatroniCluster, status};
use crate::{Error, USER, err};

impl PatroniCluster {
    /// Waits until a leader runs with a synchronous standby, every member still alive is up,
    /// and the leader takes writes.
    pub fn wait_ready(&self, patience: Duration) -> Result<(), Error> {
        let alive = self.members.iter().filter(|m| m.patroni.is_some()).count();
        self.wait("a leader with a synchronous standby", patience, || {
            let m = self.members()?;
            let leader = m.iter().find(|s| s.role == "leader" && s.is_up());
            let sync = m.iter().any(|s| s.role == "sync_standby" && s.is_up());
            let up = m.iter().filter(|s| s.is_up()).count();
            Ok(match leader {
                Some(l) if sync && up >= alive => self
                    .psql_on(&l.name, "SELECT pg_is_in_recovery()")
                    .ok()
                    .filter(|r| r == "f")
                    .map(|_| ()),
                _ => None,
            })
        })
    }

    /// The members as Patroni sees them (asked of the first member whose REST API answers).
    pub fn members(&self) -> Result<Vec<MemberStatus>, Error> {
        let mut last = err("no member is running");
        for m in self.members.iter().filter(|m| m.patroni.is_some()) {
            match status::cluster(m.ports.api) {
                Ok(s) => return Ok(s),
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    /// The running leader's name, if there is one.
    pub fn leader(&self) -> Result<Option<String>, Error> {
        Ok(self
            .members()?
            .into_iter()
            .find(|s| s.role == "leader" && s.is_up())
            .map(|s| s.name))
    }

    /// The primary's name (the running leader's).
    pub fn primary_name(&self) -> Result<String, Error> {
        self.leader()?
            .ok_or_else(|| err("the cluster has no leader"))
    }

    /// The primary's PostgreSQL port.
    pub fn primary_port(&self) -> Result<u16, Error> {
        let name = self.primary_name()?;
        self.port_of(&name)
            .ok_or_else(|| err(format!("no member {name}")))
    }

    /// The PostgreSQL port of the member `name`.
    pub fn port_of(&self, name: &str) -> Option<u16> {
        self.member(name).map(|m| m.ports.pg)
    }

    pub(super) fn member(&self, name: &str) -> Option<&Member> {
        self.members.iter().find(|m| m.name == name)
    }

    /// A libpq-style connection string listing every member, that connects to whichever is the
    /// primary (`target_session_attrs=read-write`), as an application of the cluster would;
    /// with the TCP settings docs/postgres-ha.md advises (a dead peer noticed in seconds).
    pub fn url(&self) -> String {
        let hosts = vec!["127.0.0.1"; self.members.len()].join(",");
        let ports: Vec<String> = self
            .members
            .iter()
            .map(|m| m.ports.pg.to_string())
            .collect();
        format!(
            "host={hosts} port={} user={USER} dbname=postgres target_session_attrs=read-write \
             connect_timeout=5 keepalives_idle=10 keepalives_interval=3 keepalives_retries=3 \
             tcp_user_timeout=15",
            ports.join(",")
        )
    }

    /// Waits until a member other than `old` leads and its PostgreSQL is out of recovery
    /// (promoted); returns its name. Commits may still wait for a synchronous standby:
    /// [`Self::wait_for_commit`].
    pub fn wait_for_new_leader(&self, old: &str, patience: Duration) -> Result<String, Error> {
        self.wait("a new leader", patience, || {
            Ok(self.leader()?.filter(|l| l != old).filter(|l| {
                self.psql_on(l, "SELECT pg_is_in_recovery()")
                    .is_ok_and(|r| r == "f")
            }))
        })
    }

    /// Waits until the member `name` commits a write (a row in a table of the harness's own):
    /// with strict synchronous replication a new primary takes commits only once a standby
    /// streams from it and Patroni made it synchronous, a few loops after the promotion.
    pub fn wait_for_commit(&self, name: &str, patience: Duration) -> Result<(), Error> {
        let deadline = Instant::now() + patience;
        loop {
            let left = deadline
                .saturating_duration_since(Instant::now())
                .as_secs()
                .max(1);
            // A commit waiting for a standby is not cut short by statement_timeout (it is
            // already committed locally): the whole psql is bounded instead.
            let committed = self
                .psql_command(name, PROBE_WRITE, Some(left))?
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if committed {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(err(format!(
                    "{name} took no commit within {patience:?}; the cluster: {:?}\n{}",
                    self.members(),
                    self.logs()
                )));
            }
            sleep(Duration::from_millis(200));
        }
    }

    /// Runs `sql` with `psql` on the current primary; returns its unaligned, tuples-only output.
    pub fn psql(&self, sql: &str) -> Result<String, Error> {
        self.psql_on(&self.primary_name()?, sql)
    }

    /// Runs `sql` with `psql` on the member `name` (over its unix socket).
    pub fn psql_on(&self, name: &str, sql: &str) -> Result<String, Error> {
        let out = self
            .psql_command(name, sql, None)?
            .output()
            .map_err(|e| err(format!("cannot run psql: {e}")))?;
        if !out.status.success() {
            return Err(err(format!(
                "psql on {name} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            )));
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    }

    /// `psql` running `sql` on the member `name`, under `timeout SECS` if `bound`.
    fn psql_command(&self, name: &str, sql: &str, bound: Option<u64>) -> Result<Command, Error> {
        let m = self
            .member(name)
            .ok_or_else(|| err(format!("no member {name}")))?;
        let psql = self.bindir.join("psql");
        let mut cmd = match bound {
            Some(secs) => {
                let mut c = Command::new("timeout");
                c.arg(secs.to_string()).arg(psql);
                c
            }
            None => Command::new(psql),
        };
        cmd.args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"])
            .arg("-h")
            .arg(&m.dir)
            .arg("-p")
            .arg(m.ports.pg.to_string())
            .args(["-U", USER, "-d", "postgres", "-c", sql])
            .env("PGCONNECT_TIMEOUT", "3");
        Ok(cmd)
    }
}
