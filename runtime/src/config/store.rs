//! `[store]`: where the bot's data lives, and the memory the embedded database may keep.
//!
//! `url` empty (the default): the embedded redb file in the data directory. A PostgreSQL
//! connection string — a `postgres://` URL or libpq's `host=… dbname=…` form — (or
//! `BOTBOX_STORE_URL`): the bot's shared data — the
//! modules' KV, updates owed, the outbox, tickets, timers — lives in that PostgreSQL database
//! (docs/cluster-design-notes.md); the data directory still holds what is the node's own
//! (compiled modules' cache, the admin token, logs).
//!
//! redb keeps the pages it read or wrote last in a cache of its own, in the process's memory,
//! up to `cache_mib` (reads and not-yet-written pages together). A page outside it is read again
//! from the file, usually from the operating system's page cache, which the kernel gives back
//! when memory is short. So the setting trades resident memory for a little latency on a large
//! database; the default is chosen for the smallest server botbox targets, 1 GB in all
//! (docs/benchmarks.md, "Memory").

use serde::Deserialize;

use crate::{Error, Result};

pub use crate::store::DEFAULT_CACHE_MIB;

/// The store's settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreConfig {
    /// A PostgreSQL connection URL (`BOTBOX_STORE_URL`); empty: the embedded redb file.
    pub url: crate::config::Secret,
    /// MiB of memory redb may keep for pages it read or wrote (1-65536).
    pub cache_mib: u64,
    /// Seconds a node's lease on its chats lasts without renewal (PostgreSQL, 6-600): how long
    /// the chats of a node that died wait before another node takes them. Renewed every fifth
    /// of it. Every node of a bot should use the same.
    pub lease_secs: u64,
}

/// The lease's default: takeover within ~15 s, renewals every 3 s.
pub const DEFAULT_LEASE_SECS: u64 = 15;

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            url: crate::config::Secret::default(),
            cache_mib: DEFAULT_CACHE_MIB,
            lease_secs: DEFAULT_LEASE_SECS,
        }
    }
}

impl StoreConfig {
    /// The cache in bytes.
    pub fn cache_bytes(&self) -> usize {
        usize::try_from(self.cache_mib << 20).unwrap_or(usize::MAX)
    }

    /// How long a node's lease lasts without renewal.
    pub fn lease(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.lease_secs)
    }

    /// How often a node renews its lease (and shares the partitions out again).
    pub fn renew_every(&self) -> std::time::Duration {
        self.lease() / 5
    }

    /// The PostgreSQL URL, when the bot's data lives there.
    pub fn postgres(&self) -> Option<&str> {
        (!self.url.is_empty()).then_some(self.url.expose())
    }

    /// Checks the range and the URL's scheme; the error names the setting.
    pub fn validate(&self) -> Result<()> {
        if let Some(url) = self.postgres()
            && let Err(e) = url.parse::<tokio_postgres::Config>()
        {
            // Not the URL itself: it may hold a password.
            return Err(Error::Config(format!(
                "`store.url` must be a PostgreSQL connection string (postgres://user:password@host:port/database, or `host=… dbname=…`) or empty for the embedded store: {e}"
            )));
        }
        if !(1..=65_536).contains(&self.cache_mib) {
            return Err(Error::Config(format!(
                "`store.cache_mib` must be 1..=65536 (MiB of memory for the database's page cache), not {}",
                self.cache_mib
            )));
        }
        if !(6..=600).contains(&self.lease_secs) {
            return Err(Error::Config(format!(
                "`store.lease_secs` must be 6..=600 (seconds a node's lease on its chats lasts), not {}",
                self.lease_secs
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::Config;

    #[test]
    fn the_cache_is_read_and_checked() {
        let c = Config::from_toml("[store]\ncache_mib = 8\n").expect("parses");
        assert_eq!(c.store.cache_bytes(), 8 << 20);
        for bad in [0, 65_537] {
            let mut c = Config::default();
            c.store.cache_mib = bad;
            let e = c.store.validate().unwrap_err().to_string();
            assert!(e.contains("`store.cache_mib` must be 1..=65536"), "{e}");
        }
        let c = Config::from_toml("[store]\nlease_secs = 6\n").expect("parses");
        assert_eq!(
            c.store.renew_every(),
            std::time::Duration::from_millis(1200)
        );
        assert_eq!(Config::default().store.lease_secs, 15);
        for bad in [5, 601] {
            let mut c = Config::default();
            c.store.lease_secs = bad;
            let e = c.store.validate().unwrap_err().to_string();
            assert!(e.contains("`store.lease_secs` must be 6..=600"), "{e}");
        }
        let e = Config::from_toml("[store]\ncache = 8\n").unwrap_err();
        assert!(e.to_string().contains("cache"), "{e}");
    }

    #[test]
    fn a_postgres_url_is_read_from_the_file_or_the_environment_and_its_scheme_checked() {
        let c = Config::default();
        assert_eq!(c.store.postgres(), None, "embedded by default");
        let c = Config::from_toml("[store]\nurl = \"postgres://bot@db/bot\"\n").expect("parses");
        assert_eq!(c.store.postgres(), Some("postgres://bot@db/bot"));
        let mut c = Config::default();
        c.apply_env(|k| (k == "BOTBOX_STORE_URL").then(|| "postgresql://h/b".to_string()))
            .expect("applies");
        assert_eq!(c.store.postgres(), Some("postgresql://h/b"));
        c.store.url = crate::config::Secret::new("host=/run/pg port=5433 user=bot dbname=bot");
        c.store.validate().expect("libpq's key=value form");
        let mut c = Config::default();
        c.store.url = crate::config::Secret::new("mysql://root:hunter2@db/bot");
        let e = c.store.validate().unwrap_err().to_string();
        assert!(
            e.contains("`store.url` must be a PostgreSQL connection string"),
            "{e}"
        );
        assert!(!e.contains("hunter2"), "the password is not repeated: {e}");
        let shown = format!("{c:?}");
        assert!(
            !shown.contains("hunter2"),
            "nor in the configuration's Debug: {shown}"
        );
    }
}
