//! The rules both KV backends apply to what a module asks (sizes of keys, values, ranges and
//! pages, what one call may hold, counters): one place, so redb and PostgreSQL refuse alike.

use super::{KvError, KvLimits, MAX_TRACKED_BYTES, Quota};

/// Refuses an empty or oversized key (module-controlled size: checked here, by both backends).
pub(crate) fn check_key(limits: &KvLimits, key: &[u8]) -> Result<(), KvError> {
    if key.is_empty() || key.len() > limits.max_key {
        return Err(KvError::InvalidKey(format!(
            "keys must be 1..={} bytes, this one has {}",
            limits.max_key,
            key.len()
        )));
    }
    Ok(())
}

/// Refuses an oversized value (module-controlled size: checked here, by both backends).
pub(crate) fn check_value(limits: &KvLimits, value: &[u8]) -> Result<(), KvError> {
    if value.len() > limits.max_value {
        return Err(KvError::ValueTooLarge(format!(
            "values must be at most {} bytes, this one has {}",
            limits.max_value,
            value.len()
        )));
    }
    Ok(())
}

/// Counts `bytes` more that a transaction holds (`tracked`); refuses past
/// [`MAX_TRACKED_BYTES`].
pub(crate) fn track(tracked: &mut usize, bytes: usize) -> Result<(), KvError> {
    let total = tracked.saturating_add(bytes);
    if total > MAX_TRACKED_BYTES {
        return Err(KvError::QuotaExceeded(format!(
            "one call may read, scan and write at most {} MiB of keys and values",
            MAX_TRACKED_BYTES >> 20
        )));
    }
    *tracked = total;
    Ok(())
}

/// A quota as a signed bound (quotas above `i64::MAX` are as good as unlimited).
pub(crate) fn cap(quota: u64) -> i64 {
    i64::try_from(quota).unwrap_or(i64::MAX)
}

/// Refuses a write that would leave the namespace holding `total_bytes` and `total_keys` over
/// its quota, in the dimensions the write grows (keys first); shrinking is always allowed, even
/// above the quota (an operator may have narrowed it).
pub(crate) fn check_quota(
    quota: Quota,
    total_bytes: i64,
    total_keys: i64,
    grows_bytes: bool,
    grows_keys: bool,
) -> Result<(), KvError> {
    if grows_keys && total_keys > cap(quota.max_keys) {
        return Err(KvError::QuotaExceeded(format!(
            "the module may keep {} keys; this would make {total_keys}",
            quota.max_keys
        )));
    }
    if grows_bytes && total_bytes > cap(quota.max_bytes) {
        return Err(KvError::QuotaExceeded(format!(
            "the module may keep {} bytes of keys and values; this would make {total_bytes}",
            quota.max_bytes
        )));
    }
    Ok(())
}

/// The smallest key greater than every key starting with `prefix`, if any.
pub(crate) fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

/// The counter `value` (a big-endian i64, absent is 0) plus `delta`: what `increment` stores.
pub(crate) fn incremented(value: Option<&[u8]>, delta: i64) -> Result<i64, KvError> {
    let current = match value {
        None => 0,
        Some(v) => {
            let bytes: [u8; 8] = v.try_into().map_err(|_| {
                KvError::WrongType(format!(
                    "increment needs an 8-byte big-endian integer, the value has {} bytes",
                    v.len()
                ))
            })?;
            i64::from_be_bytes(bytes)
        }
    };
    current
        .checked_add(delta)
        .ok_or_else(|| KvError::WrongType("increment overflows i64".into()))
}

/// Refuses range bounds or a cursor longer than a key may be, and caps the page size; returns
/// the limit to use (module-controlled sizes, checked by both backends).
pub(crate) fn check_range(
    limits: &KvLimits,
    start: &[u8],
    end: Option<&[u8]>,
    after: Option<&[u8]>,
    limit: u32,
) -> Result<usize, KvError> {
    let too_long = |b: Option<&[u8]>| b.is_some_and(|b| b.len() > limits.max_key);
    if too_long(Some(start)) || too_long(end) || too_long(after) {
        return Err(KvError::InvalidKey(format!(
            "range bounds and cursors must be at most {} bytes",
            limits.max_key
        )));
    }
    Ok(limit.clamp(1, limits.max_scan) as usize)
}
