//! How the installer gets the botbox program: a release archive is taken only over https (or
//! from this machine) and only with a matching checksum, and a build happens in a folder no
//! other user can write (the installer, often root, runs the program built there).

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

use super::{BOTBOX, install_with_env, modules_from};
use crate::support::*;

/// The text of `<archive>.sha256`, given the archive's real SHA-256 in hex.
type Checksum = fn(&str) -> String;

/// The archive the installer asks for on this machine.
fn archive_name() -> String {
    format!("botbox-{}-linux.tar.gz", std::env::consts::ARCH)
}

/// A release folder holding the archive (with `program` as `botbox`) and, if `checksum` is
/// given, `<archive>.sha256` with that text.
fn release(root: &Path, program: &Path, checksum: Option<Checksum>) -> PathBuf {
    let dir = root.join("release");
    let stage = root.join("stage");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::create_dir_all(&stage).unwrap();
    std::fs::copy(program, stage.join("botbox")).unwrap();
    let archive = dir.join(archive_name());
    let tar = std::process::Command::new("tar")
        .arg("-czf")
        .arg(&archive)
        .arg("-C")
        .arg(&stage)
        .arg("botbox")
        .status()
        .unwrap();
    assert!(tar.success());
    if let Some(checksum) = checksum {
        let sum = std::process::Command::new("sha256sum")
            .arg(&archive)
            .output()
            .unwrap();
        let hex = String::from_utf8_lossy(&sum.stdout)[..64].to_string();
        let path = dir.join(format!("{}.sha256", archive_name()));
        std::fs::write(path, checksum(&hex)).unwrap();
    }
    dir
}

/// Serves `dir`'s files over http on 127.0.0.1; returns the base URL.
async fn serve(dir: PathBuf) -> String {
    let app = axum::Router::new().route(
        "/{name}",
        axum::routing::get(
            move |axum::extract::Path(name): axum::extract::Path<String>| {
                let dir = dir.clone();
                async move {
                    match std::fs::read(dir.join(&name)) {
                        Ok(bytes) => Ok(bytes),
                        Err(_) => Err(axum::http::StatusCode::NOT_FOUND),
                    }
                }
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

fn release_args(prefix: &Path, modules: &Path, fake: &FakeBotApi, url: &str) -> Vec<String> {
    [
        "--no-systemd",
        "--yes",
        "--prefix",
        &prefix.display().to_string(),
        "--api-url",
        fake.api_url().as_str(),
        "--token",
        fake.token(),
        "--release-url",
        url,
        "--modules-from",
        &modules.display().to_string(),
        "--admin-listen",
        "127.0.0.1:0",
    ]
    .map(String::from)
    .to_vec()
}

/// Installs from a served release that is refused; returns what the installer said, after
/// checking that nothing was installed.
async fn refused(fake: &FakeBotApi, checksum: Option<Checksum>, url: Option<&str>) -> String {
    let dir = tempfile::tempdir().unwrap();
    let modules = modules_from(dir.path());
    let prefix = dir.path().join("botbox");
    // A small program stands in for botbox (archiving 180 MB five times is slow): a refused
    // release is never run.
    let program = dir.path().join("stand-in");
    std::fs::write(&program, "#!/bin/sh\necho botbox 0.0.1\n").unwrap();
    std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755)).unwrap();
    let served = serve(release(dir.path(), &program, checksum)).await;
    let url = url.unwrap_or(&served);
    let run = install_with_env(&release_args(&prefix, &modules, fake, url), &[]).await;
    assert!(!run.status.success(), "{}", run.output);
    assert!(
        !prefix.join("bin/botbox").exists() && !prefix.join("botbox.toml").exists(),
        "nothing installed: {}",
        run.output
    );
    run.output
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_release_installs_only_with_its_matching_checksum_and_never_over_plain_http() {
    let fake = FakeBotApi::start(FakeConfig::default()).unwrap();
    let output = refused(&fake, None, None).await;
    assert!(
        output.contains("the release has no checksum (http://127.0.0.1:")
            && output.contains("not installing a program that cannot be checked"),
        "{output}"
    );
    let wrong = |_: &str| format!("{}  {}\n", "0".repeat(64), archive_name());
    let output = refused(&fake, Some(wrong), None).await;
    assert!(
        output.contains("its SHA-256 checksum does not match"),
        "{output}"
    );
    let garbage = |_: &str| "not a checksum\n".to_string();
    let output = refused(&fake, Some(garbage), None).await;
    assert!(output.contains("holds no SHA-256 checksum"), "{output}");
    let right = |hex: &str| format!("{hex}  {}\n", archive_name());
    let output = refused(&fake, Some(right), Some("http://example.org/botbox")).await;
    assert!(
        output.contains("--release-url must be an https:// address"),
        "{output}"
    );

    // The same release with its checksum installs.
    let dir = tempfile::tempdir().unwrap();
    let modules = modules_from(dir.path());
    let prefix = dir.path().join("botbox");
    let url = serve(release(dir.path(), Path::new(BOTBOX), Some(right))).await;
    let run = install_with_env(&release_args(&prefix, &modules, &fake, &url), &[]).await;
    assert!(run.status.success(), "{}", run.output);
    assert!(run.output.contains("checksum verified"), "{}", run.output);
    assert_eq!(
        std::fs::read(prefix.join("bin/botbox")).unwrap(),
        std::fs::read(BOTBOX).unwrap()
    );
}

/// A `cargo` (and `rustup`) ahead of the real ones on PATH: instead of a 20-minute compile it
/// puts this build's botbox where `cargo build --release` would, and notes where it built.
fn quick_cargo(root: &Path) -> PathBuf {
    let bin = root.join("fake-bin");
    std::fs::create_dir_all(&bin).unwrap();
    let cargo = format!(
        "#!/bin/sh\nset -e\necho \"$CARGO_TARGET_DIR\" >> {log}\n\
         mkdir -p \"$CARGO_TARGET_DIR/release\" \"$CARGO_TARGET_DIR/wasm32-wasip2/release\"\n\
         cp {botbox} \"$CARGO_TARGET_DIR/release/botbox\"\n",
        log = root.join("cargo-ran").display(),
        botbox = BOTBOX,
    );
    std::fs::write(bin.join("cargo"), cargo).unwrap();
    std::fs::write(bin.join("rustup"), "#!/bin/sh\nexit 0\n").unwrap();
    for name in ["cargo", "rustup"] {
        std::fs::set_permissions(bin.join(name), std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    bin
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_build_happens_in_a_private_folder_and_one_others_can_write_is_refused() {
    let fake = FakeBotApi::start(FakeConfig::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let modules = modules_from(dir.path());
    let bin = quick_cargo(dir.path());
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let args = |prefix: &Path| {
        let mut args = release_args(prefix, &modules, &fake, "");
        let at = args.iter().position(|a| a == "--release-url").unwrap();
        args.drain(at..at + 2);
        args
    };

    // A build folder anyone can write into (as a fixed name in /var/tmp was): refused before
    // anything is built there or run from there.
    let shared = dir.path().join("shared-build");
    std::fs::create_dir(&shared).unwrap();
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o777)).unwrap();
    let prefix = dir.path().join("first");
    let env = [
        ("PATH", path.clone()),
        ("BOTBOX_BUILD_DIR", shared.display().to_string()),
    ];
    let run = install_with_env(&args(&prefix), &env).await;
    assert!(!run.status.success(), "{}", run.output);
    assert!(
        run.output.contains(&format!(
            "the build folder {} can be written by other users (mode 777): not building there",
            shared.display()
        )),
        "{}",
        run.output
    );
    assert!(!dir.path().join("cargo-ran").exists(), "nothing was built");
    assert!(!prefix.join("bin/botbox").exists());

    // A link is refused too (it could point anywhere).
    let link = dir.path().join("link-build");
    std::os::unix::fs::symlink(&shared, &link).unwrap();
    let env = [
        ("PATH", path.clone()),
        ("BOTBOX_BUILD_DIR", link.display().to_string()),
    ];
    let run = install_with_env(&args(&prefix), &env).await;
    assert!(
        run.output
            .contains("is not a plain folder (a link or a file)"),
        "{}",
        run.output
    );

    // A new folder is made private (0700), built in, and its program installed.
    let private = dir.path().join("cache/botbox-build");
    let env = [
        ("PATH", path),
        ("BOTBOX_BUILD_DIR", private.display().to_string()),
    ];
    let prefix = dir.path().join("second");
    let run = install_with_env(&args(&prefix), &env).await;
    assert!(run.status.success(), "{}", run.output);
    let mode = std::fs::metadata(&private).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o700, "the build folder is private");
    let ran = std::fs::read_to_string(dir.path().join("cargo-ran")).unwrap();
    assert!(
        ran.lines()
            .all(|target| target.starts_with(private.to_str().unwrap())),
        "{ran}"
    );
    assert_eq!(
        std::fs::read(prefix.join("bin/botbox")).unwrap(),
        std::fs::read(BOTBOX).unwrap()
    );
}
