//! How much of its quota a module uses.

use super::{Error, wit};

/// The module's KV usage and quota. Sizes count keys plus values.
///
/// The quota is the smaller of what the module's [`Manifest`](crate::Manifest) declares
/// ([`kv_max_bytes`](crate::Manifest::kv_max_bytes), [`kv_max_keys`](crate::Manifest::kv_max_keys);
/// the host's default when it declares nothing) and what the operator allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Usage {
    /// Bytes stored (keys plus values).
    pub bytes: u64,
    /// Keys stored.
    pub keys: u64,
    /// The most bytes the module may store.
    pub max_bytes: u64,
    /// The most keys the module may store.
    pub max_keys: u64,
}

/// Returns the module's usage and quota, counting the writes the current handler made so far.
///
/// Use it to warn or clean up before a write fails with [`Error::QuotaExceeded`].
///
/// ```no_run
/// # fn main() -> Result<(), botbox_sdk::kv::Error> {
/// let usage = botbox_sdk::kv::usage()?;
/// if usage.keys + 100 > usage.max_keys {
///     // prune old records
/// }
/// # Ok(()) }
/// ```
pub fn usage() -> Result<Usage, Error> {
    let usage = wit::get_usage()?;
    Ok(Usage {
        bytes: usage.bytes,
        keys: usage.keys,
        max_bytes: usage.max_bytes,
        max_keys: usage.max_keys,
    })
}
