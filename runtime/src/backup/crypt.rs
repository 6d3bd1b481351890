//! Encryption at rest: a snapshot sealed in the age format (age-encryption.org/v1), to X25519
//! recipients (`backup.encrypt_to`, the operator keeps the identity file) or to a passphrase
//! (`backup.passphrase_file`, scrypt). The whole `.bbk` file is sealed, so an encrypted snapshot
//! is an age file holding a plain one; restoring opens it with [`Keys`] first.
//!
//! age authenticates what it decrypts (each 64 KiB chunk has a MAC), so a sealed snapshot that
//! opens was also written by someone holding a recipient's public key or the passphrase: unlike
//! the plain file's checksum, that is not something anyone can recompute.

use std::{
    io::{self, Read, Write},
    path::Path,
};

use age::secrecy::SecretString;

use crate::{
    Error, Result,
    config::{
        BackupConfig,
        backup_keys::{BOTH, parse_recipient, read_passphrase},
    },
};

/// How every age file starts.
const AGE_MAGIC: &[u8] = b"age-encryption.org/";
/// How an ASCII-armored age file starts (`age --armor`), which botbox does not write.
const ARMOR_MAGIC: &[u8] = b"-----BEGIN AGE ENCRYPTED FILE-----";

fn refused(what: impl std::fmt::Display) -> Error {
    Error::Backup(what.to_string())
}

/// Whether `bytes` (a snapshot file, or its start) is sealed with age.
pub fn is_sealed(bytes: &[u8]) -> bool {
    bytes.starts_with(AGE_MAGIC) || bytes.starts_with(ARMOR_MAGIC)
}

/// How new snapshots are sealed, from the `[backup]` settings.
pub enum Seal {
    /// Not at all: `encrypt_to` and `passphrase_file` are unset.
    Plain,
    /// To these X25519 recipients (`age1…`).
    Recipients(Vec<age::x25519::Recipient>),
    /// To a passphrase (age's scrypt recipient, which may not share a file with others).
    Passphrase(SecretString),
}

impl Seal {
    /// The seal `config` asks for; reads the passphrase file.
    pub fn from_config(config: &BackupConfig) -> Result<Seal> {
        match (&config.encrypt_to[..], &config.passphrase_file) {
            ([], None) => Ok(Seal::Plain),
            ([], Some(file)) => Ok(Seal::Passphrase(read_passphrase(file)?)),
            (keys, None) => Ok(Seal::Recipients(
                keys.iter()
                    .map(|k| parse_recipient(k))
                    .collect::<Result<_>>()?,
            )),
            (_, Some(_)) => Err(Error::Config(BOTH.into())),
        }
    }

    /// Whether snapshots are encrypted.
    pub fn is_on(&self) -> bool {
        !matches!(self, Seal::Plain)
    }

    /// Wraps `out` so that what is written to it is sealed; call [`Sealed::finish`] at the end.
    pub fn wrap<W: Write>(&self, out: W) -> Result<Sealed<W>> {
        let encryptor = match self {
            Seal::Plain => return Ok(Sealed::Plain(out)),
            Seal::Passphrase(p) => age::Encryptor::with_user_passphrase(p.clone()),
            Seal::Recipients(keys) => {
                age::Encryptor::with_recipients(keys.iter().map(|k| k as &dyn age::Recipient))
                    .map_err(|e| refused(format!("cannot encrypt: {e}")))?
            }
        };
        let writer = encryptor
            .wrap_output(out)
            .map_err(|e| Error::io("<backup output>", e))?;
        Ok(Sealed::Age(writer))
    }

    /// `plain` sealed (or as it is, for [`Seal::Plain`]).
    pub fn seal(&self, plain: Vec<u8>) -> Result<Vec<u8>> {
        if !self.is_on() {
            return Ok(plain);
        }
        let mut out = self.wrap(Vec::with_capacity(plain.len() + 512))?;
        out.write_all(&plain)
            .map_err(|e| Error::io("<backup output>", e))?;
        out.finish().map_err(|e| Error::io("<backup output>", e))
    }
}

/// A writer that seals what it is given, or passes it on.
pub enum Sealed<W: Write> {
    /// Passes it on.
    Plain(W),
    /// Seals it.
    Age(age::stream::StreamWriter<W>),
}

impl<W: Write> Sealed<W> {
    /// Writes the last sealed chunk; returns the inner writer.
    pub fn finish(self) -> io::Result<W> {
        match self {
            Sealed::Plain(w) => Ok(w),
            Sealed::Age(w) => w.finish(),
        }
    }
}

impl<W: Write> Write for Sealed<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Sealed::Plain(w) => w.write(buf),
            Sealed::Age(w) => w.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Sealed::Plain(w) => w.flush(),
            Sealed::Age(w) => w.flush(),
        }
    }
}

/// The keys given to open sealed snapshots (`--identity`, `--passphrase-file`).
#[derive(Default)]
pub struct Keys {
    identities: Vec<Box<dyn age::Identity + Send + Sync>>,
    passphrase: Option<SecretString>,
}

impl Keys {
    /// No keys: a sealed snapshot is refused.
    pub fn none() -> Keys {
        Keys::default()
    }

    /// Reads an age identity file (`age-keygen` output) and/or a passphrase file.
    pub fn from_files(identity: Option<&Path>, passphrase_file: Option<&Path>) -> Result<Keys> {
        let identities = match identity {
            None => Vec::new(),
            Some(path) => {
                let file = age::IdentityFile::from_file(path.display().to_string())
                    .map_err(|e| Error::io(path, e))?;
                let ids = file.into_identities().map_err(|e| {
                    refused(format!(
                        "{}: not a usable age identity file: {e}",
                        path.display()
                    ))
                })?;
                if ids.is_empty() {
                    return Err(refused(format!(
                        "{} holds no age identity (AGE-SECRET-KEY-1…)",
                        path.display()
                    )));
                }
                ids
            }
        };
        let passphrase = passphrase_file.map(read_passphrase).transpose()?;
        Ok(Keys {
            identities,
            passphrase,
        })
    }

    /// Whether no key was given.
    pub fn is_empty(&self) -> bool {
        self.identities.is_empty() && self.passphrase.is_none()
    }
}

/// `input` opened: the plain snapshot inside a sealed one (with `keys`), or `input` itself.
///
/// A sealed snapshot without a key, or with none that opens it, is an error naming what to give.
pub fn open<'a>(mut input: impl Read + 'a, keys: &Keys) -> Result<Box<dyn Read + 'a>> {
    let mut head = [0u8; ARMOR_MAGIC.len()];
    let got = super::format::read_full(&mut input, &mut head)
        .map_err(|e| Error::io("<backup input>", e))?;
    let head = head[..got].to_vec();
    let whole = io::Cursor::new(head.clone()).chain(input);
    if head.starts_with(ARMOR_MAGIC) {
        return Err(refused(
            "this snapshot is an ASCII-armored age file; botbox reads binary ones \
             (convert it with `age -d` and restore the plain file, or re-encrypt it without --armor)",
        ));
    }
    if !head.starts_with(AGE_MAGIC) {
        return Ok(Box::new(whole));
    }
    let decryptor = age::Decryptor::new(whole).map_err(|e| {
        refused(format!(
            "the encrypted snapshot's age header is damaged: {e}"
        ))
    })?;
    let scrypt = decryptor.is_scrypt();
    if keys.is_empty() {
        return Err(refused(if scrypt {
            "this snapshot is encrypted with a passphrase; give --passphrase-file FILE"
        } else {
            "this snapshot is encrypted; give the age identity file that matches a \
             `backup.encrypt_to` key with --identity FILE"
        }));
    }
    let passphrase_identity = keys
        .passphrase
        .as_ref()
        .map(|p| age::scrypt::Identity::new(p.clone()));
    let identities = keys
        .identities
        .iter()
        .map(|i| i.as_ref() as &dyn age::Identity)
        .chain(
            passphrase_identity
                .as_ref()
                .map(|i| i as &dyn age::Identity),
        );
    match decryptor.decrypt(identities) {
        Ok(reader) => Ok(Box::new(Opened(reader))),
        Err(age::DecryptError::NoMatchingKeys | age::DecryptError::DecryptionFailed) => {
            Err(refused(if scrypt {
                "this snapshot is encrypted with a passphrase, and the one given does not open it"
            } else {
                "this snapshot is encrypted, and none of the keys given opens it \
                 (the identity must match one of the `backup.encrypt_to` keys it was made with)"
            }))
        }
        Err(e) => Err(refused(format!(
            "the encrypted snapshot does not open: {e}"
        ))),
    }
}

/// The plain snapshot inside a sealed one; a chunk that fails its MAC is named as such.
struct Opened<R>(R);

impl<R: Read> Read for Opened<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("the encrypted snapshot was altered or damaged (age: {e})"),
            )
        })
    }
}
