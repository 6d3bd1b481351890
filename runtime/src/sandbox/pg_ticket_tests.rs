//! Tickets across nodes on a throwaway PostgreSQL: each node draws from ranges it reserves in
//! `botbox_ids` (`store/pg/ids.rs`); ids never collide, increase per node, a broadcast's block
//! is consecutive, a restart (of a node, or of PostgreSQL after SIGKILL) continues above
//! everything handed out, a draw waits while the database is away; the real clicker on two
//! nodes gets distinct tickets, and an edit by ticket finds the message in `botbox_tickets`
//! when the recent map does not have it.

use std::{collections::HashSet, sync::Arc};

use throwaway_postgres::Postgres;

use super::{
    HostState, TicketCounter,
    pg_kv_tests::{MODULE, handled, message, node, record},
};
use crate::{
    bindings::outbox::{self as wit, Host as _},
    config::SandboxConfig,
    outbox::{Action, Target},
    store::{
        Db, TicketRecord,
        pg::{PgIds, PgStore},
    },
};

async fn counter(server: &Postgres, batch: u64) -> Arc<TicketCounter> {
    let store = PgStore::open(&server.url()).await.expect("store");
    let ids = PgIds::open(store.pool().clone(), batch)
        .await
        .expect("a first range");
    Arc::new(TicketCounter::shared(ids))
}

/// Draws `draws` times from `tickets`: single tickets, and every 97th a block of 150 (more
/// than a range of 64 holds). Answers the blocks drawn, (first, length), in order.
async fn draw(tickets: Arc<TicketCounter>, draws: u64) -> Vec<(u64, u64)> {
    let mut got = Vec::new();
    for i in 0..draws {
        let n = if i % 97 == 96 { 150 } else { 1 };
        got.push((tickets.block(n).await, n));
        if i % 50 == 0 {
            tokio::task::yield_now().await;
        }
    }
    got
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_nodes_drawing_at_once_never_collide_and_each_node_counts_up() {
    let server = Postgres::start().expect("a throwaway PostgreSQL");
    let nodes = [counter(&server, 64).await, counter(&server, 64).await];
    let mut tasks = Vec::new();
    for (n, tickets) in nodes.iter().enumerate() {
        for _ in 0..4 {
            let tickets = tickets.clone();
            tasks.push((n, tokio::spawn(draw(tickets, 2_500))));
        }
    }
    // A broadcast-sized block on each node, while the others draw.
    let big: Vec<u64> = futures::future::join_all(nodes.iter().map(|t| t.block(10_000))).await;
    let mut seen = HashSet::new();
    let mut taken = 0u64;
    for (first, n) in big.iter().map(|f| (*f, 10_000)) {
        taken += n;
        assert!(
            (first..first + n).all(|t| seen.insert(t)),
            "a block overlaps"
        );
    }
    for (node, task) in tasks {
        let blocks = task.await.expect("drawn");
        // Increasing per task, each later draw above the last id of the one before.
        for pair in blocks.windows(2) {
            let ((a, an), (b, _)) = (pair[0], pair[1]);
            assert!(b >= a + an, "node {node}: {b} after {a}+{an}");
        }
        for (first, n) in blocks {
            taken += n;
            assert!(
                (first..first + n).all(|t| seen.insert(t)),
                "node {node}: a ticket of {first}+{n} was handed out twice"
            );
        }
    }
    assert_eq!(seen.len() as u64, taken);
    assert!(taken > 2 * 4 * 2_500 + 2 * 10_000);

    // Per node, in the order they are handed out: increasing (one task at a time here, across
    // many refills).
    let mut last = 0;
    for i in 0..500 {
        let t = nodes[i % 2].next().await;
        if i % 2 == 0 {
            assert!(t > last, "{t} after {last}");
            last = t;
        }
    }
}

#[tokio::test]
async fn a_restarted_node_continues_above_every_id_any_node_handed_out() {
    let server = Postgres::start().expect("a throwaway PostgreSQL");
    let mut highest = 0;
    for _ in 0..3 {
        // A node with a large range, most of it never used, then "restarted".
        let before = counter(&server, 1_000).await;
        let other = counter(&server, 10).await;
        for _ in 0..25 {
            highest = highest.max(before.next().await).max(other.next().await);
        }
        highest = highest.max(other.block(30).await + 29);
        drop((before, other));
        let after = counter(&server, 1_000).await;
        let first = after.next().await;
        assert!(first > highest, "{first} after {highest}");
        highest = first;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ids_handed_out_before_a_crash_stay_taken_and_a_draw_waits_for_the_database() {
    let mut server = Postgres::start().expect("a throwaway PostgreSQL");
    let node = counter(&server, 8).await;
    let mut highest = 0;
    for _ in 0..20 {
        highest = node.next().await;
    }
    server.kill().expect("PostgreSQL killed");
    // What the node holds lasts; past it, a draw waits for the database to come back.
    let drawing = node.clone();
    let waiting = tokio::spawn(async move {
        let mut got = Vec::new();
        for _ in 0..40 {
            got.push(drawing.next().await);
        }
        got
    });
    tokio::time::sleep(std::time::Duration::from_millis(700)).await;
    assert!(!waiting.is_finished(), "40 ids from ranges of 8");
    server.restart().expect("PostgreSQL restarted");
    let got = waiting.await.expect("drawn");
    assert!(
        got[0] > highest && got.windows(2).all(|w| w[1] > w[0]),
        "{got:?}"
    );
    // After the crash recovery, a new node continues above every id handed out.
    let after = counter(&server, 8).await.next().await;
    assert!(after > *got.last().expect("40"), "{after} after {got:?}");
}

#[tokio::test]
async fn the_clicker_on_two_nodes_gets_distinct_tickets_and_edits_by_ticket_through_the_store() {
    let server = Postgres::start().expect("a throwaway PostgreSQL");
    let dir = tempfile::tempdir().expect("tempdir");
    let sandbox =
        super::Sandbox::new(&SandboxConfig::default(), &dir.path().join("cache")).expect("engine");
    let bytes = std::fs::read(botbox_test_artifacts::CLICKER).expect("the clicker's component");
    let code = sandbox.compile("clicker.wasm", &bytes).expect("compiles");
    let db = Arc::new(Db::open(&dir.path().join("data")).expect("redb, unused for tickets"));
    let mut a = node(&server, &sandbox, &code, &db, &counter(&server, 4).await).await;
    let mut b = node(&server, &sandbox, &code, &db, &counter(&server, 4).await).await;

    // Users register and click on both nodes, in turn: every reply has a ticket of its own.
    for round in 0..6_i64 {
        for (i, n) in [&mut a, &mut b].into_iter().enumerate() {
            let user = 100 + i as i64 * 100 + round;
            let update = message(round * 10 + i as i64 * 2 + 1, user, "U", "/start");
            record(n, &update).await;
            assert_eq!(handled(n, &update).await, 0);
        }
    }
    let queued = a.store.outbox().await.expect("outbox");
    let entries: Vec<crate::store::records::Entry> = queued
        .iter()
        .map(|(_, bytes)| serde_json::from_slice(bytes).expect("entry"))
        .collect();
    let tickets: Vec<u64> = entries.iter().filter_map(|e| e.ticket).collect();
    assert_eq!(tickets.len(), 12, "{entries:?}");
    assert_eq!(
        tickets.iter().collect::<HashSet<_>>().len(),
        12,
        "{tickets:?}"
    );

    // The first reply is delivered (as the outbox records it); the recent map knows nothing.
    let (seq, entry) = (queued[0].0, &entries[0]);
    let ticket = entry.ticket.expect("a send has a ticket");
    let rec = TicketRecord {
        module: MODULE.into(),
        chat_id: entry.chat_id,
        message_id: Some(77),
        failed: None,
        settled_at_secs: 1,
        result: None,
    };
    a.store
        .delivered(seq, Some((ticket, &rec)))
        .await
        .expect("delivered");

    // On the other node, a call edits it by ticket: found in `botbox_tickets`.
    let limits = wasmtime::StoreLimitsBuilder::new().build();
    let mut state = HostState::new(b.env.clone(), limits, u64::MAX);
    state.begin_call(Some(1), Vec::new(), None);
    let options = wit::MessageOptions {
        parse_mode: wit::ParseMode::Plain,
        keyboard: None,
        reply_to: None,
        disable_notification: false,
        priority: None,
    };
    let edit = state.edit_message_text(wit::MessageRef::Ticket(ticket), "edited".into(), options);
    edit.await.expect("the ticket is found");
    let status = state.status(ticket).await.expect("the ticket is found");
    assert!(matches!(status, wit::Delivery::Delivered(77)), "{status:?}");
    // A ticket no node recorded is unknown; so is one of another module.
    let unknown = state.delete_message(wit::MessageRef::Ticket(ticket + 1_000_000));
    assert!(matches!(unknown.await, Err(wit::Error::UnknownTicket(_))));
    let other = TicketRecord {
        module: "someone-else".into(),
        ..rec
    };
    a.store
        .delivered(u64::MAX >> 2, Some((ticket + 5_000_000, &other)))
        .await
        .expect("stored");
    let theirs = state.delete_message(wit::MessageRef::Ticket(ticket + 5_000_000));
    assert!(matches!(theirs.await, Err(wit::Error::UnknownTicket(_))));
    let out = state.end_call().expect("a call");
    assert_eq!(out.outbox.len(), 1);
    assert_eq!(out.outbox[0].chat_id, entry.chat_id);
    assert!(
        matches!(&out.outbox[0].action, Action::EditText { target: Target::Ticket(t), .. } if *t == ticket),
        "{:?}",
        out.outbox[0].action
    );
}
