//! The layout's rules, checked on the sources (see ARCHITECTURE.md): the folders import each
//! other along the data path only, the store is the floor, `anyhow` stays in the CLI, and no
//! file grows past what one reader holds in mind. Run: `cargo test -p botbox --lib layout`.

use std::{
    collections::{BTreeMap, BTreeSet},
    path::{Path, PathBuf},
};

/// Shared by everything; they import only each other (and `config` the store's limit types).
const FLOOR: &[&str] = &[
    "bindings", "bot_api", "clock", "config", "error", "health", "logs", "text",
];
/// The data path, in the order an update travels; none of them may import what sits outside.
const DATA_PATH: &[&str] = &["intake", "modules", "sandbox", "store", "outbox", "backup"];
/// Outside the data path, calling in.
const OUTSIDE: &[&str] = &["runtime", "control", "cli", "fuzzing"];
/// Files that hold one algorithm each and may be longer than the rest.
const ONE_ALGORITHM: &[&str] = &["store/kv.rs"];
/// The most lines of any other file.
const MAX_LINES: usize = 550;

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("a readable source folder") {
        let path = entry.expect("a readable entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level module a file belongs to (`intake/webhook.rs` → `intake`).
fn unit_of(rel: &Path) -> String {
    let first = rel.components().next().expect("a relative path");
    let name = first.as_os_str().to_string_lossy();
    name.trim_end_matches(".rs").to_string()
}

/// The top-level modules `text` names through `crate::`, including inside `use crate::{...}`.
fn imports(text: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let code: String = text
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    let mut rest = code.as_str();
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // The names at depth one of the group: after `{` and after each `,`.
            let (mut depth, mut start) = (1, 0);
            for (i, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' | ',' if depth == 1 => {
                        found.insert(first_ident(&group[start..i]));
                        if c == '}' {
                            break;
                        }
                        start = i + 1;
                    }
                    '}' => depth -= 1,
                    _ => {}
                }
            }
        } else {
            found.insert(first_ident(rest));
        }
    }
    found.retain(|n| !n.is_empty() && n.chars().next().is_some_and(|c| c.is_ascii_lowercase()));
    found.remove("self");
    found
}

fn first_ident(s: &str) -> String {
    s.trim_start()
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect()
}

/// Folder → folders it imports, each edge with one file that makes it.
type Graph = BTreeMap<String, BTreeMap<String, String>>;
/// Each file: path under `src/`, line count, text.
type Files = Vec<(String, usize, String)>;

/// The import graph of the folders and the files.
fn read_tree() -> (Graph, Files) {
    let root = src();
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    let mut graph = Graph::new();
    let mut sizes = Vec::new();
    for file in files {
        let rel = file.strip_prefix(&root).expect("under src").to_path_buf();
        let rel_name = rel.to_string_lossy().replace('\\', "/");
        let text = std::fs::read_to_string(&file).expect("a readable source file");
        sizes.push((rel_name.clone(), text.lines().count(), text.clone()));
        let unit = unit_of(&rel);
        if unit == "lib" || unit == "main" {
            continue;
        }
        let edges = graph.entry(unit.clone()).or_default();
        for target in imports(&text) {
            if target != unit {
                edges.entry(target).or_insert_with(|| rel_name.clone());
            }
        }
    }
    (graph, sizes)
}

/// A cycle in `graph`, if there is one, as the units along it.
fn find_cycle(graph: &Graph) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &Graph,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|n| n == node) {
            let mut cycle = path[at..].to_vec();
            cycle.push(node.to_string());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_string());
        for next in graph.get(node).into_iter().flat_map(|e| e.keys()) {
            if let Some(c) = visit(next, graph, path, done) {
                return Some(c);
            }
        }
        path.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|n| visit(n, graph, &mut Vec::new(), &mut done))
}

#[test]
fn the_folders_import_each_other_without_a_cycle() {
    let (graph, _) = read_tree();
    if let Some(cycle) = find_cycle(&graph) {
        let evidence: Vec<String> = cycle
            .windows(2)
            .map(|w| format!("{} → {} (in {})", w[0], w[1], graph[&w[0]][&w[1]]))
            .collect();
        panic!("import cycle: {}", evidence.join(", "));
    }
}

#[test]
fn every_top_level_module_is_on_the_map() {
    let (graph, _) = read_tree();
    for unit in graph.keys() {
        assert!(
            FLOOR.contains(&unit.as_str())
                || DATA_PATH.contains(&unit.as_str())
                || OUTSIDE.contains(&unit.as_str())
                || unit == "layout",
            "`{unit}` is neither floor, data path nor outside: place it (and ARCHITECTURE.md)"
        );
    }
}

#[test]
fn the_data_path_never_imports_the_runtime_the_control_plane_or_the_cli() {
    let (graph, _) = read_tree();
    for unit in FLOOR.iter().chain(DATA_PATH) {
        for (target, file) in graph.get(*unit).into_iter().flatten() {
            assert!(
                !OUTSIDE.contains(&target.as_str()),
                "{file} imports `{target}`: the data path must not reach outside it"
            );
        }
    }
}

#[test]
fn the_store_is_the_floor() {
    let (graph, _) = read_tree();
    for (target, file) in graph.get("store").into_iter().flatten() {
        assert!(
            FLOOR.contains(&target.as_str()) && target != "config",
            "{file} imports `{target}`: the store may import only the floor"
        );
    }
    for unit in FLOOR {
        for (target, file) in graph.get(*unit).into_iter().flatten() {
            let to_store_limits = *unit == "config" && target == "store";
            assert!(
                FLOOR.contains(&target.as_str()) || to_store_limits,
                "{file} imports `{target}`: the floor imports only the floor"
            );
        }
    }
}

#[test]
fn only_the_cli_uses_anyhow() {
    let (_, sizes) = read_tree();
    for (file, _, text) in &sizes {
        if file.starts_with("cli") || file == "main.rs" || file == "layout.rs" {
            continue;
        }
        assert!(
            !text.contains("anyhow::"),
            "{file} uses anyhow: the library returns crate::Error"
        );
    }
}

#[test]
fn unsafe_code_is_allowed_in_one_file() {
    // The workspace denies unsafe code; mapping compiled modules is the one exception.
    let (_, sizes) = read_tree();
    let allowing: Vec<&str> = (sizes.iter())
        .filter(|(file, _, text)| file != "layout.rs" && text.contains("allow(unsafe_code)"))
        .map(|(file, _, _)| file.as_str())
        .collect();
    assert_eq!(allowing, ["sandbox/code_cache.rs"]);
}

#[test]
fn no_file_is_longer_than_a_reader_holds_in_mind() {
    let (_, sizes) = read_tree();
    for (file, lines, _) in &sizes {
        if ONE_ALGORITHM.contains(&file.as_str()) || file.ends_with("layout.rs") {
            continue;
        }
        assert!(
            *lines <= MAX_LINES,
            "{file} has {lines} lines (at most {MAX_LINES}): split it by concern"
        );
    }
}

#[test]
fn the_import_reader_sees_grouped_and_nested_imports() {
    let found = imports(
        "use crate::{\n    Error,\n    modules::{Registry, registry::Ctx},\n    store::Db,\n};\nfn f() { crate::clock::unix_ms(); }\n// crate::cli::x in a comment\n",
    );
    let names: Vec<&str> = found.iter().map(String::as_str).collect();
    assert_eq!(names, ["clock", "modules", "store"]);
}

#[test]
fn the_cycle_finder_finds_a_cycle_through_three_folders() {
    let edge = |from: &str, to: &[&str]| {
        let to = to.iter().map(|t| (t.to_string(), format!("{from}.rs")));
        (from.to_string(), to.collect::<BTreeMap<_, _>>())
    };
    let acyclic: BTreeMap<_, _> =
        [edge("intake", &["modules"]), edge("modules", &["store"])].into();
    assert_eq!(find_cycle(&acyclic), None);
    let cyclic: BTreeMap<_, _> = [
        edge("intake", &["modules"]),
        edge("modules", &["store"]),
        edge("store", &["intake"]),
    ]
    .into();
    assert_eq!(
        find_cycle(&cyclic).expect("a cycle"),
        ["intake", "modules", "store", "intake"]
    );
}
