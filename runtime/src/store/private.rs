//! The data at rest is the bot's alone: the data directory is created 0700 and the database
//! file is 0600, so other local users read none of the modules' data, whatever the umask. A
//! database file found readable by others (made by an older version, or copied in) is made
//! private when opened.

use std::{fs::File, path::Path};

use crate::{Error, Result};

/// Creates `dir` (and its missing parents) readable by its owner only; an existing directory
/// keeps the permissions the operator gave it.
pub(super) fn create_dir(dir: &Path) -> Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir).map_err(|e| Error::io(dir, e))
}

/// Opens (or creates) the database file for reading and writing, readable by its owner only.
pub(super) fn open_file(path: &Path) -> Result<File> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let file = options.open(path).map_err(|e| Error::io(path, e))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = file
            .metadata()
            .map_err(|e| Error::io(path, e))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            file.set_permissions(std::fs::Permissions::from_mode(0o600))
                .map_err(|e| Error::io(path, e))?;
            tracing::info!(file = %path.display(), "the database was readable by others; now by its owner only");
        }
    }
    Ok(file)
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn a_new_data_dir_and_database_are_the_owner_s_only() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("a/data");
        let db = crate::store::Db::open(&dir).unwrap();
        drop(db);
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&dir.join("botbox.redb")), 0o600);
    }

    #[test]
    fn a_database_readable_by_others_is_made_private_and_an_existing_dir_is_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        drop(crate::store::Db::open(dir.path()).unwrap());
        let file = dir.path().join("botbox.redb");
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        drop(crate::store::Db::open(dir.path()).unwrap());
        assert_eq!(mode(&file), 0o600);
        assert_eq!(mode(dir.path()), 0o755);
    }
}
