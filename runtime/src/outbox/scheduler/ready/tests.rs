use std::{collections::HashMap, time::Duration};

use rand::{Rng, SeedableRng, rngs::StdRng};

use super::*;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[test]
fn the_first_ready_chat_goes_by_priority_then_sequence_and_the_first_bulk_is_found_too() {
    let now = Instant::now();
    let mut index = ReadyIndex::new();
    index.file(1, 'a', (Priority::Bulk, 1, 1), now, now);
    index.file(2, 'a', (Priority::Normal, 9, 2), now, now);
    index.file(3, 'a', (Priority::Normal, 4, 3), now, now);
    index.file(4, 'b', (Priority::Interactive, 20, 4), now, now);
    index.file(5, 'b', (Priority::Bulk, 0, 5), now, now);
    let best = index.best(|_| true);
    assert_eq!(best.first, Some((Priority::Interactive, 20, 4)));
    assert_eq!(best.bulk, Some((Priority::Bulk, 0, 5)));
    index.remove(4);
    index.remove(5);
    let best = index.best(|_| true);
    assert_eq!(best.first, Some((Priority::Normal, 4, 3)));
    assert_eq!(best.bulk, Some((Priority::Bulk, 1, 1)));
}

#[test]
fn a_closed_lane_is_passed_over_and_each_lane_is_asked_once() {
    let now = Instant::now();
    let mut index = ReadyIndex::new();
    for chat in 1..=10 {
        index.file(
            chat,
            'a',
            (Priority::Interactive, chat as u64, chat),
            now,
            now,
        );
        index.file(-chat, 'b', (Priority::Bulk, chat as u64, -chat), now, now);
    }
    let mut asked = Vec::new();
    let best = index.best(|lane| {
        asked.push(*lane);
        *lane == 'b'
    });
    assert_eq!(asked, ['a', 'b']);
    assert_eq!(best.first, Some((Priority::Bulk, 1, -1)));
    assert_eq!(best.bulk, best.first);
    assert_eq!(index.best(|_| false), Best::default());
}

#[test]
fn a_waiting_chat_comes_due_at_its_instant_and_leaves_the_index_until_filed_again() {
    let now = Instant::now();
    let mut index = ReadyIndex::new();
    let key = (Priority::Normal, 1, 7);
    index.file(7, 'a', key, now + ms(10), now);
    assert_eq!(index.best(|_| true), Best::default());
    assert_eq!(index.next_due(), Some(now + ms(10)));
    let mut due = Vec::new();
    index.take_due(now + ms(9), &mut due);
    assert!(due.is_empty());
    index.take_due(now + ms(10), &mut due);
    assert_eq!(due, [7]);
    assert_eq!(index.next_due(), None);
    assert_eq!(index.best(|_| true), Best::default());
    index.file(7, 'a', key, now + ms(10), now + ms(10));
    assert_eq!(index.best(|_| true).first, Some(key));
}

#[test]
fn filing_a_chat_again_replaces_its_earlier_filing() {
    let now = Instant::now();
    let mut index = ReadyIndex::new();
    let key = (Priority::Normal, 1, 7);
    index.file(7, 'a', key, now, now);
    index.file(7, 'a', key, now + ms(50), now);
    assert_eq!(index.best(|_| true), Best::default(), "no longer ready");
    index.file(7, 'a', key, now + ms(80), now);
    let mut due = Vec::new();
    index.take_due(now + ms(60), &mut due);
    assert!(due.is_empty(), "the earlier instant is forgotten");
    assert_eq!(index.next_due(), Some(now + ms(80)));
    index.file(7, 'b', (Priority::Bulk, 2, 7), now, now);
    assert_eq!(index.next_due(), None, "ready now, so no longer waiting");
    assert_eq!(
        index.best(|l| *l == 'b').first,
        Some((Priority::Bulk, 2, 7))
    );
    assert_eq!(index.best(|l| *l == 'a').first, None);
    index.remove(7);
    assert_eq!(index.best(|_| true), Best::default());
    index.file(7, 'a', key, now + ms(5), now);
    index.remove(7);
    index.take_due(now + ms(100), &mut due);
    assert!(due.is_empty(), "a removed chat does not come back");
}

#[test]
fn entries_of_earlier_filings_do_not_pile_up() {
    let now = Instant::now();
    let mut index = ReadyIndex::new();
    for i in 0..10_000 {
        index.file(1, 'a', (Priority::Normal, 1, 1), now + ms(i + 1), now);
        index.file(2, 'a', (Priority::Normal, 1, 2), now + ms(20_000 - i), now);
    }
    assert!(index.waiting.len() <= 2 * 2 + 1024 + 1);
    assert_eq!(index.next_due(), Some(now + ms(10_000)));
    let mut due = Vec::new();
    index.take_due(now + ms(10_001), &mut due);
    assert_eq!(due, [1, 2]);
}

/// A chat as the scan sees it: its lane, its key, when its own limits allow its head.
type Chat = (u8, Key, Instant);

/// What scanning every chat finds, as the scheduler did before the index: the first ready chat
/// of the open lanes, the first bulk one, and when the first waiting chat becomes ready.
fn scan(chats: &HashMap<i64, Chat>, open: u8, now: Instant) -> (Best, Option<Instant>) {
    let mut best = Best::default();
    let mut next = None::<Instant>;
    for &(lane, key, at) in chats.values() {
        if at > now {
            next = Some(next.map_or(at, |n| n.min(at)));
        } else if open & (1 << lane) != 0 {
            best.first = Some(best.first.map_or(key, |b| b.min(key)));
            if key.0 == Priority::Bulk {
                best.bulk = Some(best.bulk.map_or(key, |b| b.min(key)));
            }
        }
    }
    (best, next)
}

#[test]
fn it_picks_what_a_scan_of_every_chat_picks() {
    const PRIORITIES: [Priority; 3] = [Priority::Interactive, Priority::Normal, Priority::Bulk];
    for seed in 0..40 {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut now = Instant::now();
        let mut index = ReadyIndex::new();
        let mut chats: HashMap<i64, Chat> = HashMap::new();
        let mut due = Vec::new();
        for _ in 0..2_000 {
            if rng.random_bool(0.6) {
                // A chat's state changes: a new head, a request in flight, a 429, a backoff...
                let chat = rng.random_range(-30..=30);
                if rng.random_bool(0.2) {
                    chats.remove(&chat);
                    index.remove(chat);
                } else {
                    let lane = rng.random_range(0..4);
                    let priority = PRIORITIES[rng.random_range(0..3)];
                    let key = (priority, rng.random_range(0..50), chat);
                    let at = now + ms(rng.random_range(0..90)) - ms(30);
                    chats.insert(chat, (lane, key, at));
                    index.file(chat, lane, key, at, now);
                }
            } else {
                now += ms(rng.random_range(0..20));
                index.take_due(now, &mut due);
                for chat in due.drain(..) {
                    let (lane, key, at) = chats.get_mut(&chat).expect("a due chat is filed");
                    assert!(*at <= now, "seed {seed}: due before its time");
                    // Sometimes a limiter wants a moment longer (rounding): it waits again.
                    if rng.random_bool(0.1) {
                        *at = now + ms(1);
                    }
                    index.file(chat, *lane, *key, *at, now);
                }
            }
            let open: u8 = rng.random_range(0..16);
            let (expected, next) = scan(&chats, open, now);
            let mut asked = 0;
            let best = index.best(|lane| {
                asked += 1;
                open & (1 << lane) != 0
            });
            assert_eq!(best, expected, "seed {seed}");
            assert_eq!(index.next_due(), next, "seed {seed}");
            let lanes: std::collections::HashSet<u8> = chats
                .values()
                .filter(|(_, _, at)| *at <= now)
                .map(|(lane, _, _)| *lane)
                .collect();
            assert_eq!(
                asked,
                lanes.len(),
                "seed {seed}: each lane with ready chats, once"
            );
        }
    }
}
