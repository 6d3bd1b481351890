//! What the downloader fetches: public hosts only. The module refuses links that name an
//! internal host, but it cannot resolve names, and a public server can redirect anywhere; so
//! the downloader checks again where it connects: every address a name resolves to, every
//! redirect's target, and the link itself when it is a numeric address. Hosts the operator
//! lists (`--internal-hosts`) pass. The HTTP client follows at most [`MAX_REDIRECTS`]
//! redirects, uses no proxy (a proxy would resolve names where this check cannot see), and
//! gives up on a connection silent for [`STALL`].

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::redirect::Policy;

#[path = "../../src/internal.rs"]
mod internal;

/// Redirects followed, at most, per download.
pub const MAX_REDIRECTS: usize = 5;
/// A connection that sends nothing for this long is given up.
pub const STALL: Duration = Duration::from_secs(60);

/// The hosts (as written in links, or as addresses) allowed although internal.
#[derive(Debug, Clone, Default)]
pub struct Allowed(Arc<Vec<String>>);

impl Allowed {
    /// From `--internal-hosts`: a comma-separated list.
    pub fn parse(list: &str) -> Self {
        Self(Arc::new(
            list.split(',')
                .map(str::trim)
                .filter(|h| !h.is_empty())
                .map(|h| {
                    h.trim_matches(|c| c == '[' || c == ']')
                        .to_ascii_lowercase()
                })
                .collect(),
        ))
    }

    fn contains(&self, host: &str) -> bool {
        let host = host.trim_matches(|c| c == '[' || c == ']');
        self.0.iter().any(|a| a.eq_ignore_ascii_case(host))
    }

    /// Why `url` may not be fetched, judged by what it says (a numeric host, a local name, a
    /// scheme); names are judged again by their addresses when resolved.
    pub fn check_url(&self, url: &reqwest::Url) -> Result<(), String> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!("{url} is not an http or https link"));
        }
        let host = url.host_str().unwrap_or_default();
        if self.contains(host) {
            return Ok(());
        }
        match internal::why_internal(url, &[]) {
            Some(why) => Err(format!("{host} is inside this network ({why})")),
            None => Ok(()),
        }
    }

    fn address_allowed(&self, name: &str, ip: IpAddr) -> bool {
        let internal = match ip {
            IpAddr::V4(v4) => internal::ipv4_internal(v4),
            IpAddr::V6(v6) => internal::ipv6_internal(v6),
        };
        !internal || self.contains(name)
    }
}

/// Resolves names with the system's resolver and keeps only the addresses allowed.
struct PublicAddresses(Allowed);

impl Resolve for PublicAddresses {
    fn resolve(&self, name: Name) -> Resolving {
        let allowed = self.0.clone();
        Box::pin(async move {
            let host = name.as_str().to_string();
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let kept: Vec<SocketAddr> = found
                .iter()
                .copied()
                .filter(|a| allowed.address_allowed(&host, a.ip()))
                .collect();
            if kept.is_empty() && !found.is_empty() {
                let shown: Vec<String> = found.iter().map(|a| a.ip().to_string()).collect();
                return Err(format!(
                    "{host} resolves only to addresses inside this network ({})",
                    shown.join(", ")
                )
                .into());
            }
            Ok(Box::new(kept.into_iter()) as Addrs)
        })
    }
}

/// The HTTP client for downloads: public addresses only (but `allowed`), at most
/// [`MAX_REDIRECTS`] redirects, each checked, no proxy, [`STALL`] for a silent connection.
pub fn client(allowed: &Allowed) -> reqwest::Result<reqwest::Client> {
    let for_redirects = allowed.clone();
    reqwest::Client::builder()
        .user_agent(concat!(
            "download-queue-downloader/",
            env!("CARGO_PKG_VERSION")
        ))
        .no_proxy()
        .dns_resolver(Arc::new(PublicAddresses(allowed.clone())))
        .redirect(Policy::custom(move |attempt| {
            if attempt.previous().len() > MAX_REDIRECTS {
                return attempt.error(format!("more than {MAX_REDIRECTS} redirects"));
            }
            match for_redirects.check_url(attempt.url()) {
                Ok(()) => attempt.follow(),
                Err(why) => {
                    let error = format!("refused a redirect to {}: {why}", attempt.url());
                    attempt.error(error)
                }
            }
        }))
        .connect_timeout(Duration::from_secs(30))
        .read_timeout(STALL)
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_and_local_hosts_are_refused_unless_listed() {
        let none = Allowed::parse("");
        let check = |allowed: &Allowed, link: &str| allowed.check_url(&link.parse().unwrap());
        assert!(check(&none, "http://169.254.169.254/latest/").is_err());
        assert!(check(&none, "http://[::1]:8080/").is_err());
        assert!(check(&none, "http://localhost/").is_err());
        assert!(check(&none, "https://example.org/a").is_ok());
        let some = Allowed::parse(" 127.0.0.1 , ::1");
        assert!(check(&some, "http://127.0.0.1:9/").is_ok());
        assert!(check(&some, "http://[::1]:9/").is_ok());
        assert!(check(&some, "http://10.0.0.1/").is_err());
        // A name is judged by itself: listing 127.0.0.1 does not let every name that
        // resolves there through.
        assert!(!some.address_allowed("x.example", "127.0.0.1".parse().unwrap()));
        let nas = Allowed::parse("nas.lan");
        assert!(nas.address_allowed("NAS.lan", "10.0.0.1".parse().unwrap()));
        assert!(none.address_allowed("x.example", "93.184.216.34".parse().unwrap()));
    }

    #[tokio::test]
    async fn a_name_resolving_only_inside_the_network_is_refused() {
        let name: Name = "localhost".parse().unwrap();
        let error = match PublicAddresses(Allowed::parse("127.0.0.1"))
            .resolve(name)
            .await
        {
            Ok(_) => panic!("localhost was let through"),
            Err(error) => error.to_string(),
        };
        assert!(
            error.starts_with("localhost resolves only to addresses inside this network ("),
            "{error}"
        );
        let name: Name = "localhost".parse().unwrap();
        let kept: Vec<SocketAddr> = PublicAddresses(Allowed::parse("localhost"))
            .resolve(name)
            .await
            .unwrap()
            .collect();
        assert!(kept.iter().all(|a| a.ip().is_loopback()) && !kept.is_empty());
    }
}
