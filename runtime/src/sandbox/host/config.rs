//! `config`: the operator's settings for this module.

use super::HostState;
use crate::bindings::config;

impl config::Host for HostState {
    fn get(&mut self, key: String) -> Result<Option<String>, config::Error> {
        match self.env.config.get(&key) {
            None => Ok(None),
            Some(toml::Value::String(s)) => Ok(Some(s.clone())),
            Some(
                v @ (toml::Value::Integer(_) | toml::Value::Float(_) | toml::Value::Boolean(_)),
            ) => Ok(Some(v.to_string())),
            Some(v) => Err(config::Error::Unsupported(v.type_str().to_string())),
        }
    }

    fn keys(&mut self) -> Vec<String> {
        self.env.config.keys().cloned().collect()
    }
}
