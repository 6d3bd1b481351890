use super::*;

#[test]
fn env_overrides_file_and_token_is_never_printed() {
    let mut c =
        Config::from_toml("[telegram]\ntoken = \"1:file\"\nmode = \"polling\"\n").expect("parses");
    c.apply_env(|k| (k == "BOTBOX_TOKEN").then(|| "2:env".to_string()))
        .expect("applies");
    assert_eq!(c.telegram.token.expose(), "2:env");
    assert!(!format!("{c:?}").contains("2:env"));
}

#[test]
fn unknown_keys_are_rejected_with_their_name() {
    let err = Config::from_toml("[sandbox]\nshard = 3\n").unwrap_err();
    assert!(err.to_string().contains("shard"), "{err}");
}

#[test]
fn the_example_file_is_valid_and_shows_the_defaults() {
    let example = Config::from_toml(include_str!("../../../botbox.example.toml")).expect("parses");
    assert_eq!(format!("{example:?}"), format!("{:?}", Config::default()));
}

#[test]
fn webhook_mode_requires_a_secret() {
    let mut c = Config::default();
    c.telegram.token = Secret::new("1:x");
    c.telegram.mode = Mode::Webhook;
    assert!(c.validate().unwrap_err().to_string().contains("secret"));
    // Too short to keep a guesser out, or with characters Telegram refuses.
    for weak in [
        "s3cret",
        "right-secret",
        "a b c d e f g h i j k l",
        &"x".repeat(257),
    ] {
        c.telegram.webhook.secret = Secret::new(weak);
        let e = c.validate().unwrap_err().to_string();
        assert!(e.contains("16-256 of A-Z a-z 0-9 _ -"), "{weak}: {e}");
    }
    c.telegram.webhook.secret = Secret::new("0123456789abcdef_-XY");
    c.validate().unwrap();
}

#[test]
fn keeping_no_backups_is_refused() {
    let mut c = Config::default();
    c.telegram.token = Secret::new("1:x");
    c.backup.keep = 0;
    assert!(
        c.validate()
            .unwrap_err()
            .to_string()
            .contains("`backup.keep` must be at least 1")
    );
}

#[test]
fn settings_that_would_stop_delivery_or_a_shard_are_refused_with_their_name() {
    let base = || {
        let mut c = Config::default();
        c.telegram.token = Secret::new("1:token");
        c
    };
    let refused = |c: Config| c.validate().unwrap_err().to_string();

    let mut c = base();
    c.modules.insert(
        "clicker".into(),
        ModuleSettings {
            outbox_per_minute: Some(0),
            ..ModuleSettings::default()
        },
    );
    assert!(refused(c).contains("modules.clicker.outbox_per_minute"));

    let mut c = base();
    c.sandbox.max_scan_entries = 0;
    assert!(refused(c).contains("sandbox.max_scan_entries"));

    let mut c = base();
    c.outbox.chat_per_second = f64::INFINITY;
    assert!(refused(c).contains("outbox"));

    let mut c = base();
    c.telegram.poll_timeout_secs = 51;
    assert!(refused(c).contains("poll_timeout_secs"));

    assert!(base().validate().is_ok(), "the defaults are valid");
}

#[test]
fn backup_encryption_settings_are_checked_at_start() {
    let mut c = Config::default();
    c.telegram.token = Secret::new("1:x");
    c.backup.encrypt_to = vec!["age1notakey".into()];
    let e = c.validate().unwrap_err().to_string();
    assert!(e.contains("is not an age public key"), "{e}");
    c.backup.encrypt_to = vec![age::x25519::Identity::generate().to_public().to_string()];
    c.validate().unwrap();
    c.backup.passphrase_file = Some("/nonexistent/passphrase".into());
    let e = c.validate().unwrap_err().to_string();
    assert!(e.contains("cannot both be set"), "{e}");
    c.backup.encrypt_to.clear();
    let e = c.validate().unwrap_err().to_string();
    assert!(
        e.contains("backup.passphrase_file") && e.contains("/nonexistent/passphrase"),
        "{e}"
    );
}

#[test]
fn kv_limits_stay_within_what_a_backup_holds() {
    let mut c = Config::default();
    c.telegram.token = Secret::new("1:x");
    c.sandbox.max_value_bytes = (64 << 20) + 1;
    let e = c.validate().unwrap_err().to_string();
    assert!(
        e.contains("`sandbox.max_value_bytes` may be at most 67108864"),
        "{e}"
    );
}

#[test]
fn a_module_s_wants_name_known_kinds_and_an_unknown_one_is_refused_with_its_name() {
    let mut c = Config::default();
    c.telegram.token = Secret::new("1:x");
    let mut narrowed = ModuleSettings {
        wants: Some(vec!["messages".into(), "poll_answer".into()]),
        ..ModuleSettings::default()
    };
    c.modules.insert("quiz".into(), narrowed.clone());
    c.validate().unwrap();
    narrowed.wants = Some(vec!["callback_query".into()]);
    c.modules.insert("quiz".into(), narrowed);
    let e = c.validate().unwrap_err().to_string();
    assert!(
        e.contains("modules.quiz.wants") && e.contains("callback_query"),
        "{e}"
    );
}

#[test]
fn payments_deadline_and_member_chats_are_checked_with_the_setting_named() {
    let with = |toml: &str| {
        let mut c = Config::from_toml(toml).expect("parses");
        c.telegram.token = Secret::new("1:x");
        c.validate().map_err(|e| e.to_string())
    };
    let late = with("[payments]\nanswer_within_ms = 10000\n").unwrap_err();
    assert!(late.contains("payments.answer_within_ms"), "{late}");
    let empty = with("[payments]\ndeclined_message = \"\"\n").unwrap_err();
    assert!(empty.contains("payments.declined_message"), "{empty}");
    let ungranted = with("[modules.guard]\nmember_chats = [-100]\n").unwrap_err();
    assert!(
        ungranted.contains("modules.guard.member_chats"),
        "{ungranted}"
    );
    with("[modules.guard]\nbot_api_grants = [\"members\"]\nmember_chats = [-100]\n")
        .expect("granted and narrowed");
}
