use super::*;

#[test]
fn a_committed_row_survives_a_crash_of_the_primary_and_nothing_outlives_the_cluster() {
    let Some(mut cluster) = PatroniCluster::start_unless_missing() else {
        return;
    };
    let dir = cluster.dir().to_path_buf();
    let first = cluster.primary_name().unwrap();
    assert_eq!(
        cluster
            .members()
            .unwrap()
            .iter()
            .filter(|m| m.role == "sync_standby")
            .count(),
        1
    );
    cluster
        .psql("CREATE TABLE t (n int); INSERT INTO t VALUES (42);")
        .unwrap();
    let killed = Instant::now();
    assert_eq!(cluster.kill_primary().unwrap(), first);
    let next = cluster
        .wait_for_new_leader(&first, Duration::from_secs(120))
        .unwrap();
    eprintln!("{first} killed, {next} leads after {:?}", killed.elapsed());
    assert_ne!(next, first);
    assert_eq!(cluster.psql("SELECT n FROM t").unwrap(), "42");
    // The remaining standby becomes synchronous: writes go on (strict mode would block them
    // otherwise).
    cluster.psql("INSERT INTO t VALUES (43)").unwrap();
    assert!(cluster.url().contains("target_session_attrs=read-write"));
    drop(cluster);
    assert!(!dir.exists(), "{} is left behind", dir.display());
    assert_eq!(
        processes_in(&dir),
        Vec::<u32>::new(),
        "processes left behind"
    );
}

#[test]
fn missing_patroni_or_etcd_is_an_error_that_names_the_debian_packages() {
    let empty = tempfile::tempdir().unwrap();
    let e = binaries_in(&[empty.path().to_path_buf()]).expect_err("nothing there");
    assert!(
        e.to_string()
            .contains("apt-get install patroni etcd-server"),
        "{e}"
    );
    assert!(e.to_string().contains("no patroni, no etcd"), "{e}");
}
