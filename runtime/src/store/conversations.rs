//! Who a conversation belongs to: a module that waits for the next text of a user in a chat
//! (`outbox.expect-reply`, contract 0.1.3; the SDK's dialogues declare it while they ask). Such
//! text goes to that module only, not to every module that wants messages (see
//! `intake/owners.rs`). A declaration is written in the commit of the call that made it, so it
//! survives a crash with the rest of that update's effects, and lapses at its expiry; expired
//! rows are ignored when read and forgotten by [`Db::prune_conversations`].

use redb::{ReadableDatabase, ReadableTable};

use super::{Db, tables::CONVERSATIONS};
use crate::Result;

/// One module's declaration, made in one call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expect {
    /// The module.
    pub module: String,
    /// The chat.
    pub chat_id: i64,
    /// The user whose text it waits for; `None` for anyone in the chat.
    pub user_id: Option<i64>,
    /// Until when, Unix seconds; 0 withdraws the module's declaration.
    pub until_secs: u64,
}

/// The row key of (chat, user): `<chat>:<user>`, `<chat>:*` for anyone (on PostgreSQL too).
pub(crate) fn key(chat_id: i64, user_id: Option<i64>) -> String {
    match user_id {
        Some(u) => format!("{chat_id}:{u}"),
        None => format!("{chat_id}:*"),
    }
}

/// (until, module) of a row's value `<until secs> <module>`.
fn parse(v: &str) -> Option<(u64, &str)> {
    let (until, module) = v.split_once(' ')?;
    Some((until.parse().ok()?, module))
}

/// Applies `expects` in `txn`, in order. A withdrawal removes only the module's own row: the
/// conversation may have passed to another module meanwhile.
pub(super) fn record(txn: &redb::WriteTransaction, expects: &[Expect]) -> Result<()> {
    if expects.is_empty() {
        return Ok(());
    }
    let mut t = txn.open_table(CONVERSATIONS)?;
    for e in expects {
        let k = key(e.chat_id, e.user_id);
        if e.until_secs == 0 {
            let mine = t
                .get(k.as_str())?
                .is_some_and(|v| parse(v.value()).is_some_and(|(_, m)| m == e.module));
            if mine {
                t.remove(k.as_str())?;
            }
        } else {
            t.insert(
                k.as_str(),
                format!("{} {}", e.until_secs, e.module).as_str(),
            )?;
        }
    }
    Ok(())
}

impl Db {
    /// The module waiting for the next text of `user_id` in `chat_id`: one that waits for
    /// this user, else one that waits for anyone in the chat; expired declarations count not.
    pub fn conversation_owner(&self, chat_id: i64, user_id: Option<i64>) -> Result<Option<String>> {
        let now = crate::clock::unix_secs();
        let txn = self.db.begin_read()?;
        let t = txn.open_table(CONVERSATIONS)?;
        let keys = user_id
            .map(|u| key(chat_id, Some(u)))
            .into_iter()
            .chain([key(chat_id, None)]);
        for k in keys {
            if let Some(v) = t.get(k.as_str())?
                && let Some((until, module)) = parse(v.value())
                && until > now
            {
                return Ok(Some(module.to_string()));
            }
        }
        Ok(None)
    }

    /// Forgets expired declarations; returns how many.
    pub fn prune_conversations(&self) -> Result<usize> {
        let now = crate::clock::unix_secs();
        self.prune_text_rows(CONVERSATIONS, |v| {
            parse(v).is_none_or(|(until, _)| until <= now)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expect(module: &str, user: Option<i64>, until: u64) -> Expect {
        Expect {
            module: module.into(),
            chat_id: 7,
            user_id: user,
            until_secs: until,
        }
    }

    fn apply(db: &Db, expects: &[Expect]) {
        let txn = db.raw().begin_write().unwrap();
        record(&txn, expects).unwrap();
        txn.commit().unwrap();
    }

    #[test]
    fn a_user_s_owner_goes_before_the_chat_s_expired_ones_count_not_and_a_withdrawal_is_the_owner_s_only()
     {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path()).unwrap();
        let later = crate::clock::unix_secs() + 60;
        apply(
            &db,
            &[expect("quiz", None, later), expect("form", Some(1), later)],
        );
        assert_eq!(
            db.conversation_owner(7, Some(1)).unwrap().as_deref(),
            Some("form")
        );
        assert_eq!(
            db.conversation_owner(7, Some(2)).unwrap().as_deref(),
            Some("quiz")
        );
        assert_eq!(db.conversation_owner(8, Some(1)).unwrap(), None);
        // Another module cannot withdraw "form"'s declaration; "form" can.
        apply(&db, &[expect("quiz", Some(1), 0)]);
        assert_eq!(
            db.conversation_owner(7, Some(1)).unwrap().as_deref(),
            Some("form")
        );
        apply(&db, &[expect("form", Some(1), 0)]);
        assert_eq!(
            db.conversation_owner(7, Some(1)).unwrap().as_deref(),
            Some("quiz")
        );
        // Expired: ignored, then pruned.
        apply(&db, &[expect("quiz", None, 1)]);
        assert_eq!(db.conversation_owner(7, Some(1)).unwrap(), None);
        assert_eq!(db.prune_conversations().unwrap(), 1);
    }
}
