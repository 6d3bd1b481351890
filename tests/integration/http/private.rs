//! A granted name reaches only public addresses unless the operator grants more
//! (`[modules.<name>] http_private`): the host resolves the name, checks every address and
//! connects to a checked one. `localhost` and `127.0.0.1` stand for a name whose DNS a module's
//! author controls and points at the bot's own machine.

use super::{ask, peers::WebServer, setup};
use crate::support::*;
use botbox_test_artifacts::HTTP_PROBE;

/// A bot whose http-probe also declares `localhost:*`, with the operator's `http_private`.
async fn probe_granted(root: &std::path::Path, private: &[&str]) -> (FakeBotApi, botbox::Runtime) {
    let (fake, mut c) = setup(root, &[HTTP_PROBE]);
    let settings = c.modules.get_mut("http-probe").unwrap();
    settings.http_private = private.iter().map(|p| p.to_string()).collect();
    let host = toml::Value::String("localhost:*".into());
    settings.config.insert("extra_host".into(), host);
    (fake, start(c).await)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_granted_name_resolving_to_loopback_is_refused_without_the_operators_grant() {
    let dir = tempfile::tempdir().unwrap();
    let (fake, rt) = probe_granted(dir.path(), &[]).await;
    let web = WebServer::start().await;
    let alice = TestUser::alice();
    // Both names are granted by the manifest; both resolve to the bot's own machine.
    for host in ["localhost", "127.0.0.1"] {
        let asked = format!("/get http://{host}:{}/hello", web.port);
        let answer = ask(&fake, &alice, &asked).await;
        assert!(
            answer.starts_with("error: HttpRequestDenied"),
            "{host}: {answer}"
        );
    }
    assert_eq!(web.connections(), 0, "the local server saw a connection");
    // The module's log says why, once per name.
    let logs: Vec<String> = rt
        .registry()
        .logs("http-probe", 50)
        .unwrap()
        .into_iter()
        .map(|l| l.text)
        .filter(|t| t.contains("http_private"))
        .collect();
    assert_eq!(logs.len(), 2, "{logs:?}");
    assert!(
        logs[0].contains("localhost") && logs[0].contains("loopback"),
        "{logs:?}"
    );
    assert!(
        logs[1].contains("127.0.0.1, loopback (127.0.0.0/8)"),
        "{logs:?}"
    );
    let again = format!("/get http://localhost:{}/hello", web.port);
    assert!(
        ask(&fake, &alice, &again)
            .await
            .starts_with("error: HttpRequestDenied")
    );
    let told = rt.registry().logs("http-probe", 50).unwrap();
    assert_eq!(
        told.iter()
            .filter(|l| l.text.contains("http_private"))
            .count(),
        2
    );
    rt.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_operators_grant_the_same_names_reach_the_local_server() {
    let dir = tempfile::tempdir().unwrap();
    // `localhost` is 127.0.0.1 and ::1 here: ::1 is not granted and is skipped.
    let (fake, rt) = probe_granted(dir.path(), &["127.0.0.1/32"]).await;
    let web = WebServer::start().await;
    let alice = TestUser::alice();
    for host in ["localhost", "127.0.0.1"] {
        let asked = format!("/get http://{host}:{}/hello", web.port);
        assert_eq!(ask(&fake, &alice, &asked).await, "200 hello", "{host}");
    }
    assert_eq!(web.connections(), 2);
    rt.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_http_private_entry_stops_the_start_and_names_the_entry() {
    let dir = tempfile::tempdir().unwrap();
    let (_fake, mut c) = setup(dir.path(), &[HTTP_PROBE]);
    c.modules.get_mut("http-probe").unwrap().http_private = vec!["10.0.0.0/40".into()];
    let error = botbox::Runtime::start(c).await.err().expect("refused");
    let error = error.to_string();
    assert!(
        error.contains("modules.http-probe.http_private") && error.contains("10.0.0.0/40"),
        "{error}"
    );
}
