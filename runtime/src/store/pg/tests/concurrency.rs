//! Concurrent transactions on separate connections, as on several nodes sharing one database.

use super::*;

/// Runs `tasks` copies of `f(task)` at once and returns their results in task order.
async fn all<T: Send + 'static, F>(tasks: u32, f: impl Fn(u32) -> F) -> Vec<T>
where
    F: std::future::Future<Output = T> + Send + 'static,
{
    let handles: Vec<_> = (0..tasks).map(|i| tokio::spawn(f(i))).collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.expect("task"));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_incrementers_on_eight_connections_never_lose_an_update() {
    let (_pg, _pool, ns) = server(LIMITS, ROOMY).await;
    let ns = Arc::new(ns);
    const TASKS: u32 = 8;
    const EACH: u32 = 25;
    // On their first run, all eight have read the counter before any of them commits.
    let barrier = Arc::new(tokio::sync::Barrier::new(TASKS as usize));
    let refused: Vec<u32> = all(TASKS, |task| {
        let (ns, barrier) = (ns.clone(), barrier.clone());
        async move {
            let (mut refused, mut first) = (0, true);
            for _ in 0..EACH {
                // The handler shape of the benchmark: count, and remember who counted last.
                let ((), r) = until_committed!(ns, |t| async {
                    ns.increment(&mut t, b"n", 1).await?;
                    if std::mem::take(&mut first) {
                        barrier.wait().await;
                    }
                    ns.set(&mut t, b"last", &task.to_be_bytes()).await
                });
                refused += r;
            }
            refused
        }
    })
    .await;
    let mut t = ns.begin().await.unwrap();
    let n = ns.get(&mut t, b"n").await.unwrap().expect("n");
    assert_eq!(
        i64::from_be_bytes(n.try_into().unwrap()),
        i64::from(TASKS * EACH)
    );
    ns.abort(&mut t).await;
    // Eight transactions read the same counter at once: at most one of them may commit.
    assert!(
        refused.iter().sum::<u32>() >= TASKS - 1,
        "concurrent read-modify-writes of one key were not all refused but one"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn of_eight_racing_compare_and_swaps_exactly_one_wins() {
    let (_pg, _pool, ns) = server(LIMITS, ROOMY).await;
    let ns = Arc::new(ns);
    // All eight read the key before any of them commits (on their first run).
    let barrier = Arc::new(tokio::sync::Barrier::new(8));
    let won: Vec<bool> = all(8, |task| {
        let (ns, barrier) = (ns.clone(), barrier.clone());
        async move {
            let mut first = true;
            let (won, _) = until_committed!(ns, |t| async {
                let me = task.to_be_bytes();
                let swapped = ns
                    .compare_and_swap(&mut t, b"leader", None, Some(&me))
                    .await?;
                if std::mem::take(&mut first) {
                    barrier.wait().await;
                }
                Ok(swapped)
            });
            won
        }
    })
    .await;
    assert_eq!(won.iter().filter(|w| **w).count(), 1, "{won:?}");
    let winner = won.iter().position(|w| *w).unwrap() as u32;
    let mut t = ns.begin().await.unwrap();
    let leader = ns.get(&mut t, b"leader").await.unwrap();
    assert_eq!(leader, Some(winner.to_be_bytes().to_vec()));
    ns.abort(&mut t).await;
}

fn account(i: u64) -> Vec<u8> {
    format!("a/{i}").into_bytes()
}

fn int(v: Option<Vec<u8>>) -> i64 {
    i64::from_be_bytes(v.expect("a balance").try_into().expect("8 bytes"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_paged_scan_sees_one_state_while_transfers_commit() {
    let (_pg, _pool, ns) = server(LIMITS, ROOMY).await;
    let ns = Arc::new(ns);
    let mut t = ns.begin().await.unwrap();
    for i in 0..10 {
        ns.set(&mut t, &account(i), &10i64.to_be_bytes())
            .await
            .unwrap();
    }
    assert!(commit(&ns, &mut t).await);
    // Four movers shift units between accounts while two scanners add them all up, three
    // entries a page (the limit caps pages at 3): every committed scan must see 100.
    let movers = all(4, |task| {
        let ns = ns.clone();
        async move {
            for step in 0..30u64 {
                let (from, to) = ((u64::from(task) + step) % 10, (step * 7 + 3) % 10);
                until_committed!(ns, |t| async {
                    let a = int(ns.get(&mut t, &account(from)).await?);
                    let b = int(ns.get(&mut t, &account(to)).await?);
                    if from != to {
                        ns.set(&mut t, &account(from), &(a - 1).to_be_bytes())
                            .await?;
                        ns.set(&mut t, &account(to), &(b + 1).to_be_bytes()).await?;
                    }
                    Ok(())
                });
            }
        }
    });
    let scanners = all(2, |_| {
        let ns = ns.clone();
        async move {
            let mut sums = Vec::new();
            for _ in 0..20 {
                let (sum, _) = until_committed!(ns, |t| async {
                    let (mut sum, mut after, mut pages) = (0i64, None::<Vec<u8>>, 0);
                    loop {
                        let (page, next) = ns.scan(&mut t, b"a/", after.as_deref(), 3).await?;
                        pages += 1;
                        sum += page.into_iter().map(|(_, v)| int(Some(v))).sum::<i64>();
                        match next {
                            Some(n) => after = Some(n),
                            None => break,
                        }
                    }
                    assert_eq!(pages, 4, "ten accounts, three a page");
                    Ok(sum)
                });
                sums.push(sum);
            }
            sums
        }
    });
    let (_, sums) = tokio::join!(movers, scanners);
    for sum in sums.into_iter().flatten() {
        assert_eq!(sum, 100);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_transactions_that_fit_the_quota_only_one_at_a_time_do_not_both_commit() {
    let quota = Quota {
        max_bytes: 1000,
        max_keys: 3,
    };
    let (_pg, _pool, ns) = server(LIMITS, quota).await;
    let mut seed = ns.begin().await.unwrap();
    ns.set(&mut seed, b"a", b"v").await.unwrap();
    ns.set(&mut seed, b"b", b"v").await.unwrap();
    assert!(commit(&ns, &mut seed).await);
    let mut x = ns.begin().await.unwrap();
    let mut y = ns.begin().await.unwrap();
    ns.set(&mut x, b"x", b"v").await.unwrap();
    ns.set(&mut y, b"y", b"v").await.unwrap();
    assert!(commit(&ns, &mut x).await);
    assert!(!commit(&ns, &mut y).await, "both would make 4 keys");
    // Run again, the call sees the quota full.
    let mut y = ns.begin().await.unwrap();
    assert!(matches!(
        ns.set(&mut y, b"y", b"v").await,
        Err(KvError::QuotaExceeded(_))
    ));
    ns.abort(&mut y).await;
}
