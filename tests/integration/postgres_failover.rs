//! A bot on highly available PostgreSQL (Patroni, etcd, synchronous replication; see
//! docs/postgres-ha.md) through the real binary: the primary crashes under load (its Patroni and
//! its PostgreSQL killed with SIGKILL), Patroni promotes the synchronous standby, the bot finds
//! the new primary through its multi-host URL (`target_session_attrs=read-write`) on its own,
//! and every click is counted once. Skipped, with a line saying what to install, where Patroni
//! or etcd is not installed (`.ci/run` installs them).

use std::time::{Duration, Instant};

use botbox_test_artifacts::CLICKER;
use throwaway_postgres::patroni::PatroniCluster;

use crate::support::*;

const USERS: i64 = 8;
const CLICKS: usize = 40;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_patroni_a_crash_of_the_primary_under_load_loses_no_click() {
    let Some(mut cluster) = tokio::task::block_in_place(PatroniCluster::start_unless_missing)
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let fake = unlimited_fake();
    let modules = modules_dir(dir.path(), &[CLICKER]);
    let store = format!("[store]\nurl = {:?}\n", cluster.url());
    let config_file = write_config(dir.path(), &fake, &modules, &store);
    let users = queue_clicks(&fake, 3000, "F", USERS, CLICKS);
    let total = USERS as usize * CLICKS;

    let mut bot = spawn_bot(&config_file);
    wait_for_clicks_answered(&fake, &users, total / 4).await;
    let answered_at_kill = answered(&fake, &users);
    let killed_at = Instant::now();
    let old = tokio::task::block_in_place(|| cluster.kill_primary()).expect("primary killed");
    assert!(
        answered_at_kill < total,
        "the crash came too late to test anything"
    );
    // Patroni's promotion, and the answers meanwhile: the longest pause between two, and the
    // first after the promotion (replies handled before the crash may still go out during it).
    let (new, promoted_after, commits_after, pause, first_after) =
        tokio::task::block_in_place(|| {
            std::thread::scope(|s| {
                let promotion = s.spawn(|| {
                    let new = cluster
                        .wait_for_new_leader(&old, Duration::from_secs(120))
                        .expect("Patroni promoted a standby");
                    let promoted_after = killed_at.elapsed();
                    cluster
                        .wait_for_commit(&new, Duration::from_secs(120))
                        .expect("the new primary takes commits");
                    (new, promoted_after, killed_at.elapsed())
                });
                let (mut last, mut last_change, mut pause) =
                    (answered_at_kill, killed_at, Duration::ZERO);
                let (mut at_promotion, mut first_after) = (None, None);
                while first_after.is_none() && killed_at.elapsed() < Duration::from_secs(120) {
                    let now = answered(&fake, &users);
                    if at_promotion.is_none() && promotion.is_finished() {
                        at_promotion = Some(now);
                    }
                    if now > last {
                        pause = pause.max(last_change.elapsed());
                        (last, last_change) = (now, Instant::now());
                        if at_promotion.is_some_and(|n| now > n) {
                            first_after = Some(killed_at.elapsed());
                        }
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
                let (new, promoted_after, commits_after) = promotion.join().unwrap();
                (new, promoted_after, commits_after, pause, first_after)
            })
        });

    let _ = fake
        .wait_until(Duration::from_secs(180), |v| {
            users.iter().all(|u| {
                v.transcript(u.id)
                    .iter()
                    .any(|e| e.text == format!("Clicks: {CLICKS}"))
            })
        })
        .await;
    let (lost, twice, repeats) = tally(&fake, &users);
    eprintln!(
        "failover: {old} killed after {answered_at_kill}/{total} clicks answered; {new} promoted \
         after {:.1} s, taking commits (a synchronous standby again) after {:.1} s; the bot's first \
         answer after the promotion at {} s, its longest pause {:.1} s; lost {lost}, applied \
         twice {twice}, replies repeated {repeats}",
        promoted_after.as_secs_f64(),
        commits_after.as_secs_f64(),
        first_after.map_or("never".into(), |d| format!("{:.1}", d.as_secs_f64())),
        pause.as_secs_f64(),
    );
    assert!(
        bot.try_wait().unwrap().is_none(),
        "the bot went on through the failover"
    );
    let repeats = every_click_counted_once(&fake, &users, CLICKS).await;
    assert_eq!((lost, twice), (0, 0));
    assert!(repeats <= USERS as usize);
    let keys = tokio::task::block_in_place(|| {
        cluster.psql("SELECT count(*) FROM botbox_kv WHERE ns = 'clicker'")
    })
    .unwrap();
    assert!(keys.parse::<u64>().unwrap() >= USERS as u64, "{keys} keys");
    let stopped = crate::ops::sigterm(&mut bot).await;
    assert!(stopped.success(), "a clean stop: {stopped:?}");
    tokio::task::block_in_place(|| drop(cluster));
}

/// Clicks answered so far, all users together (repeats included).
fn answered(fake: &FakeBotApi, users: &[TestUser]) -> usize {
    users.iter().map(|u| clicks_of(fake, u.id).len()).sum()
}

/// Clicks lost (a user's count short of what they clicked), clicks applied twice (a count
/// past it, or a number skipped) and replies repeated, over all users.
fn tally(fake: &FakeBotApi, users: &[TestUser]) -> (usize, usize, usize) {
    let (mut lost, mut twice, mut repeats) = (0, 0, 0);
    for u in users {
        let seen = clicks_of(fake, u.id);
        let mut deduped = seen.clone();
        deduped.dedup();
        repeats += seen.len() - deduped.len();
        let last = deduped.iter().copied().max().unwrap_or(0) as usize;
        lost += CLICKS.saturating_sub(last);
        twice += last.saturating_sub(CLICKS);
        twice += deduped.windows(2).filter(|w| w[1] > w[0] + 1).count();
    }
    (lost, twice, repeats)
}
