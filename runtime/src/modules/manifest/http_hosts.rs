//! The outgoing HTTP hosts a manifest may declare: a host name, or one leading wildcard label
//! over a name that is not a public suffix (`*.example.com`, never `*.com` or `*.co.uk`, which
//! would grant the whole internet), optionally with `:port` or `:*`. A numeric host must be a
//! canonical IPv4 address (`127.0.0.1`): the other forms the resolver accepts (`2130706433`,
//! `127.1`, `0x7f.1`, `0177.0.0.1`) hide which address they name.

/// Checks one declared host pattern; the error says what is wrong.
pub(super) fn check(h: &str) -> Result<(), String> {
    let name = match h.rsplit_once(':') {
        Some((name, port)) if port == "*" || port.parse::<u16>().is_ok_and(|p| p > 0) => name,
        Some(_) => return Err(format!("http host `{h}` has a bad port")),
        None => h,
    };
    let (wildcard, bare) = match name.strip_prefix("*.") {
        Some(rest) => (true, rest),
        None => (false, name),
    };
    let ok = !bare.is_empty()
        && h.len() <= 253
        && bare.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        });
    if !ok {
        return Err(format!(
            "http host `{h}` must be a host name, optionally starting with `*.` and ending with `:port` or `:*`"
        ));
    }
    if looks_numeric(bare) {
        if wildcard || bare.parse::<std::net::Ipv4Addr>().is_err() {
            return Err(format!(
                "http host `{h}` is a numeric host in a form that hides its address: write it as a dotted IPv4 address (like 127.0.0.1)"
            ));
        }
        return Ok(());
    }
    if wildcard && psl::suffix_str(&bare.to_ascii_lowercase()) == Some(&*bare.to_ascii_lowercase())
    {
        return Err(format!(
            "http host `{h}` is a wildcard over the public suffix `{bare}`: it would reach every site under it; name the site (`*.example.{bare}`)"
        ));
    }
    Ok(())
}

/// Whether the resolver could read `host` as a number: its last label is decimal or hex
/// (`0x…`), as in `2130706433`, `127.1` or `0x7f.1`.
fn looks_numeric(host: &str) -> bool {
    let last = host.rsplit('.').next().unwrap_or(host).to_ascii_lowercase();
    let hex = last
        .strip_prefix("0x")
        .is_some_and(|d| d.chars().all(|c| c.is_ascii_hexdigit()));
    hex || (!last.is_empty() && last.chars().all(|c| c.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::check;

    #[test]
    fn names_wildcards_over_a_site_and_canonical_addresses_are_accepted() {
        for ok in [
            "api.example.com",
            "*.example.com",
            "*.example.co.uk",
            "127.0.0.1:*",
            "10.0.0.7:8080",
            "my-host",
        ] {
            assert_eq!(check(ok), Ok(()), "{ok}");
        }
    }

    #[test]
    fn wildcards_over_a_public_suffix_are_refused() {
        for bad in ["*.com", "*.co.uk", "*.github.io:*", "*.COM"] {
            let e = check(bad).unwrap_err();
            assert!(e.contains("public suffix"), "{bad}: {e}");
        }
    }

    #[test]
    fn numeric_hosts_in_a_form_that_hides_their_address_are_refused() {
        for bad in [
            "2130706433",
            "127.1",
            "0x7f.1",
            "0177.0.0.1:80",
            "*.0.1",
            "0x7f000001",
        ] {
            let e = check(bad).unwrap_err();
            assert!(e.contains("numeric host"), "{bad}: {e}");
        }
    }
}
