//! A damaged or truncated `botbox.redb`: the bot says which file and the way back (the newest
//! backup, which `botbox doctor` finds too), and never starts on an emptied store.

use std::time::Duration;

use botbox_test_artifacts::CLICKER;

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_truncated_database_is_named_with_the_newest_backup_and_left_as_it_is() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeBotApi::start(FakeConfig::default()).unwrap();
    let modules = modules_dir(dir.path(), &[CLICKER]);
    let config_file = write_config(dir.path(), &fake, &modules, "");
    let data = dir.path().join("data");

    // A bot with some data and a backup of it.
    let mut bot = spawn_bot(&config_file);
    let alice = TestUser::alice();
    send_expecting(&fake, &alice, "/start", "").await;
    send_expecting(&fake, &alice, "Click", "Clicks: 1").await;
    let config = botbox::Config::load(Some(&config_file)).unwrap();
    let backup = botbox::cli::backup::backup(&config, None, None)
        .await
        .unwrap()
        .path;
    bot.start_kill().unwrap();
    let _ = bot.wait().await;

    // Half of the file is lost (a full disk, a bad copy).
    let file = data.join("botbox.redb");
    let len = std::fs::metadata(&file).unwrap().len();
    let f = std::fs::OpenOptions::new().write(true).open(&file).unwrap();
    f.set_len(len / 2).unwrap();
    drop(f);

    let run = run_botbox(&["run", "--config"], &config_file).await;
    assert!(!run.status.success(), "{run:?}");
    let said = String::from_utf8_lossy(&run.stderr);
    assert!(said.contains(&file.display().to_string()), "{said}");
    assert!(said.contains("is damaged"), "{said}");
    assert!(
        said.contains(&format!("botbox restore {}", backup.display())),
        "{said}"
    );
    assert!(!said.contains("panicked"), "{said}");
    assert_eq!(
        std::fs::metadata(&file).unwrap().len(),
        len / 2,
        "left as it is"
    );

    let doctor = run_botbox(&["doctor", "--config"], &config_file).await;
    let said = String::from_utf8_lossy(&doctor.stdout);
    assert!(!doctor.status.success());
    assert!(said.contains(&backup.display().to_string()), "{said}");
}

/// Runs `botbox <args> <config_file>` to its end (at most a minute).
async fn run_botbox(args: &[&str], config_file: &std::path::Path) -> std::process::Output {
    let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_botbox"))
        .args(args)
        .arg(config_file)
        .env("BOTBOX_LOG", "warn")
        .stdin(std::process::Stdio::null())
        .output();
    tokio::time::timeout(Duration::from_secs(60), child)
        .await
        .expect("botbox ends")
        .expect("botbox runs")
}
