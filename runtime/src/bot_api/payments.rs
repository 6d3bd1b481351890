//! Payments: which module an invoice's updates belong to.
//!
//! A module's `sendInvoice` or `createInvoiceLink` leaves with the module's tag in front of its
//! `payload` (`<tag>:<payload>`), as its buttons' callback data does. Telegram hands the payload
//! back in every update of that invoice — the `pre_checkout_query`, the `shipping_query`, the
//! message with the `successful_payment` and the one with the `refunded_payment` — so those
//! reach the module that issued the invoice, and only that one, with the tag taken off again.
//! Unlike a button's data, an invoice payload cannot be forged by a user: only the bot sets it.

use serde_json::Value;

/// The methods that issue an invoice, whose `payload` gets the module's tag.
pub const INVOICE_METHODS: &[&str] = &["sendInvoice", "createInvoiceLink"];

/// Telegram's limit on an invoice payload, in bytes.
pub const MAX_PAYLOAD_BYTES: usize = 128;

/// The method a module answers a pre-checkout query with, and the parameter naming it.
pub const ANSWER_PRE_CHECKOUT: (&str, &str) = ("answerPreCheckoutQuery", "pre_checkout_query_id");

/// The query-answering methods of payments, with the parameter that names the query: a module
/// may answer only the query of the update it handles.
pub const QUERY_ANSWERS: &[(&str, &str)] = &[
    ANSWER_PRE_CHECKOUT,
    ("answerShippingQuery", "shipping_query_id"),
];

/// The update kinds that are queries about an invoice.
const QUERY_KINDS: &[&str] = &["pre_checkout_query", "shipping_query"];

/// The fields of a message that report on an invoice.
const MESSAGE_FIELDS: &[&str] = &["successful_payment", "refunded_payment"];

/// Where `raw`'s invoice payload is, when it is an update about an invoice: (the update's kind,
/// the field within it that holds `invoice_payload`, if any).
fn payload_place(raw: &Value) -> Option<(&str, Option<&'static str>)> {
    let kind = super::update_kinds::kind_of(raw)?;
    if QUERY_KINDS.contains(&kind) {
        return Some((kind, None));
    }
    if kind == "message" {
        let field = MESSAGE_FIELDS
            .iter()
            .find(|f| raw[kind].get(**f).is_some())?;
        return Some((kind, Some(field)));
    }
    None
}

/// The tagged invoice payload of an update about an invoice (`<tag>:<payload>`), if `raw` is
/// one.
pub fn invoice_payload(raw: &Value) -> Option<&str> {
    let (kind, field) = payload_place(raw)?;
    let body = match field {
        Some(f) => &raw[kind][f],
        None => &raw[kind],
    };
    body.get("invoice_payload")?.as_str()
}

/// Whether `raw` is an update about an invoice (whatever its payload says).
pub fn is_about_invoice(raw: &Value) -> bool {
    payload_place(raw).is_some()
}

/// The id of the query `raw` asks the bot to answer, when it is a pre-checkout or shipping query.
pub fn query_id(raw: &Value) -> Option<&str> {
    let kind = super::update_kinds::kind_of(raw)?;
    QUERY_KINDS
        .contains(&kind)
        .then(|| raw[kind].get("id")?.as_str())
        .flatten()
}

/// `raw` with the module's tag taken off its invoice payload, as the module wrote it.
pub fn untagged(raw: &Value) -> Value {
    let mut copy = raw.clone();
    let Some((kind, field)) = payload_place(raw) else {
        return copy;
    };
    let body = match field {
        Some(f) => &mut copy[kind][f],
        None => &mut copy[kind],
    };
    if let Some(Value::String(p)) = body.get_mut("invoice_payload")
        && let Some((_, own)) = p.split_once(':')
    {
        *p = own.to_string();
    }
    copy
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn queries_and_payment_messages_carry_the_tagged_payload_and_the_module_gets_it_untagged() {
        let query = json!({"update_id": 1, "pre_checkout_query": {"id": "q1", "currency": "XTR",
            "total_amount": 5, "invoice_payload": "m3:item-7",
            "from": {"id": 7, "is_bot": false, "first_name": "Ada"}}});
        assert_eq!(invoice_payload(&query), Some("m3:item-7"));
        assert_eq!(query_id(&query), Some("q1"));
        assert_eq!(
            untagged(&query)["pre_checkout_query"]["invoice_payload"],
            "item-7"
        );
        let paid = json!({"update_id": 2, "message": {"message_id": 9, "date": 0,
            "chat": {"id": 7, "type": "private"},
            "successful_payment": {"currency": "XTR", "total_amount": 5,
                "invoice_payload": "m3:item-7", "telegram_payment_charge_id": "c1",
                "provider_payment_charge_id": ""}}});
        assert_eq!(invoice_payload(&paid), Some("m3:item-7"));
        assert_eq!(query_id(&paid), None);
        assert_eq!(
            untagged(&paid)["message"]["successful_payment"]["invoice_payload"],
            "item-7"
        );
        let text = json!({"update_id": 3, "message": {"message_id": 9, "date": 0,
            "chat": {"id": 7, "type": "private"}, "text": "m3:item-7"}});
        assert!(!is_about_invoice(&text));
        assert_eq!(untagged(&text), text);
    }
}
