//! Builds the guest workspaces (example-modules/ and tests/guests/) for wasm32-wasip2 and writes
//! the path of each component into OUT_DIR for `src/lib.rs` to include.
//!
//! The guests get a target dir of their own beside the outer build's profile dirs
//! (`<target-dir>/botbox-guests`), never the outer one: the outer cargo holds its build lock while
//! this script runs, and an inner cargo waiting for that lock would wait forever.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use botbox_guest_build::{BuildError, Profile};

/// The guest workspaces, relative to the repository root.
const WORKSPACES: &[&str] = &["example-modules/Cargo.toml", "tests/guests/Cargo.toml"];

/// The components `src/lib.rs` names, by file stem (crate name with `-` as `_`).
const COMPONENTS: &[&str] = &[
    "clicker",
    "bad_trap",
    "bad_loop",
    "bad_alloc",
    "echo",
    "broadcaster",
    "kv_probe",
    "clicker_v2",
    "clicker_v3",
    "clicker_broken",
    "timer_probe",
    "http_probe",
    "hostile",
    "coroutine_dialogue",
    "coroutine_dialogue_v2",
    "coroutine_dialogue_v3",
    "contract_v0_1_0",
    "contract_v0_1_1",
    "contract_v0_1_2",
    "api_probe",
    "qr",
    "download_queue",
    "reminder",
    "shop",
    "guard",
];

fn main() {
    if let Err(error) = run() {
        eprintln!("error: {error}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), BuildError> {
    let manifest_dir = PathBuf::from(
        std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"),
    );
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let root = manifest_dir
        .ancestors()
        .nth(2)
        .expect("tests/artifacts is two levels below the root");
    let target_dir = guest_target_dir(&out_dir);

    let mut built = Vec::new();
    let mut rerun_lines = BTreeSet::new();
    for workspace in WORKSPACES {
        let manifest = root.join(workspace);
        let components = botbox_guest_build::build(&manifest, &target_dir, Profile::Release)?;
        rerun_lines.extend(botbox_guest_build::rerun_if_changed_lines(
            &manifest,
            &components,
        )?);
        built.extend(components);
    }
    for line in rerun_lines {
        println!("{line}");
    }

    for name in COMPONENTS {
        let path = built
            .iter()
            .find(|path| path.file_stem().is_some_and(|stem| stem == *name))
            .unwrap_or_else(|| {
                panic!("the guest workspaces built no {name}.wasm; built: {built:?}")
            });
        let literal = format!("{:?}", path.to_str().expect("component paths are UTF-8"));
        let file = out_dir.join(format!("{name}.path"));
        std::fs::write(&file, literal).map_err(|source| BuildError::Io { path: file, source })?;
    }
    Ok(())
}

/// `<target-dir>/botbox-guests` (or `<target-dir>/<triple>/botbox-guests` when cross-compiling),
/// found from OUT_DIR = `<profile-dir>/build/<package>-<hash>/out`: the parent of the profile dir,
/// where the outer build's lock does not reach.
fn guest_target_dir(out_dir: &Path) -> PathBuf {
    let build_dir = out_dir
        .ancestors()
        .find(|dir| dir.file_name().is_some_and(|name| name == "build"))
        .expect("OUT_DIR lies under <profile-dir>/build/");
    let profile_dir = build_dir.parent().expect("the build dir has a parent");
    profile_dir
        .parent()
        .expect("the profile dir has a parent")
        .join("botbox-guests")
}
