//! The bot's store on PostgreSQL (`[store] url`): opened at start, the node entered with a
//! lease it renews while it runs, and its share of the chats' partitions kept.
//!
//! Several nodes may run one bot on one database. Each holds about an equal share of the
//! partitions (`ceil(partitions / nodes)`, nodes counted at every renewal): a node that joins
//! takes partitions nobody holds; a node holding more than its share gives the surplus back at
//! its next renewal, for the newcomer to take at its own; a node whose lease ran out (killed,
//! paused, cut off) loses its partitions to the next claims. What a node holds decides what it
//! does: the updates, messages and timers of its partitions (`intake/pickup.rs`, the outbox's
//! pickup, the timers' due read), and the polling, by whoever holds partition 0
//! (`intake/polling.rs`). A node that was paused past its lease finds at its next renewal
//! which partitions it lost, goes on with those it still holds (at new epochs) and takes its
//! share again. A node that was killed keeps its name (`<data_dir>/node-id`) and finds its
//! partitions its own again when it comes back within its lease.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use tokio::sync::watch;

use crate::{
    Error, Result,
    config::Config,
    store::pg::{Fence, Owned, PARTITIONS, PgIds, PgStore},
};

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
/// enters this node and takes its share of the partitions.
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
    let lease = config.store.lease();
    store.join(&node, PARTITIONS, lease).await?;
    let owned = Arc::new(Owned::new(PARTITIONS));
    share(&store, &node, &owned).await?;
    owned.renewed(asked, lease);
    let ids = PgIds::open(store.pool().clone(), ID_BATCH).await?;
    let held = owned.held().len();
    if held == 0 {
        tracing::info!(
            node,
            nodes = owned.nodes(),
            "the bot's store is PostgreSQL; the other nodes hold every partition for now: this node takes its share as they give it up (within {} s)",
            config.store.renew_every().as_secs_f64()
        );
    } else {
        tracing::info!(
            node,
            partitions = held,
            nodes = owned.nodes(),
            "the bot's store is PostgreSQL; this node holds its share of the partitions"
        );
    }
    Ok(Some(SharedStore {
        store,
        ids,
        node,
        owned,
    }))
}

/// Renews the node's lease until `shutdown`, sharing the partitions out again at each renewal,
/// then gives them back so the other nodes need not wait for the lease to run out. A renewal
/// that fails is tried again at the next tick (meanwhile [`Owned::holds`] runs out and the node
/// acts on nothing).
pub(crate) async fn keep_lease(
    store: Arc<PgStore>,
    (node, lease, renew_every): (String, Duration, Duration),
    owned: Arc<Owned>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            () = tokio::time::sleep(renew_every) => {}
            _ = shutdown.changed() => break,
        }
        let asked = Instant::now();
        match store.renew(&node, lease).await {
            Ok(true) => tracing::warn!(
                "this node's lease had run out (it was paused or cut off): the partitions it still holds move to new epochs"
            ),
            Ok(false) => {}
            Err(e) => {
                tracing::warn!("cannot renew this node's lease on PostgreSQL: {e}");
                continue;
            }
        }
        match share(&store, &node, &owned).await {
            Ok(()) => owned.renewed(asked, lease),
            Err(e) => tracing::warn!("cannot share the partitions out: {e}"),
        }
    }
    let held: Vec<u32> = owned.held().iter().map(|f| f.partition).collect();
    owned.set(&[]);
    if let Err(e) = store.release(&node, &held).await {
        tracing::debug!(
            "partitions not given back at the stop (they free when the lease ends): {e}"
        );
    }
}

/// Takes this node's share of the partitions, or gives the surplus back, and tells `owned`
/// what it holds now. Partitions given back are dropped from `owned` before the database
/// hears of it: from then on this node starts nothing more for their chats, and what it began
/// is refused at commit once another node takes them.
async fn share(store: &PgStore, node: &str, owned: &Owned) -> Result<()> {
    let nodes = store.live_nodes(node).await?;
    let target = PARTITIONS.div_ceil(nodes) as usize;
    let mut fences = store.owned(node).await?;
    let before: Vec<u32> = owned.held().iter().map(|f| f.partition).collect();
    let lost = before
        .iter()
        .filter(|p| !fences.iter().any(|f| f.partition == **p))
        .count();
    if lost > 0 {
        tracing::warn!(
            lost,
            "other nodes took partitions of this node while its lease ran out; it goes on with the others and takes its share again"
        );
    }
    if fences.len() < target {
        let taken = store.claim(node, target - fences.len()).await?;
        if !taken.is_empty() {
            tracing::info!(taken = taken.len(), nodes, "partitions taken");
        }
        fences.extend(taken);
        fences.sort_by_key(|f| f.partition);
    } else if fences.len() > target {
        // The highest first: partition 0 (the poller's) moves last.
        let kept: Vec<Fence> = fences[..target].to_vec();
        let surplus: Vec<u32> = fences[target..].iter().map(|f| f.partition).collect();
        owned.set(&kept);
        store.release(node, &surplus).await?;
        tracing::info!(
            given = surplus.len(),
            nodes,
            "partitions given back for the other nodes to share"
        );
        fences = kept;
    }
    owned.set(&fences);
    owned.set_nodes(nodes);
    Ok(())
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
