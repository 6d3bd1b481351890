//! `botbox dev` with the guard: `:group` makes the person an admin of a simulated group;
//! someone asks to join and presses the captcha; a member floods and is muted; the person
//! bans them in reply — all typed in the terminal.

use crate::dev_terminal::DevTerminal;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn botbox_dev_puts_the_person_in_a_group_where_the_guard_answers_joins_and_bans() {
    let dir = tempfile::tempdir().unwrap();
    let mut dev = DevTerminal::start(dir.path(), botbox_test_artifacts::GUARD);
    dev.say(":group", "you are an admin of Dev group").await;
    dev.say(":join Pat", "You asked to join Dev group").await;
    dev.say(
        ":press Pat I'm a person, let me in",
        "bot in Dev group: Welcome, Pat!",
    )
    .await;
    // `:as` prints nothing: Sam's message is in the group at once, for the reply.
    dev.say(
        ":as Sam spam\n:reply Sam /ban",
        "bot in Dev group: Banned Sam.",
    )
    .await;
    dev.close().await;
}
