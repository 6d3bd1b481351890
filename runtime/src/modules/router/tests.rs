use serde_json::json;

use super::*;

fn manifest(name: &str, wants: UpdateFilter) -> Manifest {
    Manifest {
        name: name.into(),
        version: "1".into(),
        commands: Vec::new(),
        wants,
        outbox_per_minute: None,
        kv_max_bytes: None,
        kv_max_keys: None,
        timers: false,
        http_hosts: Vec::new(),
    }
}

fn routed(router: &Router, raw: serde_json::Value) -> Vec<String> {
    let update: tg::Update = serde_json::from_value(raw.clone()).unwrap();
    router
        .route(&update, &raw)
        .into_iter()
        .map(|(m, _)| m)
        .collect()
}

#[test]
fn kinds_asked_for_by_name_reach_those_modules_and_the_ones_that_want_every_kind() {
    let mut router = Router::new("bot", &[]);
    router.add(
        &manifest("polls", UpdateFilter::empty()),
        "p",
        &[],
        &["poll_answer".into()],
        None,
    );
    router.add(
        &manifest("everything", UpdateFilter::OTHER_UPDATES),
        "e",
        &[],
        &[],
        None,
    );
    router.add(
        &manifest("texts", UpdateFilter::MESSAGES),
        "t",
        &[],
        &[],
        None,
    );
    let answer = json!({"update_id": 1, "poll_answer": {
        "poll_id": "P", "user": {"id": 5, "is_bot": false, "first_name": "A"}, "option_ids": [0]}});
    assert_eq!(routed(&router, answer), ["everything", "polls"]);
    let join = json!({"update_id": 2, "chat_join_request": {
        "chat": {"id": -1, "type": "supergroup", "title": "G"},
        "from": {"id": 5, "is_bot": false, "first_name": "A"},
        "user_chat_id": 5, "date": 0}});
    assert_eq!(routed(&router, join), ["everything"]);
    assert_eq!(router.wanted_kinds().collect::<Vec<_>>(), ["poll_answer"]);
    assert!(router.modules().contains("polls"));
}

#[test]
fn the_operator_s_wants_narrow_what_a_module_receives_and_never_widen_it() {
    let mut router = Router::new("bot", &[]);
    let all = UpdateFilter::MESSAGES | UpdateFilter::EDITED_MESSAGES | UpdateFilter::OTHER_UPDATES;
    let only_polls = ["poll_answer".to_string()];
    router.add(&manifest("narrow", all), "n", &[], &[], Some(&only_polls));
    let widen = ["messages".to_string(), "other_updates".to_string()];
    router.add(
        &manifest("small", UpdateFilter::empty()),
        "s",
        &[],
        &[],
        Some(&widen),
    );
    let text = json!({"update_id": 1, "message": {"message_id": 1, "date": 0,
        "chat": {"id": 5, "type": "private", "first_name": "A"},
        "from": {"id": 5, "is_bot": false, "first_name": "A"}, "text": "hi"}});
    assert!(routed(&router, text).is_empty());
    let answer = json!({"update_id": 2, "poll_answer": {
        "poll_id": "P", "user": {"id": 5, "is_bot": false, "first_name": "A"}, "option_ids": [0]}});
    assert_eq!(routed(&router, answer), ["narrow"]);
    let join = json!({"update_id": 3, "chat_join_request": {
        "chat": {"id": -1, "type": "supergroup", "title": "G"},
        "from": {"id": 5, "is_bot": false, "first_name": "A"},
        "user_chat_id": 5, "date": 0}});
    assert!(routed(&router, join).is_empty());
    assert!(!router.wants_edited() && !router.wants_other());
}

fn inline_router(modules: &[(&str, Option<&str>)]) -> Router {
    let mut router = Router::new("bot", &[]);
    for (name, prefix) in modules {
        router.add(
            &manifest(name, UpdateFilter::empty()),
            name,
            &[],
            &["inline_query".into(), "chosen_inline_result".into()],
            None,
        );
        if let Some(p) = prefix {
            router.set_inline_prefix(name, p);
        }
    }
    router
}

fn query(kind: &str, text: &str) -> serde_json::Value {
    let from = json!({"id": 5, "is_bot": false, "first_name": "A"});
    match kind {
        "inline_query" => json!({"update_id": 1, "inline_query": {
            "id": "Q1", "from": from, "query": text, "offset": ""}}),
        _ => json!({"update_id": 2, "chosen_inline_result": {
            "result_id": "r1", "from": from, "query": text}}),
    }
}

#[test]
fn an_inline_query_reaches_exactly_one_module_by_prefix_or_default_and_its_chosen_result_the_same()
{
    let router = inline_router(&[("qr", Some("*")), ("shop", Some("Shop"))]);
    for kind in ["inline_query", "chosen_inline_result"] {
        assert_eq!(routed(&router, query(kind, "shop socks")), ["shop"]);
        assert_eq!(routed(&router, query(kind, "SHOP")), ["shop"]);
        assert_eq!(routed(&router, query(kind, "hello shop")), ["qr"]);
        assert_eq!(routed(&router, query(kind, "")), ["qr"]);
        assert_eq!(routed(&router, query(kind, "* x")), ["qr"]);
    }
    assert!(router.undecided_inline().is_empty());

    // One inline module needs no setting; a second one with a prefix leaves it the rest.
    let router = inline_router(&[("qr", None)]);
    assert_eq!(routed(&router, query("inline_query", "anything")), ["qr"]);
    let router = inline_router(&[("qr", None), ("shop", Some("shop"))]);
    assert_eq!(routed(&router, query("inline_query", "shop x")), ["shop"]);
    assert_eq!(routed(&router, query("inline_query", "hello")), ["qr"]);

    // Two with nothing set: the operator has not decided, so none gets the query.
    let router = inline_router(&[("qr", None), ("gifs", None)]);
    assert!(routed(&router, query("inline_query", "hello")).is_empty());
    assert_eq!(router.undecided_inline(), ["qr", "gifs"]);
    // A prefix-only module gets nothing else.
    let router = inline_router(&[("shop", Some("shop"))]);
    assert!(routed(&router, query("inline_query", "hello")).is_empty());
}

#[test]
fn a_module_that_wants_every_kind_answers_inline_queries_only_when_no_module_asked_for_them() {
    let mut router = Router::new("bot", &[]);
    router.add(
        &manifest("everything", UpdateFilter::OTHER_UPDATES),
        "e",
        &[],
        &[],
        None,
    );
    assert_eq!(routed(&router, query("inline_query", "hi")), ["everything"]);
    router.add(
        &manifest("qr", UpdateFilter::empty()),
        "q",
        &[],
        &["inline_query".into()],
        None,
    );
    assert_eq!(routed(&router, query("inline_query", "hi")), ["qr"]);
    // qr did not ask for chosen results: they go to no one rather than to another module.
    assert!(routed(&router, query("chosen_inline_result", "hi")).is_empty());
}

#[test]
fn a_payment_s_updates_go_to_the_module_that_issued_the_invoice_whatever_the_others_want() {
    let mut router = Router::new("bot", &[]);
    router.add(
        &manifest("everything", UpdateFilter::all()),
        "e",
        &[],
        &[],
        None,
    );
    router.add(
        &manifest("shop", UpdateFilter::empty()),
        "s",
        &[],
        &[],
        None,
    );
    let user = json!({"id": 5, "is_bot": false, "first_name": "A"});
    let query = |payload: &str| {
        json!({"update_id": 1, "pre_checkout_query": {"id": "q", "from": user,
            "currency": "XTR", "total_amount": 5, "invoice_payload": payload}})
    };
    assert_eq!(routed(&router, query("s:item")), ["shop"]);
    // No tag, or the tag of no module: nobody (the host declines it).
    assert!(routed(&router, query("item")).is_empty());
    assert!(routed(&router, query("zz:item")).is_empty());
    let paid = json!({"update_id": 2, "message": {"message_id": 3, "date": 0, "from": user,
        "chat": {"id": 5, "type": "private", "first_name": "A"},
        "successful_payment": {"currency": "XTR", "total_amount": 5, "invoice_payload": "s:item",
            "telegram_payment_charge_id": "c", "provider_payment_charge_id": ""}}});
    assert_eq!(routed(&router, paid), ["shop"]);
    let text = json!({"update_id": 3, "message": {"message_id": 4, "date": 0, "from": user,
        "chat": {"id": 5, "type": "private", "first_name": "A"}, "text": "s:item"}});
    assert_eq!(routed(&router, text), ["everything"]);
}
