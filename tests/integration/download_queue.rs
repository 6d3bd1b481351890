//! The download-queue example module end to end: the fake Bot API, the real runtime serving the
//! module's gRPC registry, real downloader processes (`download-queue-downloader`) that
//! register over gRPC and download from a local file server into a folder per quality.

mod bot;
mod peers;
mod refusals;

use crate::support::*;
use bot::*;
use download_queue_downloader::proto::RegisterRequest;
use download_queue_downloader::registrar;
use peers::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn links_are_queued_a_button_changes_a_quality_and_on_schedule_real_downloaders_fetch_the_files_and_the_messages_go()
 {
    let dir = tempfile::tempdir().unwrap();
    let files = file_server().await;
    let (fake, rt, url) = start_bot(dir.path(), &[("delay_secs", "6")], |_| {}).await;
    let a = Downloader::start(dir.path(), "a", &url).await;
    let b = Downloader::start(dir.path(), "b", &url).await;
    a.wait_line("registered a", 1).await;
    b.wait_line("registered b", 1).await;
    let alice = TestUser::alice();
    let status = ask(
        &fake,
        &alice,
        &format!("http://{files}/files/one.bin http://{files}/files/two.bin"),
        "Queued 2 links",
    )
    .await;
    assert!(
        status.contains("Change the quality with the buttons"),
        "{status}"
    );
    let first = fake
        .wait_for_bot_text(alice.id, &format!("#1 http://{files}/files/one.bin"), WAIT)
        .await
        .unwrap();
    assert!(first.text.contains("Quality: 720p"), "{}", first.text);
    press(&fake, &alice, &first, "480p");
    let edited = fake
        .wait_for_bot_text(alice.id, "Quality: 480p", WAIT)
        .await
        .unwrap();
    assert_eq!(edited.message_id, first.message_id);
    assert!(edited.inline_button("• 480p").is_some());

    let both = [&a, &b];
    wait_downloaded(&both, "480p", "one.bin").await;
    wait_downloaded(&both, "720p", "two.bin").await;
    fake.wait_for_bot_text(alice.id, "Downloaded #1", WAIT)
        .await
        .unwrap();
    fake.wait_for_bot_text(alice.id, "Downloaded #2", WAIT)
        .await
        .unwrap();
    // The links' messages (with their keyboards) and the insertion status message are gone.
    fake.wait_until(WAIT, |v| {
        v.transcript(alice.id)
            .iter()
            .filter(|e| e.from_bot && (e.text.starts_with('#') || e.text.starts_with("Queued")))
            .all(|e| e.deleted)
    })
    .await
    .unwrap();
    assert!(downloaded(&both, "720p", "one.bin").is_none());
    let list = ask(&fake, &alice, "/list", "queue").await;
    assert_eq!(list, "You have no links in the queue.");
    stop(rt, [a, b]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_one_downloader_refuses_the_other_takes_the_link_and_when_both_fail_the_link_waits_with_its_error_and_goes_later()
 {
    let dir = tempfile::tempdir().unwrap();
    let files = file_server().await;
    let (fake, rt, url) = start_bot(dir.path(), &[], |_| {}).await;
    let a = Downloader::start(dir.path(), "a", &url).await;
    let b = Downloader::start(dir.path(), "b", &url).await;
    a.wait_line("registered a", 1).await;
    b.wait_line("registered b", 1).await;
    let alice = TestUser::alice();
    let both = [&a, &b];

    // `a` refuses everything; whichever the module picks first, `b` downloads every link. The
    // first pick is random: send links until `a` was asked first at least once.
    a.pause("maintenance");
    let refused = |d: &Downloader| d.journal().iter().any(|e| e["event"] == "refused");
    for i in 0..20 {
        let name = format!("f{i}.bin");
        ask(
            &fake,
            &alice,
            &format!("http://{files}/files/{name}"),
            "Queued 1 link",
        )
        .await;
        wait_downloaded(&[&b], "720p", &name).await;
        if refused(&a) {
            break;
        }
    }
    assert!(refused(&a), "a was never asked first in 20 links");
    assert!(a.journal().iter().all(|e| e["event"] != "accepted"));

    // Both refuse: the link stays queued, with both errors, and tries again later.
    b.pause("disk full");
    ask(
        &fake,
        &alice,
        &format!("http://{files}/files/late.bin"),
        "Queued 1 link",
    )
    .await;
    fake.wait_for_bot_text(alice.id, "Try 1 failed", WAIT)
        .await
        .unwrap();
    let list = ask(&fake, &alice, "/list", "Your queued links").await;
    assert!(list.contains("late.bin"), "{list}");
    assert!(list.contains("a refused: paused: maintenance"), "{list}");
    assert!(list.contains("b refused: paused: disk full"), "{list}");
    fake.wait_for_bot_text(alice.id, "Try 2 failed", WAIT)
        .await
        .unwrap();
    b.resume();
    wait_downloaded(&both, "720p", "late.bin").await;
    let done = ask(&fake, &alice, "/list", "queue").await;
    assert_eq!(done, "You have no links in the queue.");
    stop(rt, [a, b]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_downloader_that_registers_again_under_its_name_with_a_new_address_gets_the_next_job_there()
 {
    let dir = tempfile::tempdir().unwrap();
    let files = file_server().await;
    let (fake, rt, url) = start_bot(dir.path(), &[], |_| {}).await;
    let a = Downloader::start(dir.path(), "a", &url).await;
    a.wait_line("registered a", 1).await;
    let old = a.listening();
    let new = a.move_to_new_port();
    assert_ne!(old, new);
    a.wait_line(&format!("registered a at http://{new}"), 1)
        .await;
    let carol = carol();
    let known = ask(&fake, &carol, "/downloaders", "registered").await;
    assert!(known.contains(&format!("a at http://{new}")), "{known}");
    assert!(!known.contains(&old), "{known}");

    let alice = TestUser::alice();
    ask(
        &fake,
        &alice,
        &format!("http://{files}/files/moved.bin"),
        "Queued 1 link",
    )
    .await;
    wait_downloaded(&[&a], "720p", "moved.bin").await;
    let accepted: Vec<_> = a
        .journal()
        .into_iter()
        .filter(|e| e["event"] == "accepted")
        .collect();
    assert_eq!(accepted.len(), 1, "{accepted:?}");
    assert_eq!(accepted[0]["local_addr"], new.as_str());
    stop(rt, [a]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registration_over_grpc_checks_name_address_and_token_and_the_same_name_replaces_the_whole_record()
 {
    let dir = tempfile::tempdir().unwrap();
    let (fake, rt, url) = start_bot(dir.path(), &[("registry_token", "s3cret")], |_| {}).await;
    let mut client = registrar::client(&url).unwrap();
    let register = |name: &str, addresses: &[&str], token: &str| RegisterRequest {
        name: name.into(),
        addresses: addresses.iter().map(|a| a.to_string()).collect(),
        token: token.into(),
    };
    let status = client
        .register(register("x", &["http://127.0.0.1:1"], "wrong"))
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::PermissionDenied, "{status:?}");
    let status = client
        .register(register("bad name!", &["http://127.0.0.1:1"], "s3cret"))
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
    assert!(
        status.message().contains("name \"bad name!\""),
        "{status:?}"
    );
    let status = client
        .register(register("x", &["ftp://127.0.0.1:1"], "s3cret"))
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
    assert!(status.message().contains("must be an http"), "{status:?}");

    let first = register("x", &["http://127.0.0.1:1", "http://127.0.0.1:2"], "s3cret");
    let reply = client.register(first).await.unwrap().into_inner();
    assert_eq!(reply.downloaders, 1);
    let second = register("x", &["http://127.0.0.1:3"], "s3cret");
    let reply = client.register(second).await.unwrap().into_inner();
    assert_eq!(reply.downloaders, 1, "the same name is one downloader");
    let known = ask(&fake, &carol(), "/downloaders", "registered").await;
    assert!(known.contains("x at http://127.0.0.1:3"), "{known}");
    assert!(!known.contains(":1 ") && !known.contains(":2 "), "{known}");
    // Not an admin: no list.
    let answer = ask(&fake, &TestUser::alice(), "/downloaders", "admins").await;
    assert_eq!(answer, "Only admins can see the downloaders.");
    stop(rt, []).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_see_and_manage_only_their_own_links_and_an_admin_sees_and_manages_all() {
    let dir = tempfile::tempdir().unwrap();
    // Links stay queued: they are due in ten minutes.
    let (fake, rt, _url) = start_bot(dir.path(), &[("delay_secs", "600")], |_| {}).await;
    let (alice, bob, carol) = (TestUser::alice(), TestUser::bob(), carol());
    ask(
        &fake,
        &alice,
        "https://example.org/alice.mp4",
        "Queued 1 link",
    )
    .await;
    ask(&fake, &bob, "https://example.org/bob.mp4", "Queued 1 link").await;
    let alices = fake
        .wait_for_bot_text(alice.id, "#1 https://example.org/alice.mp4", WAIT)
        .await
        .unwrap();
    fake.wait_for_bot_text(bob.id, "#2 https://example.org/bob.mp4", WAIT)
        .await
        .unwrap();

    // Plain chat is left to the bot's other modules (`answer_plain_text` is off by default):
    // the chat's updates are handled in order, so the /list answer comes after its handling.
    fake.send_text(&alice, "Click");
    let list = ask(&fake, &alice, "/list", "queued links").await;
    assert!(
        list.contains("alice.mp4") && !list.contains("bob.mp4"),
        "{list}"
    );
    assert!(
        !bot_texts(&fake, alice.id)
            .iter()
            .any(|t| t.contains("no link"))
    );
    let list = ask(&fake, &bob, "/list", "queued links").await;
    assert!(
        list.contains("bob.mp4") && !list.contains("alice.mp4"),
        "{list}"
    );
    let refused = ask(&fake, &bob, "/remove 1", "#1").await;
    assert!(refused.contains("is not yours"), "{refused}");
    let refused = ask(&fake, &bob, "/quality 1 480p", "#1").await;
    assert!(refused.contains("is not yours"), "{refused}");
    // Alice's own buttons work for her.
    press(&fake, &alice, &alices, "best");
    fake.wait_for_bot_text(alice.id, "Quality: best", WAIT)
        .await
        .unwrap();

    let list = ask(&fake, &carol, "/list", "All queued links").await;
    assert!(
        list.contains("alice.mp4 [best]") && list.contains("by Alice (1001)"),
        "{list}"
    );
    assert!(
        list.contains("bob.mp4 [720p]") && list.contains("by Bob (1002)"),
        "{list}"
    );
    assert_eq!(
        ask(&fake, &carol, "/quality 1 480p", "#1").await,
        "#1: quality 480p."
    );
    fake.wait_for_bot_text(alice.id, "Quality: 480p", WAIT)
        .await
        .unwrap();
    assert_eq!(ask(&fake, &carol, "/remove 2", "#2").await, "Cancelled #2.");
    fake.wait_for_bot_text(bob.id, "An admin cancelled #2", WAIT)
        .await
        .unwrap();
    fake.wait_until(WAIT, |v| {
        v.transcript(bob.id)
            .iter()
            .filter(|e| e.text.starts_with("#2 ") || e.text.starts_with("Queued"))
            .all(|e| e.deleted)
    })
    .await
    .unwrap();
    assert_eq!(
        ask(&fake, &bob, "/list", "queue").await,
        "You have no links in the queue."
    );
    stop(rt, []).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_module_whose_http_grant_the_operator_took_away_cannot_reach_its_downloaders() {
    let dir = tempfile::tempdir().unwrap();
    let files = file_server().await;
    let (fake, rt, url) = start_bot(dir.path(), &[], |module| {
        module.http_hosts = Some(Vec::new());
    })
    .await;
    let a = Downloader::start(dir.path(), "a", &url).await;
    // Incoming gRPC still works: registering needs no grant.
    a.wait_line("registered a", 1).await;
    let alice = TestUser::alice();
    ask(
        &fake,
        &alice,
        &format!("http://{files}/files/x.bin"),
        "Queued 1 link",
    )
    .await;
    fake.wait_for_bot_text(alice.id, "Try 1 failed", WAIT)
        .await
        .unwrap();
    let list = ask(&fake, &alice, "/list", "Your queued links").await;
    assert!(list.contains("a: HttpRequestDenied"), "{list}");
    assert!(a.journal().iter().all(|e| e["event"] != "accepted"));
    assert!(a.file("720p", "x.bin").is_none());
    stop(rt, [a]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_a_clear_answer_and_the_queue_keeps_working() {
    let dir = tempfile::tempdir().unwrap();
    let settings = [
        ("delay_secs", "600"),
        ("max_links_per_message", "3"),
        ("max_links_per_minute", "4"),
        ("max_text_chars", "500"),
        ("max_link_chars", "100"),
        ("answer_plain_text", "true"),
    ];
    let (fake, rt, _url) = start_bot(dir.path(), &settings, |_| {}).await;
    let alice = TestUser::alice();
    let answer = ask(&fake, &alice, "hello there", "no link").await;
    assert!(
        answer.starts_with("I found no link to download."),
        "{answer}"
    );
    assert!(
        answer.contains("Send http:// or https:// links"),
        "{answer}"
    );
    let answer = ask(&fake, &alice, "ftp://example.org/a.iso", "no link").await;
    assert!(answer.contains("unsupported scheme ftp"), "{answer}");
    let answer = ask(&fake, &alice, "example.org/a.mp4", "no link").await;
    assert!(
        answer.contains("links start with http:// or https://"),
        "{answer}"
    );
    let long = format!("https://example.org/{}", "x".repeat(600));
    let answer = ask(&fake, &alice, &long, "too long").await;
    assert!(
        answer.starts_with("Your message is too long: 620 characters (at most 500)."),
        "{answer}"
    );
    let long = format!("https://example.org/{}", "x".repeat(130));
    let answer = ask(&fake, &alice, &long, "too long").await;
    assert!(
        answer.contains("is too long for a link (150 characters, at most 100)"),
        "{answer}"
    );
    let many: Vec<String> = (0..4).map(|i| format!("https://example.org/{i}")).collect();
    let answer = ask(&fake, &alice, &many.join(" "), "Too many links").await;
    assert!(answer.contains("4 (at most 3)"), "{answer}");
    // Good links with a near miss: the links are queued and the near miss explained.
    let answer = ask(
        &fake,
        &alice,
        "https://example.org/1 see example.org/oops and https://example.org/2",
        "Queued 2 links",
    )
    .await;
    assert!(
        answer.contains("Skipped: \"example.org/oops\" is not a link: links start with"),
        "{answer}"
    );
    assert!(!answer.contains("\"see\""), "{answer}");
    // A flood: four links a minute at most, two sent, three more refused whole.
    let answer = ask(
        &fake,
        &alice,
        "https://example.org/3 https://example.org/4 https://example.org/5",
        "Slow down",
    )
    .await;
    assert!(
        answer.contains("at most 4 links a minute, and you sent 2"),
        "{answer}"
    );
    let list = ask(&fake, &alice, "/list", "Your queued links").await;
    assert_eq!(list.lines().count(), 3, "{list}");
    assert!(
        list.contains("example.org/1") && list.contains("example.org/2"),
        "{list}"
    );
    // Bob is not slowed down by Alice.
    ask(
        &fake,
        &TestUser::bob(),
        "https://example.org/b",
        "Queued 1 link",
    )
    .await;
    stop(rt, []).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_link_that_cannot_be_stored_goes_to_a_downloader_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let files = file_server().await;
    // Room for the downloader, the timer, the user's rate and the id counter, not for a link.
    let (fake, rt, url) = start_bot(dir.path(), &[("delay_secs", "600")], |module| {
        module.kv_max_keys = Some(4);
    })
    .await;
    let a = Downloader::start(dir.path(), "a", &url).await;
    a.wait_line("registered a", 1).await;
    let alice = TestUser::alice();
    fake.send_text(&alice, format!("http://{files}/files/now.bin"));
    let status = fake
        .wait_for_bot_text(alice.id, "went straight to downloader a", WAIT)
        .await
        .unwrap();
    assert!(
        status.text.contains("could not be queued (quota exceeded"),
        "{}",
        status.text
    );
    wait_downloaded(&[&a], "720p", "now.bin").await;
    stop(rt, [a]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_exchange_with_a_downloader_refreshes_the_addresses_the_module_knows() {
    let dir = tempfile::tempdir().unwrap();
    let files = file_server().await;
    let (fake, rt, url) = start_bot(dir.path(), &[], |_| {}).await;
    let a = Downloader::start(dir.path(), "a", &url).await;
    a.wait_line("registered a", 1).await;
    let real = format!("http://{}", a.listening());
    // A stale record: a dead address first, then the real one (as after a move half done).
    let mut client = registrar::client(&url).unwrap();
    let stale = RegisterRequest {
        name: "a".into(),
        addresses: vec!["http://127.0.0.1:1".into(), real.clone()],
        token: REGISTRY_TOKEN.into(),
    };
    client.register(stale).await.unwrap();
    let carol = carol();
    let known = ask(&fake, &carol, "/downloaders", "registered").await;
    assert!(
        known.contains(&format!("a at http://127.0.0.1:1 {real}")),
        "{known}"
    );

    let alice = TestUser::alice();
    ask(
        &fake,
        &alice,
        &format!("http://{files}/files/fresh.bin"),
        "Queued 1 link",
    )
    .await;
    wait_downloaded(&[&a], "720p", "fresh.bin").await;
    // The job went to the second address; the answer (and the report) named the one address.
    let known = ask(&fake, &carol, "/downloaders", "registered").await;
    assert!(known.contains(&format!("a at {real} (")), "{known}");
    assert!(!known.contains("127.0.0.1:1 "), "{known}");
    stop(rt, [a]).await;
}
