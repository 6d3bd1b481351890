//! Where the service listens and the address it tells the bot, from the flags or the address
//! file.

use std::net::SocketAddr;
use std::path::Path;

use anyhow::{Context as _, bail};
use serde::Deserialize;

use crate::Settings;

/// Where to serve, and what to advertise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Addresses {
    /// The socket address to bind (port 0: any free port).
    pub listen: SocketAddr,
    /// The URL to register, when not `http://<bound address>`.
    pub advertise: Option<String>,
}

/// The address file: `listen = "127.0.0.1:50061"` and optionally `advertise = "http://..."`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AddressFile {
    listen: String,
    advertise: Option<String>,
}

impl Addresses {
    /// The addresses in force: the address file's when there is one, else the flags'.
    pub fn load(settings: &Settings) -> anyhow::Result<Self> {
        match &settings.address_file {
            Some(file) => Self::from_file(file),
            None => Self::parse(&settings.listen, settings.advertise.clone()),
        }
    }

    fn from_file(file: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(file)
            .with_context(|| format!("reading the address file {}", file.display()))?;
        let parsed: AddressFile = toml::from_str(&text)
            .with_context(|| format!("parsing the address file {}", file.display()))?;
        Self::parse(&parsed.listen, parsed.advertise)
            .with_context(|| format!("in the address file {}", file.display()))
    }

    fn parse(listen: &str, advertise: Option<String>) -> anyhow::Result<Self> {
        let listen = listen
            .parse()
            .with_context(|| format!("listen address {listen:?} is not IP:port"))?;
        if let Some(url) = &advertise {
            check_url(url)?;
        }
        Ok(Self { listen, advertise })
    }

    /// The URL to register once the listener is bound to `bound`.
    pub fn advertised(&self, bound: SocketAddr) -> String {
        self.advertise
            .clone()
            .unwrap_or_else(|| format!("http://{bound}"))
    }
}

fn check_url(url: &str) -> anyhow::Result<()> {
    let parsed: reqwest::Url = url
        .parse()
        .with_context(|| format!("advertised address {url:?} is not a URL"))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host().is_none() {
        bail!("advertised address {url:?} must be http://host:port or https://host:port");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_address_file_overrides_the_flags_and_bad_values_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("addr.toml");
        std::fs::write(&file, "listen = \"127.0.0.1:7000\"\n").unwrap();
        let parsed = Addresses::from_file(&file).unwrap();
        assert_eq!(parsed.listen, "127.0.0.1:7000".parse().unwrap());
        assert_eq!(parsed.advertised(parsed.listen), "http://127.0.0.1:7000");
        std::fs::write(&file, "listen = \"nowhere\"\n").unwrap();
        let error = format!("{:#}", Addresses::from_file(&file).unwrap_err());
        assert!(error.contains("\"nowhere\" is not IP:port"), "{error}");
        let error = Addresses::parse("127.0.0.1:1", Some("ftp://x".into())).unwrap_err();
        assert!(error.to_string().contains("must be http"), "{error}");
    }
}
