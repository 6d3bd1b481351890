//! The rows of a unit that other concerns read: the files its messages upload, the
//! conversations its `expect-reply` declared or withdrew, the broadcasts it queued. Each is
//! stored as the redb committer stores it (`store/files.rs`, `store/conversations.rs`,
//! `store/broadcasts.rs`), in the encodings the backup transfer copies (`transfer.rs`,
//! `export.rs`): `botbox_files` holds the JSON of `FileRow`, `botbox_file_bytes` the bytes,
//! `botbox_conversations` `<until secs> <module>` under `<chat>:<user>`, `botbox_broadcasts` the
//! JSON of `BroadcastRecord`.

use std::collections::{BTreeMap, btree_map::Entry as Slot};

use tokio_postgres::{Client, Statement, types::ToSql};

use super::{big, json};
use crate::store::{
    broadcasts::BroadcastRecord,
    conversations::{Expect, key},
    files::FileRow,
    kv::KvError,
    records::{Action, Entry},
};

/// Stores the files' bytes. A content stored already (another queued entry sends it) keeps its
/// row, locked (`DO UPDATE … WHERE false` updates nothing but locks the row; `DO NOTHING` would
/// not): a delivery releasing the content's last reference (`deliveries.rs`) cannot delete the
/// bytes between this check and the reference the unit adds after it ([`ADD_REFERENCES`]). It
/// waits for the unit, and one of the two is refused (a conflict or a deadlock) and runs again.
/// With `DO NOTHING`, both SERIALIZABLE, both committed and the bytes were gone under a
/// reference (test `store::pg::tests::deliveries::a_file_released_while_a_unit_queues_it_again…`).
pub(crate) const STORE_BYTES: &str = "INSERT INTO botbox_file_bytes AS b (k, v) \
     SELECT * FROM unnest($1::text[], $2::bytea[]) \
     ON CONFLICT (k) DO UPDATE SET v = b.v WHERE false";

/// One reference more per entry that sends the file; its Telegram id, if any, kept.
pub(crate) const ADD_REFERENCES: &str = "INSERT INTO botbox_files AS f (k, v) \
     SELECT * FROM unnest($1::text[], $2::bytea[]) \
     ON CONFLICT (k) DO UPDATE SET v = convert_to(jsonb_set( \
         convert_from(f.v, 'UTF8')::jsonb, '{refs}', to_jsonb( \
           coalesce((convert_from(f.v, 'UTF8')::jsonb ->> 'refs')::bigint, 0) \
           + (convert_from(EXCLUDED.v, 'UTF8')::jsonb ->> 'refs')::bigint))::text, \
       'UTF8')";

/// The statements, prepared once per connection.
pub(crate) struct Statements {
    bytes: Statement,
    refs: Statement,
    talk: Statement,
    untalk: Statement,
    broadcasts: Statement,
}

impl Statements {
    pub(crate) async fn prepare(c: &Client) -> Result<Statements, tokio_postgres::Error> {
        let (bytes, refs, talk, untalk, broadcasts) = futures::try_join!(
            c.prepare(STORE_BYTES),
            c.prepare(ADD_REFERENCES),
            c.prepare(
                "INSERT INTO botbox_conversations (k, v) SELECT * FROM unnest($1::text[], $2::text[]) \
                 ON CONFLICT (k) DO UPDATE SET v = EXCLUDED.v"
            ),
            // A withdrawal removes the module's own row only, unless the unit declared it first.
            c.prepare(
                "DELETE FROM botbox_conversations AS c \
                 USING unnest($1::text[], $2::bool[]) AS d(k, own) \
                 WHERE c.k = d.k AND (d.own OR substr(c.v, strpos(c.v, ' ') + 1) = $3)"
            ),
            c.prepare(
                "INSERT INTO botbox_broadcasts (first, rec) \
                 SELECT * FROM unnest($1::bigint[], $2::bytea[]) \
                 ON CONFLICT (first) DO UPDATE SET rec = EXCLUDED.rec"
            ),
        )?;
        Ok(Statements {
            bytes,
            refs,
            talk,
            untalk,
            broadcasts,
        })
    }
}

/// What a conversation's row becomes, after the unit's declarations in their order.
enum Talk {
    /// Declared: this value.
    Set(String),
    /// Withdrawn after the unit declared it: removed, whoever's it was before.
    Removed,
    /// Withdrawn only: removed if it is the module's.
    Withdrawn,
}

/// Those rows as the statements' parameters.
#[derive(Default)]
pub(crate) struct Extras {
    blob_shas: Vec<String>,
    blobs: Vec<bytes::Bytes>,
    ref_shas: Vec<String>,
    refs: Vec<Vec<u8>>,
    talk_keys: Vec<String>,
    talk_values: Vec<String>,
    untalk_keys: Vec<String>,
    untalk_own: Vec<bool>,
    broadcast_ids: Vec<i64>,
    broadcast_recs: Vec<Vec<u8>>,
}

impl Extras {
    /// The rows of `module`'s unit; its declarations must be its own.
    pub(crate) fn new(
        module: &str,
        files: &[(String, bytes::Bytes)],
        outbox: &[Entry],
        expects: &[Expect],
        broadcasts: &[(u64, u32)],
    ) -> Result<Extras, KvError> {
        let mut x = Extras::default();
        // One row per content, however many times the unit names it (an `INSERT … ON
        // CONFLICT DO UPDATE` may not touch a row twice).
        let blobs: BTreeMap<&str, &bytes::Bytes> = files.iter().map(|(s, b)| (&**s, b)).collect();
        for (sha, data) in blobs {
            x.blob_shas.push(sha.to_string());
            x.blobs.push(data.clone());
        }
        let mut refs: BTreeMap<&str, u64> = BTreeMap::new();
        for e in outbox {
            if let Action::Call { files, .. } = &e.action {
                for f in files {
                    *refs.entry(&f.sha256).or_default() += 1;
                }
            }
        }
        for (sha, n) in refs {
            x.ref_shas.push(sha.to_string());
            x.refs.push(json(&FileRow {
                refs: n,
                file_id: None,
            })?);
        }
        let mut talks: BTreeMap<String, Talk> = BTreeMap::new();
        for e in expects {
            if e.module != module {
                return Err(KvError::Io(format!(
                    "host error: `{module}`'s unit declares a conversation of `{}`",
                    e.module
                )));
            }
            let k = key(e.chat_id, e.user_id);
            let set = Talk::Set(format!("{} {}", e.until_secs, e.module));
            match (talks.entry(k), e.until_secs) {
                (Slot::Vacant(v), 0) => drop(v.insert(Talk::Withdrawn)),
                (Slot::Vacant(v), _) => drop(v.insert(set)),
                (Slot::Occupied(mut o), 0) => {
                    if let Talk::Set(_) = o.get() {
                        o.insert(Talk::Removed);
                    }
                }
                (Slot::Occupied(mut o), _) => drop(o.insert(set)),
            }
        }
        for (k, t) in talks {
            match t {
                Talk::Set(v) => {
                    x.talk_keys.push(k);
                    x.talk_values.push(v);
                }
                Talk::Removed | Talk::Withdrawn => {
                    x.untalk_own.push(matches!(t, Talk::Removed));
                    x.untalk_keys.push(k);
                }
            }
        }
        let started_ms = crate::clock::unix_ms();
        for &(first, chats) in broadcasts {
            x.broadcast_ids.push(big(first)?);
            x.broadcast_recs.push(json(&BroadcastRecord {
                module: module.to_string(),
                chats,
                started_ms,
            })?);
        }
        Ok(x)
    }

    /// Sends the statements that have rows, in one go (pipelined with the rest of the unit).
    pub(crate) async fn send(
        &self,
        c: &Client,
        st: &Statements,
        module: &str,
    ) -> Result<(), tokio_postgres::Error> {
        let blobs: Vec<&[u8]> = self.blobs.iter().map(|b| b.as_ref()).collect();
        let p_bytes: [&(dyn ToSql + Sync); 2] = [&self.blob_shas, &blobs];
        let p_refs: [&(dyn ToSql + Sync); 2] = [&self.ref_shas, &self.refs];
        let p_talk: [&(dyn ToSql + Sync); 2] = [&self.talk_keys, &self.talk_values];
        let p_untalk: [&(dyn ToSql + Sync); 3] = [&self.untalk_keys, &self.untalk_own, &module];
        let p_casts: [&(dyn ToSql + Sync); 2] = [&self.broadcast_ids, &self.broadcast_recs];
        let (bytes, refs, talk, untalk, broadcasts) = futures::join!(
            run(c, &st.bytes, &p_bytes, blobs.is_empty()),
            run(c, &st.refs, &p_refs, self.refs.is_empty()),
            run(c, &st.talk, &p_talk, self.talk_keys.is_empty()),
            run(c, &st.untalk, &p_untalk, self.untalk_keys.is_empty()),
            run(c, &st.broadcasts, &p_casts, self.broadcast_ids.is_empty()),
        );
        bytes.and(refs).and(talk).and(untalk).and(broadcasts)
    }
}

/// Executes `st` unless it has no rows (`skip`).
async fn run(
    c: &Client,
    st: &Statement,
    params: &[&(dyn ToSql + Sync)],
    skip: bool,
) -> Result<(), tokio_postgres::Error> {
    match skip {
        true => Ok(()),
        false => c.execute(st, params).await.map(drop),
    }
}
