//! What the download-queue module and its downloader refuse: links into the bot's own network
//! (by the link, by what a name resolves to, by where a redirect leads), a download past its
//! time limit, and any downloader while the operator set no registry token.

use download_queue_downloader::proto::RegisterRequest;
use download_queue_downloader::registrar;

use super::bot::*;
use super::peers::*;
use crate::support::*;

/// The journal's `finished` entry whose error contains `needle`, once there is one.
async fn failed_with(downloader: &Downloader, needle: &str) -> String {
    let find = || {
        downloader
            .journal()
            .into_iter()
            .filter(|e| e["event"] == "finished" && e["ok"] == false)
            .filter_map(|e| e["error"].as_str().map(String::from))
            .find(|error| error.contains(needle))
    };
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while find().is_none() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no job failed with {needle:?}; the journal: {:#?}",
            downloader.journal()
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    find().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn links_into_the_bot_s_network_are_refused_and_without_a_registry_token_no_downloader_gets_in()
 {
    let dir = tempfile::tempdir().unwrap();
    let settings = [("internal_link_hosts", ""), ("registry_token", "")];
    let (fake, rt, url) = start_bot(dir.path(), &settings, |_| {}).await;
    let alice = TestUser::alice();
    let answer = ask(
        &fake,
        &alice,
        "http://169.254.169.254/latest/meta-data/ http://localhost:9180/metrics http://2130706433/x",
        "I found no link to download",
    )
    .await;
    for link in [
        "\"http://169.254.169.254/latest/meta-data/\" points inside the bot's own network",
        "\"http://localhost:9180/metrics\" points inside the bot's own network",
        "\"http://2130706433/x\" points inside the bot's own network",
    ] {
        assert!(answer.contains(link), "{link}: {answer}");
    }

    // No registry_token: no downloader is accepted, whatever it sends.
    let mut client = registrar::client(&url).unwrap();
    for token in ["", "guess"] {
        let status = client
            .register(RegisterRequest {
                name: "x".into(),
                addresses: vec!["http://127.0.0.1:1".into()],
                token: token.into(),
            })
            .await
            .unwrap_err();
        assert_eq!(status.code(), tonic::Code::PermissionDenied, "{status:?}");
        assert!(
            status.message().contains("set no registry_token"),
            "{status:?}"
        );
    }
    // And the downloader will not start without one.
    let exe = tokio::task::spawn_blocking(downloader_exe).await.unwrap();
    let out = tokio::process::Command::new(exe)
        .args(["--bot-url", &url, "--name", "x", "--token", ""])
        .env_remove("DQ_TOKEN")
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("--token (DQ_TOKEN) is empty"), "{stderr}");
    stop(rt, []).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_downloader_follows_redirects_but_not_into_the_network_and_gives_up_at_its_time_limit()
{
    let dir = tempfile::tempdir().unwrap();
    let files = file_server().await;
    let port = files.port();
    // The module lets `localhost` through; the downloader (which allows only 127.0.0.1, as
    // written) refuses it. (What a public-looking name resolves to is checked by its resolver:
    // `guard::tests::a_name_resolving_only_inside_the_network_is_refused`.)
    let settings = [("internal_link_hosts", "127.0.0.1,localhost")];
    let (fake, rt, url) = start_bot(dir.path(), &settings, |_| {}).await;
    let a = Downloader::start_with(dir.path(), "a", &url, &[("DQ_TIMEOUT_SECS", "2")]).await;
    a.wait_line("registered a", 1).await;
    let alice = TestUser::alice();
    let queue = async |link: String| {
        ask(&fake, &alice, &link, "Queued 1 link").await;
    };

    queue(format!("http://{files}/redirect/moved.bin")).await;
    wait_downloaded(&[&a], "720p", "moved.bin").await;

    queue(format!("http://{files}/to-metadata")).await;
    let error = failed_with(&a, "refused a redirect to http://169.254.169.254/").await;
    assert!(error.contains("inside this network"), "{error}");

    queue(format!("http://localhost:{port}/files/named.bin")).await;
    let error = failed_with(&a, "refused: localhost is inside this network").await;
    assert!(a.file("720p", "named.bin").is_none(), "{error}");

    queue(format!("http://{files}/slow/endless.bin")).await;
    failed_with(
        &a,
        "gave up after 2 seconds, the time allowed for one download",
    )
    .await;
    stop(rt, [a]).await;
}
