//! How modules change: install (add or swap) and the one path every change takes. Loading at
//! start is [`loading`](super::loading); rollback, remove, enable, disable and configure are
//! [`operator_changes`](super::operator_changes); what a version asks for and its approval,
//! [`approval`](super::approval).
//!
//! Every change follows one path: compile (off the async executor) → validate against the world
//! → canary `init` on a fresh instance → switch. Anything wrong before the switch leaves what
//! was serving untouched and comes back as an error that says why. Changes of one module are
//! serialized (one at a time per name); changes of different modules run side by side, so one
//! module's slow `init` (bounded by the sandbox's wall-clock deadline) holds up no other. The
//! probe that learns a new file's name runs under no lock at all. Updates keep flowing during
//! a change.

use super::versions::{KEPT_VERSIONS, forget_old_versions};
use super::*;

/// How a version starts: the change it is, whether its file is written to the modules
/// directory, and whether the operator approved what it asks for.
#[derive(Debug, Clone, Copy)]
pub(super) struct How {
    pub(super) action: Action,
    pub(super) write_file: bool,
    pub(super) approved: bool,
}

impl Registry {
    /// Adds a module, or swaps the running module of the same name for this version. `file` is
    /// where the bytes are (the watcher) or should be kept (the API: `None` → the module's
    /// current file, or `<modules_dir>/<name>.wasm`).
    /// The caller speaks for the operator: a version asking for more is approved.
    pub async fn install(&self, bytes: &[u8], file: Option<&Path>) -> Result<Installed> {
        self.install_named(bytes, file, true, Expect::Any, true)
            .await
    }

    /// Like [`Self::install`], refusing a module whose name is taken (`Expect::New`) or one
    /// that is not the named module (`Expect::Swap`). Unless `approved`, a version that asks
    /// for more than the one it replaces is kept aside awaiting approval
    /// ([`Error::AwaitingApproval`]).
    pub async fn install_expecting(
        &self,
        bytes: &[u8],
        expect: Expect<'_>,
        approved: bool,
    ) -> Result<Installed> {
        self.install_named(bytes, None, true, expect, approved)
            .await
    }

    /// A file of the modules directory, new or changed (the watcher): it adds a module or swaps
    /// the one it is the file of; one naming a module that runs from another file is refused,
    /// and one asking for more than the version it replaces awaits approval.
    pub async fn install_file(&self, bytes: &[u8], file: &Path) -> Result<Installed> {
        self.install_named(bytes, Some(file), true, Expect::File, false)
            .await
    }

    /// Installs the version awaiting approval for `name`: the operator approves what it asks for.
    pub async fn approve(&self, name: &str) -> Result<Installed> {
        let Some((awaiting, bytes)) = self.pending().get(name) else {
            return Err(Error::NotFound(format!(
                "nothing awaits approval for `{name}`"
            )));
        };
        let done = self
            .install_named(
                &bytes,
                awaiting.file.as_deref(),
                true,
                Expect::Swap(name),
                true,
            )
            .await?;
        self.pending().forget(name);
        self.publish(name).await;
        Ok(done)
    }

    /// What awaits approval for `name`, if anything.
    pub fn awaiting(&self, name: &str) -> Option<Awaiting> {
        self.pending().describe(name)
    }

    pub(super) fn pending(&self) -> PendingDir {
        PendingDir(self.ctx.config.data_dir.join("pending"))
    }

    /// Compiles and probes the bytes under no lock, then changes the module they name under
    /// that name's lock.
    pub(super) async fn install_named(
        &self,
        bytes: &[u8],
        file: Option<&Path>,
        write_file: bool,
        expect: Expect<'_>,
        approved: bool,
    ) -> Result<Installed> {
        let label = file.map_or_else(|| "upload".to_string(), |f| f.display().to_string());
        let code = self.compile(&label, bytes).await?;
        // Learn the name with a probe that has no KV usage count and no real tag.
        let stem = file
            .and_then(Path::file_stem)
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "upload".into());
        let probe_env = self.env(&stem, None)?;
        let mut probe = self.sandbox().instantiate(&code, probe_env.clone()).await?;
        let probed = probe
            .init()
            .await
            .map_err(|e| Error::module(&label, format!("init {e}")))?;
        crate::modules::manifest::validate(&probed)
            .map_err(|e| Error::module(&label, format!("bad manifest: {e}")))?;
        drop(probe);
        let name = probed.name.clone();
        let _guard = self.lock_name(&name).await;
        let existing = self
            .slots
            .read()
            .get(&name)
            .map(|s| (s.hash.clone(), s.module.is_some(), s.file.clone()));
        match expect {
            Expect::Any => {}
            Expect::New if existing.is_some() => {
                return Err(Error::Conflict(format!(
                    "a module named `{name}` exists: swap it instead"
                )));
            }
            Expect::New => {}
            Expect::Swap(want) if want != name => {
                return Err(Error::module(
                    &label,
                    format!("is the module `{name}`, not `{want}`"),
                ));
            }
            Expect::Swap(want) if existing.is_none() => return Err(not_found(want)),
            Expect::Swap(_) => {}
            Expect::File => {
                if let (Some((_, _, theirs)), Some(ours)) = (&existing, file)
                    && !approval::same_file(theirs, ours)
                {
                    return Err(Error::module(
                        &label,
                        format!(
                            "names the module `{name}`, which runs from {}: replace that file to swap it, or remove the module first",
                            theirs.display()
                        ),
                    ));
                }
            }
            Expect::NewOrAsk => {}
        }
        let target = match (file, &existing) {
            (Some(f), _) => f.to_path_buf(),
            (None, Some((_, _, f))) => f.clone(),
            (None, None) => self.ctx.config.modules_dir.join(format!("{name}.wasm")),
        };
        if let Some((hash, true, _)) = &existing
            && *hash == code.hash
        {
            return Ok(Installed {
                version: probed.version,
                hash: code.hash.clone(),
                name,
                action: Action::Unchanged,
                replaced: None,
                changes: Changes::default(),
            });
        }
        if matches!(expect, Expect::NewOrAsk) && existing.is_some() {
            // A swap from Telegram is confirmed by the operator, whatever it asks for.
            let kinds = probe_env.wanted_kinds.read().clone();
            let awaiting = Awaiting {
                changes: Changes::between(
                    self.granted(&name).as_ref(),
                    &Requests::of(&probed, &kinds),
                ),
                name: name.clone(),
                version: probed.version.clone(),
                file: Some(target),
            };
            self.pending().keep(&awaiting, bytes)?;
            self.publish(&awaiting.name).await;
            return Err(Error::AwaitingApproval(Box::new(awaiting)));
        }
        let action = if existing.as_ref().is_some_and(|e| e.1) {
            Action::Swapped
        } else {
            Action::Added
        };
        self.start_version(
            &name,
            code,
            &target,
            bytes,
            How {
                action,
                write_file,
                approved,
            },
        )
        .await
    }

    /// What the serving (or last serving) version of `name` asks for, as approved.
    pub(super) fn granted(&self, name: &str) -> Option<Requests> {
        let slots = self.slots.read();
        let slot = slots.get(name)?;
        slot.persisted.granted.clone().or_else(|| {
            let manifest = slot.manifest.as_ref()?;
            let kinds = slot
                .module
                .as_ref()
                .map(|m| m.current().env.wanted_kinds.read().clone())
                .unwrap_or_default();
            Some(Requests::of(manifest, &kinds))
        })
    }

    /// Compiles (or loads from the cache) on a thread of its own that ends with the compile:
    /// the allocator's cache of a thread is given back when the thread ends, not while it
    /// idles, and a compile leaves megabytes there (docs/benchmarks.md, "A thread per compile").
    pub(super) async fn compile(&self, label: &str, bytes: &[u8]) -> Result<ModuleCode> {
        let (sandbox, label, bytes) = (self.sandbox().clone(), label.to_string(), bytes.to_vec());
        let (done, compiled) = tokio::sync::oneshot::channel();
        std::thread::Builder::new()
            .name("botbox-compile".into())
            .spawn(move || {
                let _ = done.send(sandbox.compile(&label, &bytes));
            })
            .map_err(|e| Error::Sandbox(format!("cannot start a compile thread: {e}")))?;
        compiled
            .await
            .map_err(|_| Error::Join("the compile thread ended without an answer".into()))?
    }

    /// Canary-inits `code` as module `name` and switches to it (or starts it).
    pub(super) async fn start_version(
        &self,
        name: &str,
        code: ModuleCode,
        file: &Path,
        bytes: &[u8],
        how: How,
    ) -> Result<Installed> {
        let How {
            action,
            write_file,
            approved,
        } = how;
        let slot_state = self.slots.read().get(name).map(|s| {
            (
                s.namespace.clone(),
                Some(s.log.clone()),
                Some(s.tag.clone()),
                s.persisted.clone(),
            )
        });
        let (namespace, log, tag, persisted) = match slot_state {
            Some(state) => state,
            // Not loaded since the start: what was kept of it before the stop, if anything.
            None => {
                let mut kept = self.persisted_all()?.remove(name).unwrap_or_default();
                kept.disabled = None;
                (None, None, None, kept)
            }
        };
        let tag = match tag {
            Some(t) => t,
            None => module_tag(&self.ctx.db, name)?,
        };
        self.open_shared_kv(name).await?;
        let env = self.env(name, Some((tag.clone(), namespace, log, &persisted)))?;
        let mut first = self.sandbox().instantiate(&code, env.clone()).await?;
        let manifest = first
            .init()
            .await
            .map_err(|e| Error::module(name, format!("init {e}")))?;
        crate::modules::manifest::validate(&manifest)
            .map_err(|e| Error::module(name, format!("bad manifest: {e}")))?;
        if manifest.name != name {
            return Err(Error::module(
                name,
                format!(
                    "its name changes with its configuration (now `{}`)",
                    manifest.name
                ),
            ));
        }
        let requests = Requests::of(&manifest, &env.wanted_kinds.read());
        let baseline = self.granted(name).or_else(|| persisted.granted.clone());
        let changes = Changes::between(baseline.as_ref(), &requests);
        if baseline.is_some() && changes.widens() && !approved {
            let awaiting = Awaiting {
                name: name.to_string(),
                version: manifest.version.clone(),
                changes,
                file: Some(file.to_path_buf()),
            };
            self.pending().keep(&awaiting, bytes)?;
            self.publish(&awaiting.name).await;
            return Err(Error::AwaitingApproval(Box::new(awaiting)));
        }
        let outbox_per_minute = crate::modules::manifest::grant(&self.ctx.config, &env, &manifest);
        // Past this point nothing can fail for the module's sake: it switches.
        if write_file {
            write_atomically(file, bytes)?;
        }
        self.keep_version(name, &code.hash, bytes);
        let version = Arc::new(Version {
            code: code.clone(),
            env: env.clone(),
            manifest: manifest.clone(),
        });
        let (old_module, old_hash, old_file) = {
            let slots = self.slots.read();
            match slots.get(name) {
                Some(s) => (s.module.clone(), Some(s.hash.clone()), Some(s.file.clone())),
                None => (None, None, None),
            }
        };
        let stats = self
            .slots
            .read()
            .get(name)
            .map(|s| s.stats.clone())
            .unwrap_or_default();
        let module = match &old_module {
            Some(m) => {
                m.switch(version).await;
                m.clone()
            }
            None => Arc::new(LoadedModule::start(
                &self.ctx.shard_deps,
                version,
                first,
                stats.clone(),
            )),
        };
        self.ctx.quotas.set(name, outbox_per_minute);
        let replaced = old_hash.filter(|h| *h != code.hash);
        {
            let mut slots = self.slots.write();
            let slot = slots.entry(name.to_string()).or_insert_with(|| Slot {
                module: None,
                stats,
                file: file.to_path_buf(),
                hash: String::new(),
                manifest: None,
                namespace: None,
                log: env.log.clone(),
                tag: tag.clone(),
                persisted: persisted.clone(),
            });
            slot.module = Some(module);
            slot.hash = code.hash.clone();
            slot.manifest = Some(manifest.clone());
            slot.namespace = Some(env.namespace.clone());
            slot.file = file.to_path_buf();
            slot.persisted.disabled = None;
            slot.persisted.current = Some(code.hash.clone());
            slot.persisted.granted = Some(requests);
            if action != Action::Reconfigured && replaced.is_some() {
                slot.persisted.previous = replaced.clone();
            }
        }
        // A module that moved to another file leaves no stale copy to load at the next start.
        if let Some(old) = old_file
            && old != file
            && write_file
        {
            let _ = std::fs::remove_file(&old);
        }
        self.rebuild_router();
        self.persist()?;
        env.log.host_event(&format!(
            "{action}: version {} ({}): {}",
            manifest.version,
            &code.hash[..12],
            changes.lines().join("; ")
        ));
        self.publish(name).await;
        Ok(Installed {
            name: name.to_string(),
            version: manifest.version,
            hash: code.hash,
            action,
            replaced,
            changes,
        })
    }

    /// Keeps the bytes of a version that served, for rollback, and forgets all but the newest
    /// [`KEPT_VERSIONS`] of the module's versions (the one serving and the one a rollback
    /// returns to are always among them: they are the newest two).
    fn keep_version(&self, name: &str, hash: &str, bytes: &[u8]) {
        let path = self.version_path(name, hash);
        if path.exists() {
            // Serving again: the newest.
            let _ = std::fs::File::options()
                .write(true)
                .open(&path)
                .and_then(|f| f.set_modified(std::time::SystemTime::now()));
        } else if let Err(e) = write_atomically(&path, bytes) {
            tracing::warn!(module = name, "cannot keep this version for rollback: {e}");
        }
        if let Some(dir) = path.parent() {
            for (old, e) in forget_old_versions(dir, &path, KEPT_VERSIONS) {
                tracing::warn!(module = name, file = %old.display(), "cannot forget an old version: {e}");
            }
        }
    }

    pub(super) fn version_path(&self, name: &str, hash: &str) -> PathBuf {
        self.ctx
            .config
            .data_dir
            .join("versions")
            .join(name)
            .join(format!("{hash}.wasm"))
    }
}
