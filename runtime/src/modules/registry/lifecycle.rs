//! How modules change: load at start, install (add or swap), rollback, remove, enable,
//! disable, configure.
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

impl Registry {
    /// Loads every `*.wasm` of the modules directory (at start), side by side: a slow `init`
    /// delays only its own module. A file that fails is logged and skipped; a module disabled
    /// before the stop stays disabled.
    pub(crate) async fn load_dir(&self) -> Result<()> {
        let persisted = self.persisted_all()?;
        let mut loads = Vec::new();
        for (file, bytes) in read_modules_dir(&self.ctx.config.modules_dir)? {
            let hash = crate::sandbox::module_hash(&bytes);
            let stem = file
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            // A module disabled before the stop is not started; its name is its file's stem
            // or the name its state was kept under.
            if let Some((name, p)) = persisted.iter().find(|(n, p)| {
                p.disabled.is_some() && (p.file.as_ref() == Some(&file) || **n == stem)
            }) {
                self.insert_disabled(name, &file, hash, p.clone())?;
                continue;
            }
            loads.push(self.load_file(file, bytes, &persisted));
        }
        futures::future::join_all(loads).await;
        if self.slots.read().is_empty() {
            tracing::warn!(dir = %self.ctx.config.modules_dir.display(), "no modules loaded: the bot will not answer");
        }
        Ok(())
    }

    async fn load_file(
        &self,
        file: PathBuf,
        bytes: Vec<u8>,
        persisted: &BTreeMap<String, Persisted>,
    ) {
        match self
            .install_named(&bytes, Some(&file), false, Expect::Any)
            .await
        {
            Ok(done) => {
                if let Some(p) = persisted.get(&done.name)
                    && let Some(slot) = self.slots.write().get_mut(&done.name)
                {
                    slot.persisted.previous = p.previous.clone();
                }
            }
            Err(e) => tracing::error!(file = %file.display(), "module not loaded: {e}"),
        }
    }

    fn insert_disabled(&self, name: &str, file: &Path, hash: String, p: Persisted) -> Result<()> {
        let tag = module_tag(&self.ctx.db, name)?;
        let log = GuestLog::new(
            name.into(),
            self.ctx.config.sandbox.log_lines_per_minute,
            self.ctx.config.sandbox.log_lines_kept,
        );
        log.host_event(&format!(
            "disabled: {}",
            p.disabled.as_deref().unwrap_or("by the operator")
        ));
        self.slots.write().insert(
            name.to_string(),
            Slot {
                module: None,
                stats: Arc::default(),
                file: file.to_path_buf(),
                hash,
                manifest: None,
                namespace: None,
                log,
                tag,
                persisted: p,
            },
        );
        Ok(())
    }

    /// Adds a module, or swaps the running module of the same name for this version. `file` is
    /// where the bytes are (the watcher) or should be kept (the API: `None` → the module's
    /// current file, or `<modules_dir>/<name>.wasm`).
    pub async fn install(&self, bytes: &[u8], file: Option<&Path>) -> Result<Installed> {
        self.install_named(bytes, file, true, Expect::Any).await
    }

    /// Like [`Self::install`], refusing a module whose name is taken (`Expect::New`) or one
    /// that is not the named module (`Expect::Swap`).
    pub async fn install_expecting(&self, bytes: &[u8], expect: Expect<'_>) -> Result<Installed> {
        self.install_named(bytes, None, true, expect).await
    }

    /// Compiles and probes the bytes under no lock, then changes the module they name under
    /// that name's lock.
    async fn install_named(
        &self,
        bytes: &[u8],
        file: Option<&Path>,
        write_file: bool,
        expect: Expect<'_>,
    ) -> Result<Installed> {
        let label = file.map_or_else(|| "upload".to_string(), |f| f.display().to_string());
        let code = self.compile(&label, bytes).await?;
        // Learn the name with a probe that has no KV usage count and no real tag.
        let stem = file
            .and_then(Path::file_stem)
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "upload".into());
        let probe_env = self.env(&stem, None)?;
        let mut probe = self.sandbox().instantiate(&code, probe_env).await?;
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
            });
        }
        let action = if existing.as_ref().is_some_and(|e| e.1) {
            Action::Swapped
        } else {
            Action::Added
        };
        self.start_version(&name, code, &target, bytes, action, write_file)
            .await
    }

    async fn compile(&self, label: &str, bytes: &[u8]) -> Result<ModuleCode> {
        let (sandbox, label, bytes) = (self.sandbox().clone(), label.to_string(), bytes.to_vec());
        tokio::task::spawn_blocking(move || sandbox.compile(&label, &bytes))
            .await
            .map_err(|e| Error::Join(e.to_string()))?
    }

    /// Canary-inits `code` as module `name` and switches to it (or starts it).
    async fn start_version(
        &self,
        name: &str,
        code: ModuleCode,
        file: &Path,
        bytes: &[u8],
        action: Action,
        write_file: bool,
    ) -> Result<Installed> {
        let (namespace, log, tag, persisted) = match self.slots.read().get(name) {
            Some(s) => (
                s.namespace.clone(),
                Some(s.log.clone()),
                Some(s.tag.clone()),
                s.persisted.clone(),
            ),
            None => (None, None, None, Persisted::default()),
        };
        let tag = match tag {
            Some(t) => t,
            None => module_tag(&self.ctx.db, name)?,
        };
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
                persisted: Persisted::default(),
            });
            slot.module = Some(module);
            slot.hash = code.hash.clone();
            slot.manifest = Some(manifest.clone());
            slot.namespace = Some(env.namespace.clone());
            slot.file = file.to_path_buf();
            slot.persisted.disabled = None;
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
            "{action}: version {} ({})",
            manifest.version,
            &code.hash[..12]
        ));
        Ok(Installed {
            name: name.to_string(),
            version: manifest.version,
            hash: code.hash,
            action,
            replaced,
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

    fn version_path(&self, name: &str, hash: &str) -> PathBuf {
        self.ctx
            .config
            .data_dir
            .join("versions")
            .join(name)
            .join(format!("{hash}.wasm"))
    }

    /// Swaps back to the version before the current one (which becomes the one a second
    /// rollback returns to).
    pub async fn rollback(&self, name: &str) -> Result<Installed> {
        let _guard = self.lock_name(name).await;
        let (previous, file) = {
            let slots = self.slots.read();
            let s = slots.get(name).ok_or_else(|| not_found(name))?;
            (s.persisted.previous.clone(), s.file.clone())
        };
        let previous = previous.ok_or_else(|| {
            Error::module(name, "has no previous version to roll back to".to_string())
        })?;
        let path = self.version_path(name, &previous);
        let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
        let code = self.compile(name, &bytes).await?;
        self.start_version(name, code, &file, &bytes, Action::RolledBack, true)
            .await
    }

    /// Stops the module and forgets it; its KV data stays (a module of that name added later
    /// finds it). Its file is deleted from the modules directory unless `keep_file`.
    pub async fn remove(&self, name: &str, keep_file: bool) -> Result<()> {
        let _guard = self.lock_name(name).await;
        let slot = self
            .slots
            .write()
            .remove(name)
            .ok_or_else(|| not_found(name))?;
        self.rebuild_router();
        self.ctx.quotas.set(name, None);
        if let Some(m) = &slot.module {
            m.stop().await;
        }
        if !keep_file {
            match std::fs::remove_file(&slot.file) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(Error::io(&slot.file, e)),
            }
        }
        // Its timers go with it: no one would fire them, and they would cost every timer read.
        let db = self.ctx.db.clone();
        let owner = name.to_string();
        match tokio::task::spawn_blocking(move || db.delete_timers_of(&owner)).await? {
            Ok(0) => {}
            Ok(n) => tracing::info!(
                module = name,
                timers = n,
                "deleted the removed module's timers"
            ),
            Err(e) => tracing::warn!(
                module = name,
                "cannot delete the removed module's timers: {e}"
            ),
        }
        // So do its unfinished updates: no one would ever handle them.
        let db = self.ctx.db.clone();
        let owner = name.to_string();
        match tokio::task::spawn_blocking(move || db.forget_pending_of(&owner)).await? {
            Ok(0) => {}
            Ok(n) => tracing::info!(
                module = name,
                updates = n,
                "forgot the removed module's unfinished updates"
            ),
            Err(e) => tracing::warn!(
                module = name,
                "cannot forget the removed module's unfinished updates: {e}"
            ),
        }
        slot.log.host_event("removed");
        self.persist()
    }

    /// Stops routing updates to the module and stops its instances; `why` is shown in the list.
    pub async fn disable(&self, name: &str, why: &str) -> Result<()> {
        let _guard = self.lock_name(name).await;
        let module = {
            let mut slots = self.slots.write();
            let s = slots.get_mut(name).ok_or_else(|| not_found(name))?;
            s.persisted.disabled = Some(why.to_string());
            s.log.host_event(&format!("disabled: {why}"));
            s.module.take()
        };
        self.rebuild_router();
        self.ctx.quotas.set(name, None);
        if let Some(m) = module {
            m.stop().await;
        }
        self.persist()
    }

    /// Starts a disabled module again from its file.
    pub async fn enable(&self, name: &str) -> Result<Installed> {
        let _guard = self.lock_name(name).await;
        let (file, running) = {
            let slots = self.slots.read();
            let s = slots.get(name).ok_or_else(|| not_found(name))?;
            (s.file.clone(), s.module.is_some())
        };
        if running {
            return Err(Error::module(name, "is running already".to_string()));
        }
        let bytes = std::fs::read(&file).map_err(|e| Error::io(&file, e))?;
        let code = self.compile(name, &bytes).await?;
        if let Some(s) = self.slots.write().get_mut(name) {
            s.stats
                .quarantined_in_a_row
                .store(0, std::sync::atomic::Ordering::Relaxed);
        }
        self.start_version(name, code, &file, &bytes, Action::Enabled, false)
            .await
    }

    /// Replaces the module's configuration (what it reads with `config::get`) and restarts it
    /// with it through the same canary path; a module that refuses it keeps the old one.
    pub async fn set_config(&self, name: &str, config: toml::Table) -> Result<Installed> {
        let _guard = self.lock_name(name).await;
        let (file, old) = {
            let mut slots = self.slots.write();
            let s = slots.get_mut(name).ok_or_else(|| not_found(name))?;
            let old = s.persisted.config.replace(config);
            (s.file.clone(), old)
        };
        let running = self.get(name).is_some();
        let result = async {
            if !running {
                return Err(Error::module(
                    name,
                    "is disabled: enable it to apply a configuration".to_string(),
                ));
            }
            let bytes = std::fs::read(&file).map_err(|e| Error::io(&file, e))?;
            let code = self.compile(name, &bytes).await?;
            self.start_version(name, code, &file, &bytes, Action::Reconfigured, false)
                .await
        }
        .await;
        if result.is_err()
            && let Some(s) = self.slots.write().get_mut(name)
        {
            s.persisted.config = old;
        }
        result
    }
}
