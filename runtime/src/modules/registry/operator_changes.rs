//! The operator's changes to a module that is there already: rollback, remove, disable,
//! enable, configure. Each goes through the same canary path as an install
//! ([`lifecycle`](super::lifecycle)).

use super::lifecycle::How;
use super::*;

impl Registry {
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
        self.start_version(
            name,
            code,
            &file,
            &bytes,
            How {
                action: Action::RolledBack,
                write_file: true,
                approved: true,
            },
        )
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
        self.forget_of(name, "timers", |db, owner| db.delete_timers_of(owner))
            .await?;
        // So do its unfinished updates: no one would ever handle them.
        self.forget_of(name, "unfinished updates", |db, owner| {
            db.forget_pending_of(owner)
        })
        .await?;
        if let Some((pg, _)) = &self.ctx.pg {
            let timers = pg.delete_timers_of(name).await?;
            let updates = pg.forget_pending_of(name).await?;
            tracing::info!(module = name, timers, updates, "forgot on PostgreSQL");
        }
        self.pending().forget(name);
        slot.log.host_event("removed");
        self.persist()?;
        self.publish(name).await;
        Ok(())
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
        self.persist()?;
        self.publish(name).await;
        Ok(())
    }

    /// Starts a disabled module again, the version it ran (or its file, for one disabled before
    /// the start). A file that asks for more than was approved awaits approval.
    pub async fn enable(&self, name: &str) -> Result<Installed> {
        let _guard = self.lock_name(name).await;
        let (file, hash, running) = {
            let slots = self.slots.read();
            let s = slots.get(name).ok_or_else(|| not_found(name))?;
            (s.file.clone(), s.hash.clone(), s.module.is_some())
        };
        if running {
            return Err(Error::module(name, "is running already".to_string()));
        }
        let bytes = self.serving_bytes(name, &hash, &file)?;
        let code = self.compile(name, &bytes).await?;
        if let Some(s) = self.slots.write().get_mut(name) {
            s.stats
                .quarantined_in_a_row
                .store(0, std::sync::atomic::Ordering::Relaxed);
        }
        self.start_version(
            name,
            code,
            &file,
            &bytes,
            How {
                action: Action::Enabled,
                write_file: false,
                approved: false,
            },
        )
        .await
    }

    /// The bytes of the version of `name` with `hash`: its kept copy, else its file (a file
    /// that changed since holds another version, perhaps one awaiting approval).
    fn serving_bytes(&self, name: &str, hash: &str, file: &Path) -> Result<Vec<u8>> {
        let kept = self.version_path(name, hash);
        std::fs::read(&kept).or_else(|_| std::fs::read(file).map_err(|e| Error::io(file, e)))
    }

    /// Replaces the module's configuration (what it reads with `config::get`) and restarts it
    /// with it through the same canary path; a module that refuses it keeps the old one.
    pub async fn set_config(&self, name: &str, config: toml::Table) -> Result<Installed> {
        let _guard = self.lock_name(name).await;
        let (file, hash, old) = {
            let mut slots = self.slots.write();
            let s = slots.get_mut(name).ok_or_else(|| not_found(name))?;
            let old = s.persisted.config.replace(config);
            (s.file.clone(), s.hash.clone(), old)
        };
        let running = self.get(name).is_some();
        let result = async {
            if !running {
                return Err(Error::module(
                    name,
                    "is disabled: enable it to apply a configuration".to_string(),
                ));
            }
            let bytes = self.serving_bytes(name, &hash, &file)?;
            let code = self.compile(name, &bytes).await?;
            // The operator's configuration: what the module asks for with it is approved.
            self.start_version(
                name,
                code,
                &file,
                &bytes,
                How {
                    action: Action::Reconfigured,
                    write_file: false,
                    approved: true,
                },
            )
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

    /// Deletes what the removed module `name` left in the store (`what`, with `delete`) off
    /// the async executor, and logs how many rows went (or why none could).
    async fn forget_of(
        &self,
        name: &str,
        what: &'static str,
        delete: impl FnOnce(&Db, &str) -> Result<usize> + Send + 'static,
    ) -> Result<()> {
        let db = self.ctx.db.clone();
        let owner = name.to_string();
        match tokio::task::spawn_blocking(move || delete(&db, &owner)).await? {
            Ok(0) => {}
            Ok(n) => tracing::info!(module = name, n, "forgot the removed module's {what}"),
            Err(e) => tracing::warn!(
                module = name,
                "cannot forget the removed module's {what}: {e}"
            ),
        }
        Ok(())
    }
}
