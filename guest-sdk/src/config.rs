//! The operator's settings for this module (`[modules.<name>.config]` in `botbox.toml`).
//!
//! Values come as text, numbers and booleans in TOML's notation; [`get_parsed`] and
//! [`get_parsed_or`] turn them into any [`FromStr`] type.
//!
//! ```no_run
//! # fn main() -> Result<(), botbox_sdk::config::Error> {
//! use botbox_sdk::config;
//!
//! let greeting = config::get_or("greeting", "Hello")?;
//! let top: usize = config::get_parsed_or("top", 15)?;
//! # Ok(()) }
//! ```

use std::fmt::Display;
use std::str::FromStr;

use crate::__private::botbox::bot::config as wit;

/// Why a config value could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The value is not a string, integer, float or boolean (a table or an array, say).
    #[error("`{key}` is a {kind}, not a string, number or boolean")]
    Unsupported {
        /// The setting's name.
        key: String,
        /// The value's TOML type, as the host describes it.
        kind: String,
    },
    /// The value does not parse as the type the module asked for.
    #[error("`{key}` = {value:?} is not valid: {reason}")]
    Invalid {
        /// The setting's name.
        key: String,
        /// The value as set.
        value: String,
        /// Why it did not parse.
        reason: String,
    },
}

/// Returns the setting `key` as text, if the operator set it.
pub fn get(key: &str) -> Result<Option<String>, Error> {
    wit::get(key).map_err(|wit::Error::Unsupported(kind)| Error::Unsupported {
        key: key.into(),
        kind,
    })
}

/// Returns the setting `key` as text, or `default` if the operator did not set it.
pub fn get_or(key: &str, default: impl Into<String>) -> Result<String, Error> {
    Ok(get(key)?.unwrap_or_else(|| default.into()))
}

/// Returns the setting `key` parsed as a `T`, if the operator set it.
pub fn get_parsed<T>(key: &str) -> Result<Option<T>, Error>
where
    T: FromStr,
    T::Err: Display,
{
    get(key)?.map(|value| parse(key, value)).transpose()
}

/// Returns the setting `key` parsed as a `T`, or `default` if the operator did not set it.
pub fn get_parsed_or<T>(key: &str, default: T) -> Result<T, Error>
where
    T: FromStr,
    T::Err: Display,
{
    Ok(get_parsed(key)?.unwrap_or(default))
}

/// Lists the names of all settings.
pub fn keys() -> Vec<String> {
    wit::keys()
}

fn parse<T>(key: &str, value: String) -> Result<T, Error>
where
    T: FromStr,
    T::Err: Display,
{
    value.parse().map_err(|error: T::Err| Error::Invalid {
        key: key.into(),
        reason: error.to_string(),
        value,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_parse_into_the_asked_type() {
        assert_eq!(parse::<u32>("top", "15".into()), Ok(15));
        assert_eq!(parse::<bool>("on", "true".into()), Ok(true));
        let error = parse::<u32>("top", "many".into()).unwrap_err();
        assert_eq!(
            error.to_string(),
            "`top` = \"many\" is not valid: invalid digit found in string"
        );
    }
}
