//! `[store]`: the memory the database may keep for itself.
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
    /// MiB of memory redb may keep for pages it read or wrote (1-65536).
    pub cache_mib: u64,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            cache_mib: DEFAULT_CACHE_MIB,
        }
    }
}

impl StoreConfig {
    /// The cache in bytes.
    pub fn cache_bytes(&self) -> usize {
        usize::try_from(self.cache_mib << 20).unwrap_or(usize::MAX)
    }

    /// Checks the range; the error names the setting.
    pub fn validate(&self) -> Result<()> {
        if !(1..=65_536).contains(&self.cache_mib) {
            return Err(Error::Config(format!(
                "`store.cache_mib` must be 1..=65536 (MiB of memory for the database's page cache), not {}",
                self.cache_mib
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
        let e = Config::from_toml("[store]\ncache = 8\n").unwrap_err();
        assert!(e.to_string().contains("cache"), "{e}");
    }
}
