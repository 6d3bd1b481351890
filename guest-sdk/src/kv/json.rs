//! Serde types stored as JSON.

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::Error;

/// Reads the value under `key` as JSON into a `T`; `None` when the key is absent.
///
/// See [the module docs](super#evolving-stored-types) for changing `T` without migrations.
///
/// ```no_run
/// # fn main() -> Result<(), botbox_sdk::kv::Error> {
/// #[derive(serde::Deserialize)]
/// struct Settings {
///     language: String,
/// }
///
/// let settings: Option<Settings> = botbox_sdk::kv::get_json("settings/42")?;
/// # Ok(()) }
/// ```
pub fn get_json<T: DeserializeOwned>(key: impl AsRef<[u8]>) -> Result<Option<T>, Error> {
    let key = key.as_ref();
    super::get(key)?
        .map(|value| decode(key, &value))
        .transpose()
}

/// Stores `value` as JSON under `key`, replacing any earlier value.
pub fn set_json<T: Serialize + ?Sized>(key: impl AsRef<[u8]>, value: &T) -> Result<(), Error> {
    super::set(key, encode(value)?)
}

fn decode<T: DeserializeOwned>(key: &[u8], value: &[u8]) -> Result<T, Error> {
    serde_json::from_slice(value).map_err(|error| Error::decode(key, error))
}

pub(super) fn encode<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, Error> {
    serde_json::to_vec(value).map_err(|error| Error::Encode(error.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
    struct PlayerV2 {
        #[serde(alias = "nick")]
        name: String,
        #[serde(default)]
        clicks: u64,
    }

    #[test]
    fn values_round_trip() {
        let player = PlayerV2 {
            name: "Ann".into(),
            clicks: 3,
        };
        let bytes = encode(&player).unwrap();
        assert_eq!(decode::<PlayerV2>(b"p", &bytes).unwrap(), player);
    }

    #[test]
    fn old_values_read_with_defaults_and_aliases() {
        let old = br#"{"nick":"Bob","level":7}"#;
        let player: PlayerV2 = decode(b"p", old).unwrap();
        assert_eq!(
            player,
            PlayerV2 {
                name: "Bob".into(),
                clicks: 0
            }
        );
    }

    #[test]
    fn undecodable_values_name_their_key() {
        let error = decode::<PlayerV2>(b"player/1", b"not json").unwrap_err();
        assert!(
            matches!(&error, Error::Decode { key, .. } if key == "player/1"),
            "{error}"
        );
    }
}
