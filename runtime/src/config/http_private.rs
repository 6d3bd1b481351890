//! `[modules.<name>] http_private`: the non-public addresses (loopback, private, link-local...)
//! the operator lets one module's outgoing HTTP reach, as addresses or CIDR ranges. Without
//! it a module reaches public addresses only, whatever its granted names resolve to.

use ipnet::IpNet;

use crate::{Error, Result};

/// Loopback, IPv4 and IPv6: what `botbox dev` and `botbox test-runner` let every module reach,
/// since the peers a developer runs there are their own.
pub const LOOPBACK: [&str; 2] = ["127.0.0.0/8", "::1/128"];

/// [`LOOPBACK`], read.
pub fn loopback() -> Vec<IpNet> {
    parse_all(&LOOPBACK.map(String::from))
}

/// Reads one grant: a range (`10.0.0.0/8`, `fd00::/8`) or one address (`127.0.0.1`, `::1`).
/// The error says what was expected.
pub fn parse(text: &str) -> std::result::Result<IpNet, String> {
    let text = text.trim();
    text.parse::<IpNet>()
        .or_else(|_| text.parse::<std::net::IpAddr>().map(IpNet::from))
        .map(|net| net.trunc())
        .map_err(|_| {
            format!("`{text}` is not an IP address or a CIDR range (like 127.0.0.1 or 10.0.0.0/8)")
        })
}

/// Reads a module's grants, ignoring what does not parse (refused by [`check`] at start).
pub fn parse_all(grants: &[String]) -> Vec<IpNet> {
    grants.iter().filter_map(|g| parse(g).ok()).collect()
}

/// Checks `modules.<module>.http_private`; the error names the module and the bad entry.
pub fn check(module: &str, grants: &[String]) -> Result<()> {
    for grant in grants {
        parse(grant).map_err(|e| Error::Config(format!("`modules.{module}.http_private`: {e}")))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grants_are_addresses_or_ranges_and_anything_else_is_named() {
        assert_eq!(parse("127.0.0.1").unwrap().to_string(), "127.0.0.1/32");
        assert_eq!(parse("::1").unwrap().to_string(), "::1/128");
        assert_eq!(parse("10.1.2.3/8").unwrap().to_string(), "10.0.0.0/8");
        assert_eq!(parse(" fd00::/8 ").unwrap().to_string(), "fd00::/8");
        for bad in ["localhost", "10.0.0.0/33", "127.1", "", "10.0.0.0/", "*"] {
            let e = parse(bad).unwrap_err();
            assert!(e.contains("not an IP address"), "{bad}: {e}");
        }
        assert_eq!(loopback().len(), 2);
    }

    #[test]
    fn a_bad_entry_is_refused_at_start_with_the_module_and_the_entry() {
        assert!(check("web", &["127.0.0.1/32".into(), "10.0.0.0/8".into()]).is_ok());
        let e = check("web", &["10.0.0.0/8".into(), "10.0.0.0/99".into()])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("modules.web.http_private") && e.contains("`10.0.0.0/99`"),
            "{e}"
        );
    }
}
