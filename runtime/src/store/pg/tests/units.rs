//! A handler's unit of work — its KV writes, queued messages, tickets, timers, quarantine and
//! done mark — on both stores (`unit_backends.rs`), then what only a store shared by several
//! nodes must also do: refuse to apply an update or a timer twice, record a webhook update once
//! whichever node received it, and keep each unit whole when PostgreSQL is killed.

use super::{
    message,
    unit_backends::{Done, UnitStore, on_both_stores},
};
use crate::store::{
    NewTimer, TicketRecord, TimerRecord,
    pg::Unit,
    records::{Action, Entry},
};

fn text(e: &Entry) -> &str {
    match &e.action {
        Action::Send { text, .. } => text,
        other => panic!("not a message: {other:?}"),
    }
}

fn timer(id: u64, due_ms: u64) -> NewTimer {
    NewTimer {
        id,
        due_ms,
        record: TimerRecord {
            module: "m".into(),
            chat_id: Some(1),
            payload_hex: "00".into(),
        },
        bytes: 0,
    }
}

fn update(id: u64) -> Unit {
    Unit {
        update_id: Some(id),
        ..Unit::default()
    }
}

fn committed(done: Done) -> Vec<u64> {
    match done {
        Done::Committed(seqs) => seqs,
        Done::AlreadyDone => panic!("refused as done already"),
    }
}

on_both_stores!(
    an_update_is_pending_for_each_module_until_each_finished_it,
    a_handlers_writes_messages_tickets_and_done_mark_land_together,
    an_update_recorded_twice_is_routed_once,
    a_delivery_takes_the_entry_off_the_queue_and_settles_its_ticket,
    timers_come_due_in_order_and_leave_when_fired_or_cancelled,
    a_given_up_update_is_quarantined_with_its_reason,
);

async fn an_update_is_pending_for_each_module_until_each_finished_it<S: UnitStore>() {
    let (_keep, s) = S::start().await;
    assert_eq!(
        s.record(&[(1, "{\"update_id\":1}", &["a", "b"])]).await,
        [1]
    );
    assert_eq!(s.pending().await, [(1, vec!["a".into(), "b".into()])]);
    committed(s.handle("a", &[], update(1)).await);
    assert_eq!(s.pending().await, [(1, vec!["b".to_string()])]);
    committed(s.handle("b", &[], update(1)).await);
    assert!(s.pending().await.is_empty());
}

async fn a_handlers_writes_messages_tickets_and_done_mark_land_together<S: UnitStore>() {
    let (_keep, s) = S::start().await;
    s.record(&[(7, "{}", &["clicker"])]).await;
    let unit = Unit {
        outbox: vec![
            message("clicker", 42, "Clicks: 1", Some(5)),
            message("clicker", 42, "and a second message", None),
        ],
        ..update(7)
    };
    let seqs = committed(s.handle("clicker", &[(b"clicks:42", b"1")], unit).await);
    assert_eq!(seqs.len(), 2);
    assert!(
        seqs[0] < seqs[1],
        "a module's messages keep their order: {seqs:?}"
    );
    let queued = s.outbox().await;
    let texts: Vec<(u64, &str)> = queued.iter().map(|(q, e)| (*q, text(e))).collect();
    assert_eq!(
        texts,
        [(seqs[0], "Clicks: 1"), (seqs[1], "and a second message")]
    );
    assert_eq!(
        s.get("clicker", b"clicks:42").await.as_deref(),
        Some(&b"1"[..])
    );
    let ticket = s
        .ticket(5)
        .await
        .expect("the ticket is recorded with the message");
    assert_eq!((ticket.module.as_str(), ticket.chat_id), ("clicker", 42));
    assert_eq!(ticket.message_id, None, "not delivered yet");
    assert!(s.pending().await.is_empty(), "done");
}

async fn an_update_recorded_twice_is_routed_once<S: UnitStore>() {
    let (_keep, s) = S::start().await;
    assert_eq!(s.record(&[(3, "{}", &["m"])]).await, [3]);
    let again = s.record(&[(3, "{}", &["m"]), (4, "{}", &["m"]), (4, "{}", &["m"])]);
    assert_eq!(again.await, [4], "3 was recorded already; 4 once");
    let pending = s.pending().await;
    assert_eq!(pending, [(3, vec!["m".into()]), (4, vec!["m".into()])]);
}

async fn a_delivery_takes_the_entry_off_the_queue_and_settles_its_ticket<S: UnitStore>() {
    let (_keep, s) = S::start().await;
    s.record(&[(1, "{}", &["m"])]).await;
    let unit = Unit {
        outbox: vec![message("m", 8, "hello", Some(9))],
        ..update(1)
    };
    let seq = committed(s.handle("m", &[], unit).await)[0];
    let sent = TicketRecord {
        module: "m".into(),
        chat_id: 8,
        message_id: Some(100),
        failed: None,
        settled_at_secs: 1,
        result: None,
    };
    s.delivered(seq, Some((9, sent.clone()))).await;
    assert!(s.outbox().await.is_empty());
    assert_eq!(s.ticket(9).await, Some(sent));
}

async fn timers_come_due_in_order_and_leave_when_fired_or_cancelled<S: UnitStore>() {
    let (_keep, s) = S::start().await;
    let unit = Unit {
        timers: vec![timer(11, 1000), timer(12, 2000), timer(13, 500)],
        ..Unit::default()
    };
    committed(s.handle("m", &[], unit).await);
    assert_eq!(s.due(1500).await, [13, 11]);
    assert!(s.due(100).await.is_empty());
    let fired = Unit {
        fired_timer: Some(13),
        cancel_timers: vec![12],
        ..Unit::default()
    };
    committed(s.handle("m", &[], fired).await);
    assert_eq!(s.due(5000).await, [11]);
}

async fn a_given_up_update_is_quarantined_with_its_reason<S: UnitStore>() {
    let (_keep, s) = S::start().await;
    s.record(&[(20, "{\"update_id\":20}", &["m", "n"])]).await;
    let unit = Unit {
        quarantine: Some("trapped: unreachable".into()),
        ..update(20)
    };
    committed(s.handle("m", &[], unit).await);
    let q = s.quarantined().await;
    assert_eq!(
        q,
        [("m".to_string(), 20, "trapped: unreachable".to_string())]
    );
    assert_eq!(s.pending().await, [(20, vec!["n".to_string()])]);
}
