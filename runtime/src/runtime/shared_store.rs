//! The bot's store on PostgreSQL (`[store] url`): opened at start, the node entered with a
//! lease it renews while it runs, every partition of the chats taken.
//!
//! This version runs a bot on PostgreSQL from one node at a time: the node takes all the
//! partitions, and a second node started on the same database while the first one's lease
//! holds is refused at its start with the name of the node that holds them (several nodes at
//! once are the next step of issue 19: per-partition shards, the fence in every unit, a shared
//! rate limit). A node that was killed keeps its name (`<data_dir>/node-id`) and finds its
//! partitions its own again when it comes back; another node takes them once the killed
//! one's lease ran out.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use tokio::sync::watch;

use crate::{
    Error, Result,
    config::Config,
    store::pg::{Owned, PARTITIONS, PgIds, PgStore},
};

/// How long a node's lease lasts without renewal.
const LEASE: Duration = Duration::from_secs(15);
/// How often it is renewed.
const RENEW_EVERY: Duration = Duration::from_secs(3);
/// Tickets and timer ids a node reserves at once (`store/pg/ids.rs`).
const ID_BATCH: u64 = 1000;

/// The bot's store on PostgreSQL, as one node uses it.
pub(crate) struct SharedStore {
    /// Recording updates, the outbox's deliveries, the host's reads.
    pub(crate) store: Arc<PgStore>,
    /// Tickets and timer ids, unique across nodes.
    pub(crate) ids: PgIds,
    /// This node's name in `botbox_nodes`.
    pub(crate) node: String,
    /// The partitions it holds, and until when its lease surely holds.
    pub(crate) owned: Arc<Owned>,
}

/// Opens the store `config.store.url` names, if it names one: creates the tables if missing,
/// enters this node and takes every partition.
pub(crate) async fn open(config: &Config) -> Result<Option<SharedStore>> {
    let Some(url) = config.store.postgres() else {
        return Ok(None);
    };
    let store = Arc::new(PgStore::open(url).await.map_err(|e| {
        Error::Config(format!(
            "`store.url`: cannot use the PostgreSQL database: {e}"
        ))
    })?);
    let node = node_name(&config.data_dir)?;
    let asked = Instant::now();
    store.join(&node, PARTITIONS, LEASE).await?;
    store.claim(&node, PARTITIONS as usize).await?;
    let fences = store.owned(&node).await?;
    if fences.len() < PARTITIONS as usize {
        let others = other_nodes(&store, &node).await?;
        store.release(&node, &all_partitions()).await?;
        return Err(Error::Config(format!(
            "the bot's PostgreSQL database is in use by another node ({others}) whose lease has not run out; one node at a time runs a bot on PostgreSQL for now (stop the other, or wait {} s after it stopped)",
            LEASE.as_secs()
        )));
    }
    let owned = Arc::new(Owned::new(PARTITIONS));
    owned.set(&fences);
    owned.renewed(asked, LEASE);
    let ids = PgIds::open(store.pool().clone(), ID_BATCH).await?;
    tracing::info!(
        node,
        "the bot's store is PostgreSQL; this node holds every partition"
    );
    Ok(Some(SharedStore {
        store,
        ids,
        node,
        owned,
    }))
}

/// Renews the node's lease until `shutdown`, then gives the partitions back so the next node
/// need not wait for the lease to run out. A renewal that fails is tried again at the next
/// tick; one that finds a partition taken by another node (this one was paused past its
/// lease) is fatal: this node's commits would be refused from then on.
pub(crate) async fn keep_lease(
    store: Arc<PgStore>,
    node: String,
    owned: Arc<Owned>,
    fatal: watch::Sender<Option<String>>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            () = tokio::time::sleep(RENEW_EVERY) => {}
            _ = shutdown.changed() => break,
        }
        let asked = Instant::now();
        if let Err(e) = store.renew(&node, LEASE).await {
            tracing::warn!("cannot renew this node's lease on PostgreSQL: {e}");
            continue;
        }
        match store.owned(&node).await {
            Ok(fences) if fences.len() < PARTITIONS as usize => {
                let msg = format!(
                    "another node took {} partitions of the bot while this one's lease ran out",
                    PARTITIONS as usize - fences.len()
                );
                owned.lost();
                tracing::error!("{msg}");
                let _ = fatal.send(Some(msg));
                return;
            }
            Ok(fences) => {
                owned.set(&fences);
                owned.renewed(asked, LEASE);
            }
            Err(e) => tracing::warn!("cannot check this node's partitions: {e}"),
        }
    }
    if let Err(e) = store.release(&node, &all_partitions()).await {
        tracing::debug!(
            "partitions not given back at the stop (they free when the lease ends): {e}"
        );
    }
}

fn all_partitions() -> Vec<u32> {
    (0..PARTITIONS).collect()
}

/// The names of the nodes other than `node` that own partitions.
async fn other_nodes(store: &PgStore, node: &str) -> Result<String> {
    let rows = store
        .query(
            "SELECT DISTINCT owner FROM botbox_partitions WHERE owner IS NOT NULL AND owner <> $1",
            &[&node],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| r.get::<_, String>(0))
        .collect::<Vec<_>>()
        .join(", "))
}

/// This node's name: made once per data directory and kept in `node-id`, so a restarted node
/// is the same node (its lease and partitions are its own again).
fn node_name(data_dir: &std::path::Path) -> Result<String> {
    let file = data_dir.join("node-id");
    match std::fs::read_to_string(&file) {
        Ok(name) if !name.trim().is_empty() => return Ok(name.trim().to_string()),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(Error::io(&file, e)),
    }
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_default();
    let mut random = [0u8; 6];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut random);
    let name = format!(
        "{}-{}",
        if host.is_empty() { "node" } else { &host },
        hex::encode(random)
    );
    std::fs::create_dir_all(data_dir).map_err(|e| Error::io(data_dir, e))?;
    std::fs::write(&file, &name).map_err(|e| Error::io(&file, e))?;
    Ok(name)
}
