//! Where another process's memory is, from `/proc/<pid>/status` and `/proc/<pid>/smaps`: what
//! the memory benchmarks print. Linux only.
//!
//! The mappings are sorted by what they most likely are (by name, permissions, size and
//! neighbours; nothing here knows the process's allocator from inside):
//!
//! | kind | how it is recognised |
//! |---|---|
//! | `malloc_main_heap` | `[heap]`: glibc's main arena (`brk`) |
//! | `malloc_thread_arenas` | anonymous, 64 MiB-aligned, and with the inaccessible rest after it exactly 64 MiB: glibc's per-thread arenas |
//! | `thread_stacks` | anonymous read-write right after a one-page inaccessible guard (pthread stacks), and `[stack]` |
//! | `wasm_code` | compiled modules mapped from the cache (`.cwasm` files), and anonymous executable memory: code compiled by wasmtime (and trampolines) |
//! | `wasm_pools` | anonymous mappings in a run of adjacent ones spanning 1 GiB or more: wasmtime's pooling allocator (linear memories, tables, stacks) |
//! | `binary` | the program's file itself (its code and read-only data) |
//! | `libraries` | other files mapped (shared libraries, locale) |
//! | `anon_other` | every other anonymous mapping: malloc's large blocks (over its mmap threshold) and the like |

use std::collections::BTreeMap;

/// A field of `/proc/<pid>/status` in KiB (`VmRSS:`, `VmHWM:`), or a count (`Threads:`).
pub fn status(pid: u32, key: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// KiB as MiB, one decimal.
pub fn mib(kib: u64) -> f64 {
    (kib as f64 / 1024.0 * 10.0).round() / 10.0
}

/// One mapping of `/proc/<pid>/smaps`.
struct Mapping {
    start: u64,
    end: u64,
    perms: String,
    name: String,
    rss_kib: u64,
}

fn mappings(pid: u32) -> Vec<Mapping> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/smaps")).unwrap_or_default();
    let mut out: Vec<Mapping> = Vec::new();
    for line in text.lines() {
        let mut fields = line.split_whitespace();
        let first = fields.next().unwrap_or("");
        if let Some((start, end)) = first.split_once('-')
            && let (Ok(start), Ok(end)) =
                (u64::from_str_radix(start, 16), u64::from_str_radix(end, 16))
        {
            let perms = fields.next().unwrap_or("").to_owned();
            let name = fields.nth(3).unwrap_or("").to_owned();
            out.push(Mapping {
                start,
                end,
                perms,
                name,
                rss_kib: 0,
            });
        } else if first == "Rss:"
            && let Some(m) = out.last_mut()
        {
            m.rss_kib = fields.next().and_then(|v| v.parse().ok()).unwrap_or(0);
        }
    }
    out
}

const MIB: u64 = 1 << 20;
const ARENA: u64 = 64 * MIB;

/// For each mapping, the span of the address-contiguous run of anonymous mappings it is in.
fn run_spans(maps: &[Mapping]) -> Vec<u64> {
    let mut spans = vec![0; maps.len()];
    let mut first = 0;
    for i in 0..=maps.len() {
        let continues = i < maps.len()
            && i > first
            && maps[i].name.is_empty()
            && maps[i - 1].name.is_empty()
            && maps[i - 1].end == maps[i].start;
        if i > first && !continues {
            let span = maps[i - 1].end - maps[first].start;
            spans[first..i].fill(span);
            first = i;
        }
    }
    spans
}

fn kind(maps: &[Mapping], spans: &[u64], i: usize, exe: &str) -> &'static str {
    let m = &maps[i];
    let size = m.end - m.start;
    let inaccessible = |j: usize| maps.get(j).is_some_and(|n| n.perms.starts_with("---p"));
    if m.name == "[heap]" {
        return "malloc_main_heap";
    }
    if m.name == "[stack]" {
        return "thread_stacks";
    }
    if m.name == exe {
        return "binary";
    }
    if m.name.ends_with(".cwasm") {
        return "wasm_code";
    }
    if m.name.starts_with('/') {
        return "libraries";
    }
    if !m.name.is_empty() {
        return "anon_other";
    }
    if m.perms.contains('x') {
        return "wasm_code";
    }
    // An arena: 64 MiB-aligned; its read-write part and the inaccessible rest make 64 MiB.
    if m.start.is_multiple_of(ARENA) {
        let rest = if inaccessible(i + 1) && maps[i + 1].start == m.end {
            maps[i + 1].end - maps[i + 1].start
        } else {
            0
        };
        if size + rest == ARENA {
            return "malloc_thread_arenas";
        }
    }
    if size >= 1024 * MIB || spans[i] >= 1024 * MIB {
        return "wasm_pools";
    }
    if i > 0
        && inaccessible(i - 1)
        && maps[i - 1].end == m.start
        && maps[i - 1].end - maps[i - 1].start == 4096
        && m.perms.starts_with("rw")
    {
        return "thread_stacks";
    }
    "anon_other"
}

/// Resident memory by kind of mapping (MiB), with the totals of `smaps_rollup` and the thread
/// count, as one JSON object.
pub fn breakdown(pid: u32) -> serde_json::Value {
    let maps = mappings(pid);
    let exe = std::fs::read_link(format!("/proc/{pid}/exe"))
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default();
    let spans = run_spans(&maps);
    let mut kinds: BTreeMap<&str, u64> = BTreeMap::new();
    let mut arenas = 0;
    for i in 0..maps.len() {
        let k = kind(&maps, &spans, i, &exe);
        *kinds.entry(k).or_default() += maps[i].rss_kib;
        if k == "malloc_thread_arenas" && maps[i].perms.starts_with("rw") {
            arenas += 1;
        }
    }
    let rollup = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).unwrap_or_default();
    let field = |key: &str| {
        rollup
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    };
    let mut out = serde_json::Map::new();
    out.insert("rss_mib".into(), mib(field("Rss:")).into());
    out.insert("anonymous_mib".into(), mib(field("Anonymous:")).into());
    out.insert(
        "file_backed_mib".into(),
        mib(field("Rss:") - field("Anonymous:")).into(),
    );
    out.insert("threads".into(), status(pid, "Threads:").into());
    out.insert("malloc_thread_arena_count".into(), arenas.into());
    let by_kind: serde_json::Map<_, _> = kinds
        .into_iter()
        .map(|(k, v)| (k.to_owned(), mib(v).into()))
        .collect();
    out.insert("rss_mib_by_kind".into(), by_kind.into());
    out.into()
}
