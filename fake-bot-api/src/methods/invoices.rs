//! sendInvoice, createInvoiceLink, answerPreCheckoutQuery, refundStarPayment,
//! getStarTransactions and getMyStarBalance (see `payments.rs` for the flow).

use std::sync::Arc;

use serde_json::{Value, json};

use super::{admit, chat_id, check_not_blocked};
use crate::{
    error::ApiError,
    json,
    markup::{self, Parsed},
    model::{ChatEntry, ChatEvent, InlineButton, Markup},
    params::Params,
    payments::{CheckoutOutcome, Invoice, Payment},
    state::{Shared, State},
};

/// Telegram's limit on an invoice payload, in bytes.
const MAX_PAYLOAD: usize = 128;
/// Telegram's limit on a Stars price.
const MAX_STARS: i64 = 10_000;
const TOO_OLD: &str = "query is too old and response timeout expired or query ID is invalid";

/// The invoice a sendInvoice or createInvoiceLink describes, checked as Telegram checks it.
fn invoice_of(params: &Params) -> Result<Invoice, ApiError> {
    let text = |key: &str, max: usize, what: &str| {
        let value = params.str(key).unwrap_or_default();
        let n = value.chars().count();
        if n == 0 || n > max {
            return Err(ApiError::bad_request(format!("{what}_INVALID")));
        }
        Ok(value)
    };
    let title = text("title", 32, "INVOICE_TITLE")?;
    let description = text("description", 255, "INVOICE_DESCRIPTION")?;
    let payload = params.str("payload").unwrap_or_default();
    if payload.is_empty() || payload.len() > MAX_PAYLOAD {
        return Err(ApiError::bad_request("INVOICE_PAYLOAD_INVALID"));
    }
    let currency = params.str("currency").unwrap_or_default();
    let prices = match params.json("prices") {
        Ok(Some(Value::Array(prices))) if !prices.is_empty() => prices,
        _ => return Err(ApiError::bad_request("can't parse prices JSON object")),
    };
    let mut total = 0_i64;
    for price in &prices {
        let (Some(_), Some(amount)) = (price["label"].as_str(), price["amount"].as_i64()) else {
            return Err(ApiError::bad_request("can't parse prices JSON object"));
        };
        total += amount;
    }
    if currency == "XTR" {
        if params.str("provider_token").is_some_and(|t| !t.is_empty()) {
            return Err(ApiError::bad_request("PROVIDER_TOKEN_INVALID"));
        }
        if prices.len() != 1 || !(1..=MAX_STARS).contains(&total) {
            return Err(ApiError::bad_request("STARS_INVOICE_INVALID"));
        }
    } else if params.str("provider_token").is_none_or(|t| t.is_empty()) {
        return Err(ApiError::bad_request("PAYMENT_PROVIDER_INVALID"));
    }
    Ok(Invoice {
        title,
        description,
        currency,
        total_amount: total,
        payload,
    })
}

/// sendInvoice: a bot message carrying the invoice and a Pay button (the bot's keyboard,
/// whose first button must pay, or one "Pay ⭐N").
pub(super) fn send_invoice(shared: &Arc<Shared>, params: &Params) -> Result<Value, ApiError> {
    let chat_id = chat_id(params)?;
    let invoice = invoice_of(params)?;
    let parsed = markup::parse(params)?;
    let (markup, echo) = match parsed {
        Some(Parsed {
            markup: Some(Markup::Inline(rows)),
            echo,
        }) => {
            if !rows.first().and_then(|r| r.first()).is_some_and(|b| b.pay) {
                return Err(ApiError::bad_request("REPLY_MARKUP_BUY_EMPTY"));
            }
            (Markup::Inline(rows), echo.unwrap_or(Value::Null))
        }
        None => {
            let label = if invoice.currency == "XTR" {
                format!("Pay ⭐{}", invoice.total_amount)
            } else {
                format!("Pay {} {}", invoice.total_amount, invoice.currency)
            };
            let button = InlineButton {
                text: label.clone(),
                callback_data: None,
                url: None,
                pay: true,
            };
            let echo = json!({ "inline_keyboard": [[{ "text": label, "pay": true }]] });
            (Markup::Inline(vec![vec![button]]), echo)
        }
        Some(_) => return Err(ApiError::bad_request("REPLY_MARKUP_INVALID")),
    };
    let bot = json::bot_user(&shared.config);
    shared.write(|state| {
        check_not_blocked(state, chat_id)?;
        state.chat_mut(chat_id)?;
        admit(state, chat_id)?;
        let entry = ChatEntry {
            message_id: 0,
            from_bot: true,
            from_id: shared.config.bot_id(),
            text: format!("{}\n{}", invoice.title, invoice.description),
            document: None,
            parse_mode: None,
            reply_markup: Some(markup),
            reply_to: None,
            edits: 0,
            deleted: false,
            silent: params.bool("disable_notification"),
        };
        let fields = json!({
            "invoice": {
                "title": invoice.title,
                "description": invoice.description,
                "start_parameter": params.str("start_parameter").unwrap_or_default(),
                "currency": invoice.currency,
                "total_amount": invoice.total_amount,
            },
            "reply_markup": echo,
        });
        let chat = state.chat_mut(chat_id)?;
        let message = chat.add_message(entry, bot, fields);
        let id = message["message_id"].as_i64().unwrap_or_default();
        let entry = chat.messages[&id].entry.clone();
        state.payments.invoices.insert((chat_id, id), invoice);
        state.counters.sends += 1;
        state.emit(ChatEvent::BotSent { chat_id, entry });
        Ok(message)
    })
}

/// createInvoiceLink: a link any user can pay (`FakeBotApi::pay_link`).
pub(super) fn create_link(shared: &Arc<Shared>, params: &Params) -> Result<Value, ApiError> {
    let invoice = invoice_of(params)?;
    shared.write(|state| {
        let link = format!("https://t.me/$fake{}", state.payments.next_number());
        state.payments.links.insert(link.clone(), invoice);
        Ok(json!(link))
    })
}

/// answerPreCheckoutQuery: once per query, within the deadline; `ok` charges the user and
/// reports the payment in the invoice's chat.
pub(super) fn answer_checkout(shared: &Arc<Shared>, params: &Params) -> Result<Value, ApiError> {
    let id = params.str("pre_checkout_query_id").unwrap_or_default();
    let ok = params.bool("ok");
    let error_message = params.str("error_message").filter(|m| !m.is_empty());
    if !ok && error_message.is_none() {
        return Err(ApiError::bad_request("ERROR_MESSAGE_EMPTY"));
    }
    let timeout = shared.config.pre_checkout_timeout;
    shared.write(|state| {
        if state.payments.decide(&id, timeout) != Some(CheckoutOutcome::Pending) {
            return Err(ApiError::bad_request(TOO_OLD));
        }
        let checkout = state.payments.checkouts.get(&id).expect("decided above");
        let (user, user_id, chat_id, invoice) = (
            checkout.user.clone(),
            checkout.user_id,
            checkout.chat_id,
            checkout.invoice.clone(),
        );
        let outcome = if ok {
            let charge_id = format!("fake-charge-{}", state.payments.next_number());
            let paid = json!({
                "currency": invoice.currency,
                "total_amount": invoice.total_amount,
                "invoice_payload": invoice.payload,
                "telegram_payment_charge_id": charge_id,
                "provider_payment_charge_id": "",
            });
            let message = user_message(state, chat_id, user_id, user, "successful_payment", paid)?;
            state.payments.payments.push(Payment {
                charge_id: charge_id.clone(),
                user_id,
                chat_id,
                total_amount: invoice.total_amount,
                payload: invoice.payload,
                refunded: false,
                date: message["date"].as_i64().unwrap_or_default(),
            });
            state.enqueue("message", message);
            CheckoutOutcome::Approved { charge_id }
        } else {
            CheckoutOutcome::Declined {
                error_message: error_message.unwrap_or_default(),
            }
        };
        let checkout = state
            .payments
            .checkouts
            .get_mut(&id)
            .expect("decided above");
        checkout.outcome = outcome.clone();
        state.emit(ChatEvent::CheckoutAnswered {
            chat_id,
            query_id: id.clone(),
            outcome,
        });
        Ok(json!(true))
    })
}

/// A service message from the user in `chat_id` whose only content is `field`.
fn user_message(
    state: &mut State,
    chat_id: i64,
    user_id: i64,
    user: Value,
    field: &str,
    body: Value,
) -> Result<Value, ApiError> {
    let entry = ChatEntry::from_user(user_id, String::new());
    let chat = state.chat_mut(chat_id)?;
    Ok(chat.add_message(entry, user, json!({ field: body })))
}

/// refundStarPayment: a charge of that user, once; reported as a `refunded_payment`.
pub(super) fn refund(shared: &Arc<Shared>, params: &Params) -> Result<Value, ApiError> {
    let user_id = params.int("user_id")?.unwrap_or_default();
    let charge_id = params.str("telegram_payment_charge_id").unwrap_or_default();
    shared.write(|state| {
        let payment = state
            .payments
            .payments
            .iter_mut()
            .find(|p| p.charge_id == charge_id && p.user_id == user_id)
            .ok_or_else(|| ApiError::bad_request("CHARGE_NOT_FOUND"))?;
        if payment.refunded {
            return Err(ApiError::bad_request("CHARGE_ALREADY_REFUNDED"));
        }
        payment.refunded = true;
        let payment = payment.clone();
        let user = state
            .payments
            .checkouts
            .values()
            .find(|c| c.user_id == user_id)
            .map(|c| c.user.clone())
            .unwrap_or_else(|| json!({ "id": user_id, "is_bot": false, "first_name": "User" }));
        let body = json!({
            "currency": "XTR",
            "total_amount": payment.total_amount,
            "invoice_payload": payment.payload,
            "telegram_payment_charge_id": payment.charge_id,
        });
        let message = user_message(
            state,
            payment.chat_id,
            user_id,
            user,
            "refunded_payment",
            body,
        )?;
        state.enqueue("message", message);
        Ok(json!(true))
    })
}

/// getStarTransactions: payments (`source`) and refunds (`receiver`), oldest first.
pub(super) fn transactions(shared: &Arc<Shared>, params: &Params) -> Result<Value, ApiError> {
    let offset = usize::try_from(params.int("offset")?.unwrap_or(0)).unwrap_or(0);
    let limit = params.int("limit")?.unwrap_or(100);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::bad_request("LIMIT_INVALID"));
    }
    shared.read(|state| {
        let mut all = Vec::new();
        for p in &state.payments.payments {
            let partner = json!({
                "type": "user",
                "transaction_type": "invoice_payment",
                "user": { "id": p.user_id, "is_bot": false, "first_name": "User" },
                "invoice_payload": p.payload,
            });
            all.push(json!({ "id": p.charge_id, "amount": p.total_amount, "date": p.date, "source": partner }));
            if p.refunded {
                all.push(json!({ "id": p.charge_id, "amount": p.total_amount, "date": p.date, "receiver": partner }));
            }
        }
        let page: Vec<Value> = all
            .into_iter()
            .skip(offset)
            .take(usize::try_from(limit).unwrap_or(100))
            .collect();
        Ok(json!({ "transactions": page }))
    })
}

/// getMyStarBalance: payments less refunds.
pub(super) fn balance(shared: &Arc<Shared>) -> Value {
    let amount: i64 = shared.read(|state| {
        state
            .payments
            .payments
            .iter()
            .filter(|p| !p.refunded)
            .map(|p| p.total_amount)
            .sum()
    });
    json!({ "amount": amount, "nanostar_amount": 0 })
}
