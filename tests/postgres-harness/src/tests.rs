use super::*;

#[test]
fn a_committed_row_survives_kill_9_and_restart() {
    let mut pg = Postgres::start().expect("start");
    pg.psql("CREATE TABLE t (n int); INSERT INTO t VALUES (42);")
        .expect("insert");
    let old = pg.pid().expect("running");
    pg.kill().expect("kill -9");
    assert!(!pg.is_running());
    assert!(pg.psql("SELECT 1").is_err(), "the server is down");
    pg.restart().expect("restart");
    assert_ne!(pg.pid(), Some(old));
    assert_eq!(pg.psql("SELECT n FROM t").expect("select"), "42");
    assert!(
        pg.log().contains("database system was interrupted")
            || pg.log().contains("not properly shut down"),
        "the restart ran crash recovery:\n{}",
        pg.log()
    );
}

#[test]
fn two_servers_run_at_once_on_different_ports() {
    let a = Postgres::start().expect("start a");
    let b = Postgres::start().expect("start b");
    assert_ne!(a.port(), b.port());
    assert_ne!(a.data_dir(), b.data_dir());
    a.psql("CREATE TABLE only_in_a (n int)").expect("create");
    assert_eq!(
        a.psql("SELECT count(*) FROM pg_tables WHERE tablename = 'only_in_a'")
            .expect("a"),
        "1"
    );
    assert_eq!(
        b.psql("SELECT count(*) FROM pg_tables WHERE tablename = 'only_in_a'")
            .expect("b"),
        "0"
    );
}

#[test]
fn fsync_is_on_and_a_clean_stop_and_restart_keeps_data() {
    let mut pg = Postgres::start().expect("start");
    assert_eq!(pg.psql("SHOW fsync").expect("show"), "on");
    pg.psql("CREATE TABLE t (n int); INSERT INTO t VALUES (7);")
        .expect("insert");
    pg.stop().expect("stop");
    pg.restart().expect("restart");
    assert_eq!(pg.psql("SELECT n FROM t").expect("select"), "7");
}

#[test]
fn dropping_the_server_stops_it_and_removes_its_directory() {
    let pg = Postgres::start().expect("start");
    let dir = pg.socket_dir().to_path_buf();
    let pid = pg.pid().expect("pid");
    drop(pg);
    assert!(!dir.exists(), "{} is left behind", dir.display());
    let alive = Command::new("kill")
        .args(["-0", &pid.to_string()])
        .stderr(Stdio::null())
        .status()
        .expect("kill -0")
        .success();
    assert!(!alive, "postmaster {pid} still runs");
}

#[test]
fn missing_binaries_are_an_error_that_names_the_debian_package() {
    let empty = tempfile::tempdir().expect("tempdir");
    let e = first_with_server(vec![empty.path().to_path_buf()]).expect_err("no server there");
    assert!(e.to_string().contains("postgresql-15"), "{e}");
    assert!(e.to_string().contains(BINDIR_ENV), "{e}");
    let found = first_with_server(vec![empty.path().to_path_buf(), bindir().expect("bindir")]);
    assert_eq!(found.expect("found"), bindir().expect("bindir"));
}
