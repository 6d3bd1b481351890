use super::*;

fn requests(hosts: &[&str], timers: bool, updates: &[&str], rate: Option<u32>) -> Requests {
    Requests {
        http_hosts: hosts.iter().map(|h| h.to_string()).collect(),
        timers,
        updates: updates.iter().map(|u| u.to_string()).collect(),
        outbox_per_minute: rate,
        commands: vec!["start".into()],
    }
}

#[test]
fn a_new_host_timers_a_new_kind_or_a_higher_rate_ask_for_more() {
    let old = requests(&["api.example.com"], false, &["messages"], Some(20));
    for new in [
        requests(
            &["api.example.com", "evil.example"],
            false,
            &["messages"],
            Some(20),
        ),
        requests(&["api.example.com"], true, &["messages"], Some(20)),
        requests(
            &["api.example.com"],
            false,
            &["chat_member", "messages"],
            Some(20),
        ),
        requests(&["api.example.com"], false, &["messages"], Some(21)),
        requests(&["api.example.com"], false, &["messages"], None),
    ] {
        let c = Changes::between(Some(&old), &new);
        assert!(c.widens(), "{new:?} should ask for more: {c:?}");
        assert_eq!(c.asks_for_more.len(), 1, "{c:?}");
    }
}

#[test]
fn fewer_requests_and_the_same_requests_need_no_approval_and_say_what_changed() {
    let old = requests(
        &["a.example", "b.example"],
        true,
        &["messages", "other updates"],
        None,
    );
    let fewer = requests(&["a.example"], false, &["messages"], Some(10));
    let c = Changes::between(Some(&old), &fewer);
    assert!(!c.widens(), "{c:?}");
    assert_eq!(
        c.asks_for_less,
        [
            "HTTP host b.example",
            "timers",
            "updates: other updates",
            "messages a minute: no limit of its own → 10"
        ]
    );
    let same = Changes::between(Some(&old), &old);
    assert_eq!(same.lines(), ["no change in what it asks for"]);
}

#[test]
fn a_new_module_asks_for_everything_it_declares_and_commands_are_listed() {
    let mut new = requests(&["api.example.com"], true, &["messages"], Some(5));
    new.commands = vec!["go".into(), "start".into()];
    let c = Changes::between(None, &new);
    assert_eq!(
        c.lines(),
        [
            "+ HTTP host api.example.com",
            "+ timers",
            "+ updates: messages",
            "+ messages a minute: 5",
            "commands: +/go +/start"
        ]
    );
}
