//! The shop's records in its KV store:
//!
//! - `purchase/<charge id>` → a [`Purchase`] (JSON): one per payment, so a payment is recorded
//!   once whatever happens (the host applies an update once; the key would also catch a copy);
//! - `buyer/<user id><number>` → the charge id: each buyer's purchases in the order made;
//! - counters `sold`, `sold-stars`, `refunds`, `refunded-stars`.

use botbox_sdk::kv::{self, Key};
use serde::{Deserialize, Serialize};

/// What a payment bought.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Purchase {
    /// The buyer.
    pub user_id: i64,
    /// Where the buyer paid (and is told of a refund).
    pub chat_id: i64,
    /// The item's id.
    pub item: String,
    /// What was paid, in stars.
    pub stars: i64,
    /// Whether it was refunded.
    #[serde(default)]
    pub refunded: bool,
}

fn purchase_key(charge_id: &str) -> Key {
    Key::new("purchase/").str(charge_id)
}

/// The purchase paid by `charge_id`.
pub fn purchase(charge_id: &str) -> Result<Option<Purchase>, kv::Error> {
    kv::get_json(purchase_key(charge_id))
}

/// Records the payment `charge_id`; false when it was recorded before (nothing changes then).
pub fn record(charge_id: &str, purchase: &Purchase) -> Result<bool, kv::Error> {
    if kv::get(purchase_key(charge_id))?.is_some() {
        return Ok(false);
    }
    kv::set_json(purchase_key(charge_id), purchase)?;
    let number = kv::increment("sold", 1)?.cast_unsigned();
    kv::increment("sold-stars", purchase.stars)?;
    kv::set(
        Key::new("buyer/").i64(purchase.user_id).u64(number),
        charge_id,
    )?;
    Ok(true)
}

/// Marks `charge_id` refunded; the purchase when this changed it.
pub fn mark_refunded(charge_id: &str) -> Result<Option<Purchase>, kv::Error> {
    let Some(mut p) = purchase(charge_id)? else {
        return Ok(None);
    };
    if p.refunded {
        return Ok(None);
    }
    p.refunded = true;
    kv::set_json(purchase_key(charge_id), &p)?;
    kv::increment("refunds", 1)?;
    kv::increment("refunded-stars", p.stars)?;
    Ok(Some(p))
}

/// The purchases of `user_id`, oldest first, with their charge ids (at most `limit`).
pub fn purchases_of(user_id: i64, limit: usize) -> Result<Vec<(String, Purchase)>, kv::Error> {
    let mut out = Vec::new();
    for entry in kv::scan(Key::new("buyer/").i64(user_id)).limit(limit) {
        let charge = String::from_utf8_lossy(&entry?.value).into_owned();
        if let Some(p) = purchase(&charge)? {
            out.push((charge, p));
        }
    }
    Ok(out)
}

/// (sold, stars, refunds, refunded stars).
pub fn totals() -> Result<(i64, i64, i64, i64), kv::Error> {
    Ok((
        kv::get_counter("sold")?,
        kv::get_counter("sold-stars")?,
        kv::get_counter("refunds")?,
        kv::get_counter("refunded-stars")?,
    ))
}
