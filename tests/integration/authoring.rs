//! Module authors: `botbox new` makes a project that builds with one command, passes its own
//! tests (run by `botbox test-runner` against a real bot) and loads into `botbox dev` at once.

use std::{
    path::{Path, PathBuf},
    process::{Command, Output, Stdio},
};

/// Runs cargo in `project` with a clean environment (nothing of this test's own build leaks
/// in) and a target dir kept between test runs, so only the first run compiles the SDK.
fn cargo(project: &Path, args: &[&str]) -> Output {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    botbox_guest_build::clean_env(&mut command);
    command
        .args(args)
        .current_dir(project)
        .env("CARGO_TARGET_DIR", target_dir())
        .env("CARGO_TERM_COLOR", "never")
        .stdin(Stdio::null());
    command.output().expect("cargo runs")
}

fn target_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("botbox-new-projects")
}

fn text(out: &Output) -> String {
    format!(
        "status {}\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn botbox_new(name: &str, dir: &Path, data_home: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_botbox"))
        .args(["new", name, "--dir"])
        .arg(dir)
        .env("XDG_DATA_HOME", data_home)
        .env_remove("BOTBOX_SDK_DIR")
        .output()
        .expect("botbox runs")
}

#[test]
fn botbox_new_makes_a_project_that_builds_passes_its_own_tests_and_runs_in_botbox_dev() {
    let temp = tempfile::tempdir().unwrap();
    let project = temp.path().join("greeter");
    let out = botbox_new("greeter", &project, &temp.path().join("data"));
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("cargo test"),
        "{}",
        text(&out)
    );
    for file in [
        "Cargo.toml",
        ".cargo/config.toml",
        "src/lib.rs",
        "tests/bot.rs",
        "README.md",
    ] {
        assert!(project.join(file).is_file(), "{file} missing");
    }

    // What an author starts from is formatted and passes clippy's default lints.
    let fmt = cargo(&project, &["fmt", "--check"]);
    assert!(fmt.status.success(), "{}", text(&fmt));
    let clippy = cargo(
        &project,
        &["clippy", "--all-targets", "--", "-D", "warnings"],
    );
    assert!(clippy.status.success(), "{}", text(&clippy));

    let build = cargo(&project, &["build", "--release"]);
    assert!(build.status.success(), "{}", text(&build));
    let component = target_dir().join("wasm32-wasip2/release/greeter.wasm");
    assert!(component.is_file(), "{} missing", component.display());

    let test = cargo(&project, &["test"]);
    let log = text(&test);
    assert!(test.status.success(), "{log}");
    assert!(
        log.contains("test hello_counts_each_users_greetings_in_kv ... ok"),
        "{log}"
    );
    assert!(
        log.contains("test other_messages_get_no_answer ... ok"),
        "{log}"
    );
    assert!(
        log.contains("test tests::the_first_hello_is_greeted_differently ... ok"),
        "{log}"
    );

    // `botbox dev --project` builds it and lets a person talk to it.
    let mut dev = Command::new(env!("CARGO_BIN_EXE_botbox"))
        .args(["dev", "--name", "Dana", "--project"])
        .arg(&project)
        .env("CARGO_TARGET_DIR", target_dir())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut stdin = dev.stdin.take().unwrap();
        // Commands, not the Again button: a label typed before its button arrived is text.
        stdin.write_all(b"/hello\n/hello\n").unwrap();
    }
    let out = dev.wait_with_output().unwrap();
    let log = text(&out);
    assert!(out.status.success(), "{log}");
    assert!(
        log.contains("Hello, Dana! That is your first hello."),
        "{log}"
    );
    assert!(log.contains("Hello again, Dana! That makes 2."), "{log}");
}

#[test]
fn a_failing_module_test_fails_cargo_test_and_shows_the_chat() {
    let temp = tempfile::tempdir().unwrap();
    let project = temp.path().join("greeter");
    let out = botbox_new("greeter", &project, &temp.path().join("data"));
    assert!(out.status.success(), "{}", text(&out));
    // The author expects a reply the module does not give.
    let test_file = project.join("tests/bot.rs");
    let source = std::fs::read_to_string(&test_file).unwrap();
    std::fs::write(&test_file, source.replace("That makes 2.", "That makes 3.")).unwrap();

    let test = cargo(&project, &["test", "--test", "bot"]);
    let log = text(&test);
    assert!(!test.status.success(), "{log}");
    assert!(
        log.contains(
            "expected the bot to reply to Alice with a message containing \"Hello again, \
             Alice! That makes 3.\", but its next message is \"Hello again, Alice! That makes 2.\""
        ),
        "{log}"
    );
    assert!(log.contains("--- chat with Alice ---"), "{log}");
    assert!(
        log.contains("bot: Hello, Alice! That is your first hello."),
        "{log}"
    );
}

#[test]
fn botbox_new_refuses_a_bad_name_and_a_directory_in_use_saying_why() {
    let temp = tempfile::tempdir().unwrap();
    let out = botbox_new("My Bot", &temp.path().join("x"), temp.path());
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("lowercase letters, digits and `-`"), "{err}");
    assert!(!temp.path().join("x").exists());

    std::fs::write(temp.path().join("notes.txt"), "mine").unwrap();
    let out = botbox_new("greeter", temp.path(), &temp.path().join("data"));
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("is not empty"), "{err}");
}
