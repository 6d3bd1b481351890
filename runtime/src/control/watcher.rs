//! The watched modules directory: a new file is added, a replaced one swapped, a removed one
//! removed, through the same registry calls as the admin API.

use std::{
    collections::HashMap,
    path::{Path, PathBuf},
    sync::Arc,
    time::{Duration, SystemTime},
};

use tokio::sync::watch;

use crate::{modules::Registry, sandbox::module_hash};

/// What the watcher saw of one file.
#[derive(Clone, PartialEq, Eq)]
struct Seen {
    len: u64,
    modified: Option<SystemTime>,
}

/// Watches the modules directory: a new file is added, a replaced one swapped, a removed one
/// removed. A file is acted on once it looked the same at two looks in a row (so a copy in
/// progress is not read half-written), and a file that failed is tried again only when it
/// changes.
pub(crate) async fn watch_modules_dir(
    registry: Arc<Registry>,
    dir: PathBuf,
    every: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut last: HashMap<PathBuf, Seen> = look(&dir);
    // Files dealt with as they look now (installed, found unchanged or refused): read again
    // only once they change. At first, those whose content is what a module runs.
    let known = registry.files();
    let mut settled: HashMap<PathBuf, Seen> = last
        .iter()
        .filter(|(path, _)| {
            known
                .get(*path)
                .is_some_and(|(_, hash)| file_hash(path).as_ref() == Some(hash))
        })
        .map(|(p, s)| (p.clone(), s.clone()))
        .collect();
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = shutdown.changed() => return,
        }
        let now = look(&dir);
        let known = registry.files();
        for (path, seen) in &now {
            if last.get(path) != Some(seen) || settled.get(path) == Some(seen) {
                continue;
            }
            settled.insert(path.clone(), seen.clone());
            let Ok(bytes) = std::fs::read(path) else {
                continue;
            };
            let hash = module_hash(&bytes);
            if known.get(path).is_some_and(|(_, h)| *h == hash) {
                continue;
            }
            match registry.install_file(&bytes, path).await {
                Ok(done) => {
                    let changes = done.changes.lines().join("; ");
                    tracing::info!(file = %path.display(), module = %done.name, version = %done.version, changes, "{} from the modules directory", done.action);
                }
                Err(e) => {
                    tracing::error!(file = %path.display(), "module file refused: {e}");
                }
            }
        }
        // Looked up again: an install above may have moved a module to another file.
        for (path, (name, _)) in &registry.files() {
            if !now.contains_key(path) && last.contains_key(path) && !path.exists() {
                match registry.remove(name, true).await {
                    Ok(()) => {
                        tracing::info!(module = %name, "removed: its file left the modules directory")
                    }
                    Err(e) => tracing::warn!(module = %name, "cannot remove: {e}"),
                }
            }
        }
        settled.retain(|p, _| now.contains_key(p));
        last = now;
    }
}

fn file_hash(path: &Path) -> Option<String> {
    std::fs::read(path).ok().map(|b| module_hash(&b))
}

fn look(dir: &Path) -> HashMap<PathBuf, Seen> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return HashMap::new();
    };
    entries
        .filter_map(|e| e.ok())
        .filter(|e| e.path().extension().is_some_and(|x| x == "wasm"))
        .filter_map(|e| {
            let meta = e.metadata().ok()?;
            meta.is_file().then(|| {
                (
                    e.path(),
                    Seen {
                        len: meta.len(),
                        modified: meta.modified().ok(),
                    },
                )
            })
        })
        .collect()
}
