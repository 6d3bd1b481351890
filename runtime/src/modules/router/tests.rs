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
