//! Copying tables as bytes, whatever their key and value types.
//!
//! redb opens a table only under the types it was created with, and orders its keys by that
//! type's comparison. [`Raw<T>`] has `T`'s name, width and order but reads and writes plain
//! bytes, so a table is copied without decoding a record. The types a table may have are the
//! ones listed in [`with_types`]; a table with any other is an error that names it, so adding a
//! table of a new type to the runtime fails the backup tests until the type is listed there.

use std::{borrow::Cow, cmp::Ordering, fmt, io::Read, marker::PhantomData};

use redb::{
    Key, MultimapTableHandle, ReadTransaction, ReadableTable, TableDefinition, TableError,
    TableHandle, TypeName, Value, WriteTransaction,
};

use super::format::{Body, Item, TableHead, Writer, bad, output_error};
use crate::Result;

/// Copies every table of `txn` into `out`.
pub(super) fn dump(txn: &ReadTransaction, out: &mut Writer<impl std::io::Write>) -> Result<()> {
    if let Some(table) = txn.list_multimap_tables()?.next() {
        return Err(bad(format!(
            "multimap table {} cannot be backed up",
            table.name()
        )));
    }
    for table in txn.list_tables()? {
        let name = table.name();
        let (key_type, value_type) = stored_types(txn, name)?;
        let dump = Dump { txn, name, out };
        with_types(name, &key_type, &value_type, dump)?;
    }
    Ok(())
}

/// Reads one table's records from `body`, copying them into `sink` if given.
///
/// Returns the item after the table's last record, and how many records it had.
pub(super) fn load<R: Read>(
    head: &TableHead,
    body: &mut Body<R>,
    sink: Option<&WriteTransaction>,
) -> Result<(Item, u64)> {
    let load = Load { head, body, sink };
    with_types(&head.name, &head.key_type, &head.value_type, load)
}

/// Something to do with a table once its types are known.
trait TypedTable {
    type Output;
    fn run<K: Key + 'static, V: Value + 'static>(self) -> Result<Self::Output>;
}

/// Runs `f` with the key and value types whose redb names are `key_type` and `value_type`.
fn with_types<F: TypedTable>(
    table: &str,
    key_type: &str,
    value_type: &str,
    f: F,
) -> Result<F::Output> {
    macro_rules! keys {
        ($($K:ty),*) => {$(
            if key_type == <$K as Value>::type_name().name() {
                return with_value::<$K, F>(table, value_type, f);
            }
        )*};
    }
    keys!(
        u64,
        i64,
        u32,
        &'static str,
        &'static [u8],
        (u64, u64),
        (u64, &'static str),
        (&'static str, u64)
    );
    Err(unsupported(table, "key", key_type))
}

fn with_value<K: Key + 'static, F: TypedTable>(
    table: &str,
    value_type: &str,
    f: F,
) -> Result<F::Output> {
    macro_rules! values {
        ($($V:ty),*) => {$(
            if value_type == <$V as Value>::type_name().name() {
                return f.run::<K, $V>();
            }
        )*};
    }
    values!((), u64, i64, u32, &'static str, &'static [u8]);
    Err(unsupported(table, "value", value_type))
}

fn unsupported(table: &str, what: &str, type_name: &str) -> crate::Error {
    bad(format!(
        "table {table} has {what} type {type_name}, which backups do not know \
         (list it in runtime/src/backup/types.rs)"
    ))
}

/// The types `table` was created with, read from the error of opening it with [`Probe`].
fn stored_types(txn: &ReadTransaction, table: &str) -> Result<(String, String)> {
    match txn.open_table(TableDefinition::<Probe, Probe>::new(table)) {
        Err(TableError::TableTypeMismatch { key, value, .. }) => {
            Ok((key.name().to_string(), value.name().to_string()))
        }
        Err(e) => Err(e.into()),
        Ok(_) => Err(bad(format!("table {table} has the probe's types"))),
    }
}

struct Dump<'a, W: std::io::Write> {
    txn: &'a ReadTransaction,
    name: &'a str,
    out: &'a mut Writer<W>,
}

impl<W: std::io::Write> TypedTable for Dump<'_, W> {
    type Output = ();

    fn run<K: Key + 'static, V: Value + 'static>(self) -> Result<()> {
        let table = self
            .txn
            .open_table(TableDefinition::<Raw<K>, Raw<V>>::new(self.name))?;
        let key_type = K::type_name();
        let value_type = V::type_name();
        self.out
            .table(self.name, key_type.name(), value_type.name())
            .map_err(output_error)?;
        for row in table.iter()? {
            let (key, value) = row?;
            self.out
                .record(key.value(), value.value())
                .map_err(output_error)?;
        }
        Ok(())
    }
}

struct Load<'a, R> {
    head: &'a TableHead,
    body: &'a mut Body<R>,
    sink: Option<&'a WriteTransaction>,
}

impl<R: Read> TypedTable for Load<'_, R> {
    type Output = (Item, u64);

    fn run<K: Key + 'static, V: Value + 'static>(self) -> Result<(Item, u64)> {
        let definition = TableDefinition::<Raw<K>, Raw<V>>::new(&self.head.name);
        let mut table = match self.sink {
            Some(txn) => Some(txn.open_table(definition)?),
            None => None,
        };
        let (mut key, mut value) = (Vec::new(), Vec::new());
        let mut records = 0;
        loop {
            match self.body.next(&mut key, &mut value)? {
                Item::Record => {
                    check_width::<K>(&self.head.name, &key)?;
                    check_width::<V>(&self.head.name, &value)?;
                    if let Some(table) = &mut table {
                        table.insert(key.as_slice(), value.as_slice())?;
                    }
                    records += 1;
                }
                other => return Ok((other, records)),
            }
        }
    }
}

/// redb trusts fixed-width data to have its width; a damaged record must not reach it.
fn check_width<T: Value>(table: &str, bytes: &[u8]) -> Result<()> {
    match T::fixed_width() {
        Some(width) if width != bytes.len() => Err(bad(format!(
            "table {table}: a {} of {} bytes, not {width}",
            T::type_name().name(),
            bytes.len()
        ))),
        _ => Ok(()),
    }
}

/// `T`'s bytes, uninterpreted: `T`'s name, width and key order, with `&[u8]` as its Rust type.
struct Raw<T>(PhantomData<T>);

impl<T> fmt::Debug for Raw<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Raw")
    }
}

impl<T: Value + 'static> Value for Raw<T> {
    type SelfType<'a> = &'a [u8];
    type AsBytes<'a> = &'a [u8];

    fn fixed_width() -> Option<usize> {
        T::fixed_width()
    }

    fn from_bytes<'a>(data: &'a [u8]) -> &'a [u8]
    where
        Self: 'a,
    {
        data
    }

    fn as_bytes<'a, 'b: 'a>(value: &'a &'b [u8]) -> &'a [u8]
    where
        Self: 'b,
    {
        value
    }

    fn type_name() -> TypeName {
        T::type_name()
    }
}

impl<T: Key + 'static> Key for Raw<T> {
    fn compare(data1: &[u8], data2: &[u8]) -> Ordering {
        T::compare(data1, data2)
    }

    fn separator<'a>(left: &'a [u8], right: &'a [u8]) -> Cow<'a, [u8]> {
        T::separator(left, right)
    }

    fn min_encoded_key() -> Option<Cow<'static, [u8]>> {
        T::min_encoded_key()
    }
}

/// A type no table has, to learn a table's real types from the mismatch error.
#[derive(Debug)]
struct Probe;

impl Value for Probe {
    type SelfType<'a> = ();
    type AsBytes<'a> = [u8; 0];

    fn fixed_width() -> Option<usize> {
        None
    }

    fn from_bytes<'a>(_: &'a [u8])
    where
        Self: 'a,
    {
    }

    fn as_bytes<'a, 'b: 'a>(_: &'a ()) -> [u8; 0]
    where
        Self: 'b,
    {
        []
    }

    fn type_name() -> TypeName {
        TypeName::new("botbox::backup::Probe")
    }
}

impl Key for Probe {
    fn compare(_: &[u8], _: &[u8]) -> Ordering {
        Ordering::Equal
    }
}
