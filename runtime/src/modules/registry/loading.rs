//! Loading the modules directory at start: each file side by side, a module disabled before
//! the stop stays disabled, and a file changed while the bot was stopped that asks for more
//! than was approved waits while the approved version serves.

use super::lifecycle::How;
use super::*;

impl Registry {
    /// Loads every `*.wasm` of the modules directory (at start), side by side: a slow `init`
    /// delays only its own module. A file that fails is logged and skipped; a module disabled
    /// before the stop stays disabled.
    /// A PostgreSQL bot's node then takes the bot's state (`cluster.rs`): nothing loaded here
    /// is published as a change.
    pub(crate) async fn load_dir(&self) -> Result<()> {
        super::cluster::following(self.load_dir_files()).await
    }

    async fn load_dir_files(&self) -> Result<()> {
        let persisted = self.persisted_all()?;
        *self.loading.lock() = Some(persisted.clone());
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
        *self.loading.lock() = None;
        // On PostgreSQL the bot's modules may come from the database (`join_the_bot`).
        if self.slots.read().is_empty() && self.ctx.pg.is_none() {
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
        // The version that served before the stop stays approved (only the operator's
        // configuration may have changed what it asks for).
        let hash = crate::sandbox::module_hash(&bytes);
        let served = persisted
            .values()
            .any(|p| p.current.as_deref() == Some(&hash));
        match self
            .install_named(&bytes, Some(&file), false, Expect::File, served)
            .await
        {
            Ok(_) => {}
            Err(e) if Awaiting::of(&e).is_some() => {
                let awaiting = Awaiting::of(&e).expect("checked above");
                // Changed while the bot was stopped, asking for more: the version approved
                // before serves until the operator approves this one.
                tracing::warn!(file = %file.display(), "{awaiting}");
                let kept = persisted
                    .get(&awaiting.name)
                    .and_then(|p| p.current.clone())
                    .map(|hash| self.version_path(&awaiting.name, &hash))
                    .and_then(|path| std::fs::read(path).ok());
                let Some(kept) = kept else {
                    tracing::error!(module = %awaiting.name, "no approved version is kept: not started until the operator approves");
                    return;
                };
                let started = async {
                    let code = self.compile(&awaiting.name, &kept).await?;
                    let _guard = self.lock_name(&awaiting.name).await;
                    self.start_version(
                        &awaiting.name,
                        code,
                        &file,
                        &kept,
                        How {
                            action: Action::Added,
                            write_file: false,
                            approved: true,
                        },
                    )
                    .await
                };
                if let Err(e) = started.await {
                    tracing::error!(module = %awaiting.name, "the approved version does not start either: {e}");
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
}
