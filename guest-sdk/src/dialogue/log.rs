//! What a dialogue keeps in the module's KV store: a small header per running dialogue and its
//! log of inputs, in a compact binary encoding, chained by a hash.
//!
//! Keys (`K` is the dialogue key: a kind byte and two big-endian `i64`s, 17 bytes):
//! - `dialogue/h/` + K: the [`Header`];
//! - `dialogue/l/` + K + seq (big-endian `u32`): the log's [`Entry`] number `seq`, from 0 (the
//!   start) to `steps - 1`.
//!
//! The header's `hash` is FNV-1a over every entry's encoding, chained: it names the log's whole
//! content, so an instance's cached dialogue is valid exactly when its hash equals the header's.

use super::Input;

/// How an await ends when no input comes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Timeout {
    /// The registry's inactivity timeout, which ends the dialogue (none if not configured).
    Inactivity,
    /// This many milliseconds, after which the await returns `None`.
    After(u64),
}

/// What kind of input an await takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A text message.
    Text,
    /// A press of an inline button.
    Button,
    /// Either.
    Any,
}

/// What a suspended dialogue waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Want {
    pub kind: Kind,
    pub timeout: Timeout,
}

impl Want {
    pub(crate) fn accepts(&self, input: &Input) -> bool {
        matches!(
            (self.kind, input),
            (Kind::Any, _) | (Kind::Text, Input::Text(_)) | (Kind::Button, Input::Button(_))
        )
    }

    pub(crate) fn describe(&self) -> String {
        let kind = match self.kind {
            Kind::Text => "a text message",
            Kind::Button => "a button press",
            Kind::Any => "a message or a button press",
        };
        match self.timeout {
            Timeout::Inactivity => kind.to_owned(),
            Timeout::After(ms) => format!("{kind} or a timeout of {ms} ms"),
        }
    }
}

/// One entry of a dialogue's log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Entry {
    /// The dialogue started: which one, at which version, for whom and where.
    Start {
        name: String,
        version: u32,
        chat: i64,
        user: i64,
        args: String,
    },
    /// An input arrived while the dialogue waited for `want`.
    Input {
        want: Want,
        chat: i64,
        from: i64,
        input: Input,
    },
    /// An await with a timeout of its own timed out.
    Timeout { want: Want },
    /// A value the dialogue recorded (`Dialogue::record`), as JSON, with a tag naming its type.
    Record { tag: u32, value: Vec<u8> },
}

impl Entry {
    pub(crate) fn describe(&self) -> String {
        match self {
            Self::Start { name, .. } => format!("the start of `{name}`"),
            Self::Input { want, .. } => format!("an input awaited as {}", want.describe()),
            Self::Timeout { want } => format!("a timeout awaited as {}", want.describe()),
            Self::Record { .. } => "a recorded value".to_owned(),
        }
    }
}

/// What the store says about a running dialogue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Header {
    /// The dialogue's name (its start command).
    pub name: String,
    /// The version the dialogue was started with.
    pub version: u32,
    /// Entries in the log.
    pub steps: u32,
    /// The chained hash of the entries.
    pub hash: u64,
    /// What it waits for now.
    pub want: Want,
    /// The pending timeout timer, if any.
    pub timer: Option<u64>,
    /// The user who started it.
    pub user: i64,
    /// The chat of its latest input.
    pub chat: i64,
    /// The text after the start command.
    pub args: String,
}

pub(crate) const HASH_SEED: u64 = 0xcbf2_9ce4_8422_2325;

/// The chained hash after an entry encoded as `bytes`.
pub(crate) fn chain(previous: u64, bytes: &[u8]) -> u64 {
    let mut hash = HASH_SEED;
    for byte in previous.to_le_bytes().iter().chain(bytes) {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

/// A 32-bit tag for a type name (`Dialogue::record` checks it on replay).
pub(crate) fn tag(name: &str) -> u32 {
    let hash = chain(0, name.as_bytes());
    (hash ^ (hash >> 32)) as u32
}

pub(crate) const HEADER_PREFIX: &[u8] = b"dialogue/h/";
pub(crate) const LOG_PREFIX: &[u8] = b"dialogue/l/";

/// A resolved dialogue key: the kind of key and up to two ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Key {
    pub kind: u8,
    pub a: i64,
    pub b: i64,
}

impl Key {
    fn bytes(self) -> [u8; 17] {
        let mut out = [0; 17];
        out[0] = self.kind;
        out[1..9].copy_from_slice(&self.a.to_be_bytes());
        out[9..].copy_from_slice(&self.b.to_be_bytes());
        out
    }

    pub(crate) fn from_bytes(bytes: &[u8]) -> Option<Self> {
        let bytes: &[u8; 17] = bytes.try_into().ok()?;
        Some(Self {
            kind: bytes[0],
            a: i64::from_be_bytes(bytes[1..9].try_into().ok()?),
            b: i64::from_be_bytes(bytes[9..].try_into().ok()?),
        })
    }

    pub(crate) fn header_key(self) -> Vec<u8> {
        [HEADER_PREFIX, &self.bytes()].concat()
    }

    pub(crate) fn log_key(self, seq: u32) -> Vec<u8> {
        [LOG_PREFIX, &self.bytes(), &seq.to_be_bytes()].concat()
    }

    /// The payload of this dialogue's timers.
    pub(crate) fn timer_payload(self) -> Vec<u8> {
        [TIMER_MAGIC, &self.bytes()].concat()
    }

    /// The key a timer payload names, if it is a dialogue timer's.
    pub(crate) fn from_timer_payload(payload: &[u8]) -> Option<Self> {
        Self::from_bytes(payload.strip_prefix(TIMER_MAGIC)?)
    }
}

const TIMER_MAGIC: &[u8] = b"\xffbotbox-dialogue\0";

// ---- encoding -------------------------------------------------------------------------------

struct Writer(Vec<u8>);

impl Writer {
    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn i64(&mut self, v: i64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn bytes(&mut self, v: &[u8]) {
        self.u32(u32::try_from(v.len()).unwrap_or(u32::MAX));
        self.0.extend_from_slice(v);
    }
    fn want(&mut self, want: Want) {
        self.u8(match want.kind {
            Kind::Text => 0,
            Kind::Button => 1,
            Kind::Any => 2,
        });
        match want.timeout {
            Timeout::Inactivity => self.u8(0),
            Timeout::After(ms) => {
                self.u8(1);
                self.u64(ms);
            }
        }
    }
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Option<&[u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Some(head)
    }
    fn u8(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }
    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
    fn i64(&mut self) -> Option<i64> {
        Some(i64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
    fn bytes(&mut self) -> Option<Vec<u8>> {
        let n = self.u32()? as usize;
        Some(self.take(n)?.to_vec())
    }
    fn string(&mut self) -> Option<String> {
        String::from_utf8(self.bytes()?).ok()
    }
    fn want(&mut self) -> Option<Want> {
        let kind = match self.u8()? {
            0 => Kind::Text,
            1 => Kind::Button,
            2 => Kind::Any,
            _ => return None,
        };
        let timeout = match self.u8()? {
            0 => Timeout::Inactivity,
            1 => Timeout::After(self.u64()?),
            _ => return None,
        };
        Some(Want { kind, timeout })
    }
    fn end(&self) -> Option<()> {
        self.0.is_empty().then_some(())
    }
}

impl Entry {
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut w = Writer(Vec::with_capacity(32));
        match self {
            Self::Start {
                name,
                version,
                chat,
                user,
                args,
            } => {
                w.u8(0);
                w.bytes(name.as_bytes());
                w.u32(*version);
                w.i64(*chat);
                w.i64(*user);
                w.bytes(args.as_bytes());
            }
            Self::Input {
                want,
                chat,
                from,
                input,
            } => {
                let (tag, text) = match input {
                    Input::Text(text) => (1, text),
                    Input::Button(data) => (2, data),
                };
                w.u8(tag);
                w.want(*want);
                w.i64(*chat);
                w.i64(*from);
                w.bytes(text.as_bytes());
            }
            Self::Timeout { want } => {
                w.u8(3);
                w.want(*want);
            }
            Self::Record { tag, value } => {
                w.u8(4);
                w.u32(*tag);
                w.bytes(value);
            }
        }
        w.0
    }

    pub(crate) fn decode(bytes: &[u8]) -> Option<Self> {
        let mut r = Reader(bytes);
        let entry = match r.u8()? {
            0 => Self::Start {
                name: r.string()?,
                version: r.u32()?,
                chat: r.i64()?,
                user: r.i64()?,
                args: r.string()?,
            },
            tag @ (1 | 2) => {
                let want = r.want()?;
                let chat = r.i64()?;
                let from = r.i64()?;
                let text = r.string()?;
                let input = if tag == 1 {
                    Input::Text(text)
                } else {
                    Input::Button(text)
                };
                Self::Input {
                    want,
                    chat,
                    from,
                    input,
                }
            }
            3 => Self::Timeout { want: r.want()? },
            4 => Self::Record {
                tag: r.u32()?,
                value: r.bytes()?,
            },
            _ => return None,
        };
        r.end()?;
        Some(entry)
    }
}

impl Header {
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut w = Writer(Vec::with_capacity(64));
        w.u8(1); // format version
        w.bytes(self.name.as_bytes());
        w.u32(self.version);
        w.u32(self.steps);
        w.u64(self.hash);
        w.want(self.want);
        match self.timer {
            None => w.u8(0),
            Some(id) => {
                w.u8(1);
                w.u64(id);
            }
        }
        w.i64(self.user);
        w.i64(self.chat);
        w.bytes(self.args.as_bytes());
        w.0
    }

    pub(crate) fn decode(bytes: &[u8]) -> Option<Self> {
        let mut r = Reader(bytes);
        if r.u8()? != 1 {
            return None;
        }
        let header = Self {
            name: r.string()?,
            version: r.u32()?,
            steps: r.u32()?,
            hash: r.u64()?,
            want: r.want()?,
            timer: match r.u8()? {
                0 => None,
                1 => Some(r.u64()?),
                _ => return None,
            },
            user: r.i64()?,
            chat: r.i64()?,
            args: r.string()?,
        };
        r.end()?;
        Some(header)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_and_headers_round_trip() {
        let want = Want {
            kind: Kind::Button,
            timeout: Timeout::After(1500),
        };
        let entries = [
            Entry::Start {
                name: "sum".into(),
                version: 3,
                chat: -100,
                user: 7,
                args: "now".into(),
            },
            Entry::Input {
                want,
                chat: 1,
                from: 2,
                input: Input::Text("héllo".into()),
            },
            Entry::Input {
                want,
                chat: 1,
                from: 2,
                input: Input::Button("b".into()),
            },
            Entry::Timeout { want },
            Entry::Record {
                tag: 9,
                value: b"[1,2]".to_vec(),
            },
        ];
        for entry in entries {
            assert_eq!(Entry::decode(&entry.encode()), Some(entry));
        }
        let header = Header {
            name: "profile".into(),
            version: 1,
            steps: 4,
            hash: 99,
            want,
            timer: Some(12),
            user: 5,
            chat: 6,
            args: String::new(),
        };
        assert_eq!(Header::decode(&header.encode()), Some(header));
    }

    #[test]
    fn damaged_bytes_do_not_decode() {
        let entry = Entry::Timeout {
            want: Want {
                kind: Kind::Text,
                timeout: Timeout::Inactivity,
            },
        }
        .encode();
        assert_eq!(Entry::decode(&entry[..entry.len() - 1]), None);
        assert_eq!(Entry::decode(&[entry.as_slice(), b"x"].concat()), None);
        assert_eq!(Entry::decode(&[9]), None);
    }

    #[test]
    fn the_hash_chain_depends_on_every_entry_and_its_order() {
        let a = chain(chain(HASH_SEED, b"a"), b"b");
        let b = chain(chain(HASH_SEED, b"b"), b"a");
        assert_ne!(a, b);
        assert_ne!(chain(HASH_SEED, b"a"), chain(HASH_SEED, b"b"));
    }

    #[test]
    fn keys_and_timer_payloads_round_trip() {
        let key = Key {
            kind: b'm',
            a: -100,
            b: 42,
        };
        assert_eq!(Key::from_timer_payload(&key.timer_payload()), Some(key));
        assert_eq!(Key::from_timer_payload(b"remind me"), None);
        assert!(key.log_key(1) < key.log_key(256));
        assert!(key.header_key().starts_with(HEADER_PREFIX));
    }
}
