//! `botbox new <name>`: a ready module project.
//!
//! The project depends on the SDK (`botbox-sdk`) and the test harness (`botbox-test`) by path.
//! Both, and the WIT contract they are generated from, are embedded in this binary and written
//! once per botbox version to a shared directory (`$XDG_DATA_HOME/botbox/sdk/<version>`), so a
//! project always builds against the contract of the botbox that made it, without a registry
//! and without a checkout of botbox's repository.

use std::{
    io::Write,
    path::{Path, PathBuf},
};

use anyhow::{Context, bail};

include!(concat!(env!("OUT_DIR"), "/sdk_files.rs"));

/// `botbox new`'s arguments.
#[derive(Debug, clap::Args)]
pub struct NewArgs {
    /// The module's name, also its crate's: lowercase letters, digits and `-`, starting with a
    /// letter, at most 32 characters.
    pub name: String,
    /// Where to create it; `./<name>` when absent. It must not exist or be empty.
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Where the SDK is kept; `$XDG_DATA_HOME/botbox/sdk/<version>` (or
    /// `~/.local/share/botbox/sdk/<version>`) when absent.
    #[arg(long, env = "BOTBOX_SDK_DIR")]
    pub sdk_dir: Option<PathBuf>,
}

/// Names a crate or module cannot have.
const RESERVED: &[&str] = &[
    "test",
    "std",
    "core",
    "alloc",
    "proc-macro",
    "self",
    "botbox",
    "botbox-sdk",
    "botbox-test",
];

/// Creates the project and tells `out` what to do next.
pub fn run(args: NewArgs, out: &mut impl Write) -> anyhow::Result<()> {
    check_name(&args.name)?;
    let dir = args
        .dir
        .clone()
        .unwrap_or_else(|| PathBuf::from(&args.name));
    if dir.exists() {
        let empty = std::fs::read_dir(&dir)
            .with_context(|| format!("{} exists and is not a directory", dir.display()))?
            .next()
            .is_none();
        if !empty {
            bail!(
                "{} exists and is not empty; choose another --dir",
                dir.display()
            );
        }
    }
    let sdk = match args.sdk_dir {
        Some(d) => d,
        None => default_sdk_dir()?,
    };
    write_sdk(&sdk)?;
    let sdk =
        std::fs::canonicalize(&sdk).with_context(|| format!("cannot resolve {}", sdk.display()))?;

    let crate_name = args.name.replace('-', "_");
    let fill = |template: &str| {
        template
            .replace("{{name}}", &args.name)
            .replace("{{crate}}", &crate_name)
            .replace("{{sdk}}", &toml_escape(&sdk.to_string_lossy()))
            .replace("{{runner}}", &runner())
    };
    let files: [(&str, &str); 6] = [
        ("Cargo.toml", include_str!("new/template/Cargo.toml.in")),
        (
            ".cargo/config.toml",
            include_str!("new/template/config.toml.in"),
        ),
        ("src/lib.rs", include_str!("new/template/lib.rs.in")),
        ("tests/bot.rs", include_str!("new/template/bot.rs.in")),
        ("README.md", include_str!("new/template/README.md.in")),
        (".gitignore", include_str!("new/template/gitignore.in")),
    ];
    for (path, template) in files {
        write_file(&dir.join(path), fill(template).as_bytes())?;
    }
    writeln!(
        out,
        "Created the module project {name} in {dir}.\n\n  cd {dir}\n  cargo build --release    \
         # → target/wasm32-wasip2/release/{crate_name}.wasm\n  botbox dev --project .   \
         # chat with it\n  cargo test               # its tests, against a real bot\n\n\
         The SDK it uses is in {sdk}.",
        name = args.name,
        dir = dir.display(),
        sdk = sdk.display(),
    )?;
    Ok(())
}

/// Refuses names cargo or botbox would trip over later, saying what is allowed.
fn check_name(name: &str) -> anyhow::Result<()> {
    let valid = (1..=32).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && !name.ends_with('-')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !valid {
        bail!(
            "`{name}` cannot be a module name: use lowercase letters, digits and `-`, starting \
             with a letter, at most 32 characters (for example `reminder-bot`)"
        );
    }
    if RESERVED.contains(&name) {
        bail!("`{name}` is taken by Rust or botbox itself; choose another name");
    }
    Ok(())
}

/// `$XDG_DATA_HOME/botbox/sdk/<version>`, or the same under `~/.local/share`.
fn default_sdk_dir() -> anyhow::Result<PathBuf> {
    let base = xdg_dir("XDG_DATA_HOME", ".local/share")
        .context("neither XDG_DATA_HOME nor HOME is set")?;
    Ok(base
        .join("botbox/sdk")
        .join(env!("CARGO_PKG_VERSION"))
        .join(sdk_fingerprint()))
}

/// The XDG base directory in `var`, or `$HOME/<under_home>` (the specification's default).
pub(crate) fn xdg_dir(var: &str, under_home: &str) -> Option<PathBuf> {
    std::env::var_os(var)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(under_home)))
}

/// A short hash of the embedded SDK: two botbox builds with different SDKs never share a
/// directory, so neither rewrites files the other's projects build from.
fn sdk_fingerprint() -> String {
    use sha2::Digest;
    let mut hash = sha2::Sha256::new();
    for (path, content) in SDK_FILES {
        hash.update(path.as_bytes());
        hash.update([0]);
        hash.update(content);
    }
    hex::encode(&hash.finalize()[..6])
}

/// Writes the embedded SDK under `dir`, leaving files that are already right untouched (so
/// projects built from it are not rebuilt).
fn write_sdk(dir: &Path) -> anyhow::Result<()> {
    for (path, content) in SDK_FILES {
        let dest = dir.join(path);
        if std::fs::read(&dest).is_ok_and(|old| old == *content) {
            continue;
        }
        write_file(&dest, content)?;
    }
    Ok(())
}

fn write_file(path: &Path, content: &[u8]) -> anyhow::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    std::fs::write(path, content).with_context(|| format!("cannot write {}", path.display()))
}

/// The runner command for `.cargo/config.toml`: `"botbox"` when that is this program on the
/// `PATH`, else this program's full path.
fn runner() -> String {
    let me = std::env::current_exe().and_then(std::fs::canonicalize).ok();
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join("botbox"))
            .find(|p| p.is_file())
            .and_then(|p| std::fs::canonicalize(p).ok())
    });
    match me {
        Some(me) if on_path.as_ref() != Some(&me) => {
            format!("\"{}\"", toml_escape(&me.to_string_lossy()))
        }
        _ => "\"botbox\"".to_string(),
    }
}

/// `s` as the inside of a TOML basic string.
fn toml_escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_cargo_and_botbox_accept_pass_and_others_are_refused_with_the_rule() {
        for ok in ["hello", "reminder-bot", "a1", "x"] {
            check_name(ok).unwrap();
        }
        for bad in [
            "",
            "Hello",
            "1bot",
            "my_bot",
            "bot-",
            "a b",
            "ü",
            &"a".repeat(33),
        ] {
            let e = check_name(bad).unwrap_err().to_string();
            assert!(
                e.contains("lowercase letters, digits and `-`"),
                "{bad}: {e}"
            );
        }
        assert!(
            check_name("test")
                .unwrap_err()
                .to_string()
                .contains("taken")
        );
    }

    #[test]
    fn the_embedded_sdk_has_the_sdk_the_harness_and_the_contract() {
        let paths: Vec<&str> = SDK_FILES.iter().map(|(p, _)| *p).collect();
        for needed in [
            "guest-sdk/Cargo.toml",
            "guest-sdk/src/lib.rs",
            "guest-test/Cargo.toml",
            "guest-test/src/lib.rs",
            "wit/world.wit",
        ] {
            assert!(paths.contains(&needed), "{needed} missing from {paths:?}");
        }
        assert!(!paths.iter().any(|p| p.contains("target/")), "{paths:?}");
    }

    #[test]
    fn a_project_is_not_written_over_a_non_empty_directory() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("keep.txt"), "mine").unwrap();
        let e = run(
            NewArgs {
                name: "hello".into(),
                dir: Some(dir.path().to_path_buf()),
                sdk_dir: Some(dir.path().join("sdk")),
            },
            &mut Vec::new(),
        )
        .unwrap_err();
        assert!(e.to_string().contains("is not empty"), "{e}");
        assert_eq!(
            std::fs::read_to_string(dir.path().join("keep.txt")).unwrap(),
            "mine"
        );
    }
}
