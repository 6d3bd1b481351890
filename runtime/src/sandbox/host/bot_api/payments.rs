//! The checks of a module's payment calls: an invoice's payload gets the module's tag (so the
//! invoice's updates come back to this module, see `bot_api::payments`), and a pre-checkout or
//! shipping query is answered only by the module handling it, while it handles it.

use serde_json::{Map, Value};

use super::{HostState, checks::invalid, rules::Checked};
use crate::{
    bindings::bot_api as wit,
    bot_api::payments::{INVOICE_METHODS, MAX_PAYLOAD_BYTES, QUERY_ANSWERS},
};

/// Prefixes the `payload` of an invoice `method` with the module's tag; the module's payload
/// must leave room for it.
pub(super) fn tag_payload(
    method: &str,
    params: &mut Map<String, Value>,
    tag: &str,
) -> Result<(), wit::Error> {
    if !INVOICE_METHODS.contains(&method) || tag.is_empty() {
        return Ok(());
    }
    let Some(Value::String(payload)) = params.get_mut("payload") else {
        return Err(invalid(format!("`{method}` needs `payload`, a string")));
    };
    let room = MAX_PAYLOAD_BYTES - tag.len() - 1;
    if payload.is_empty() || payload.len() > room {
        return Err(invalid(format!(
            "`payload` has {} bytes; it must have 1 to {room} (the host adds the module's tag, and Telegram takes {MAX_PAYLOAD_BYTES})",
            payload.len()
        )));
    }
    *payload = format!("{tag}:{payload}");
    Ok(())
}

impl HostState {
    /// A pre-checkout or shipping query is answered by the module it was routed to, while it
    /// handles that update: the query's id must be the update's.
    pub(super) fn check_query_answer(&self, c: &Checked) -> Result<(), wit::Error> {
        let Some((_, param)) = QUERY_ANSWERS.iter().find(|(m, _)| *m == c.name) else {
            return Ok(());
        };
        let named = c.params.get(*param).and_then(Value::as_str).unwrap_or("");
        let own = self
            .call
            .as_ref()
            .and_then(|call| call.own_query.as_deref());
        if own == Some(named) {
            return Ok(());
        }
        Err(wit::Error::NotAllowed(format!(
            "`{}` answers the query of the update being handled (`{param}` {}); a module answers only the queries about its own invoices, while it handles them",
            c.name,
            match own {
                Some(id) => format!("must be {id:?}"),
                None => "names none: this update is not a query".to_string(),
            }
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_invoice_payload_gets_the_tag_and_must_leave_room_for_it() {
        let mut p = Map::new();
        p.insert("payload".into(), Value::from("item-7"));
        tag_payload("sendInvoice", &mut p, "m3").unwrap();
        assert_eq!(p["payload"], "m3:item-7");
        let mut long = Map::new();
        long.insert("payload".into(), Value::from("x".repeat(126)));
        let e = tag_payload("createInvoiceLink", &mut long, "m3").unwrap_err();
        assert!(format!("{e:?}").contains("1 to 125"), "{e:?}");
        let mut other = Map::new();
        other.insert("payload".into(), Value::from("x"));
        tag_payload("sendMessage", &mut other, "m3").unwrap();
        assert_eq!(other["payload"], "x");
    }
}
