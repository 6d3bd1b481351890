//! Whether a link points inside the operator's network: the downloaders run there, so a link to
//! `http://127.0.0.1:9180/`, `http://169.254.169.254/` (a cloud's metadata service, which hands
//! out the server's credentials) or `http://router/` would make them fetch what only they can
//! reach. The module cannot resolve names; the downloader checks the addresses a name resolves
//! to (`downloader/src/guard.rs`).

use std::net::{Ipv4Addr, Ipv6Addr};

/// Why `url`'s host is internal, or `None` when it is public. Hosts listed in `allowed` (the
/// operator's `internal_link_hosts`, as written in links) pass.
pub fn why_internal(url: &url::Url, allowed: &[String]) -> Option<&'static str> {
    let host = url.host_str()?;
    if allowed.iter().any(|a| a.eq_ignore_ascii_case(host)) {
        return None;
    }
    match url.host()? {
        url::Host::Ipv4(ip) => ipv4_internal(ip).then_some("an address of a private network"),
        url::Host::Ipv6(ip) => ipv6_internal(ip).then_some("an address of a private network"),
        url::Host::Domain(name) => name_internal(name),
    }
}

/// Loopback, private, link-local (cloud metadata), CGNAT (also Alibaba's metadata),
/// benchmarking, unspecified, broadcast, multicast, reserved and documentation ranges.
pub fn ipv4_internal(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        || a >= 240
        || (a == 100 && (64..128).contains(&b))
        || (a == 198 && (b == 18 || b == 19))
        || (a == 192 && b == 0 && c == 0)
}

/// Loopback, unspecified, unique-local (AWS's metadata `fd00:ec2::254`), link-local,
/// multicast, documentation, and IPv6 forms that carry an IPv4 address (mapped, NAT64,
/// 6to4) judged by that address.
pub fn ipv6_internal(ip: Ipv6Addr) -> bool {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return ipv4_internal(v4);
    }
    let s = ip.segments();
    let embedded = |hi: u16, lo: u16| Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
    if s[0] == 0x64 && s[1] == 0xff9b {
        return ipv4_internal(embedded(s[6], s[7]));
    }
    if s[0] == 0x2002 {
        return ipv4_internal(embedded(s[1], s[2]));
    }
    ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || (s[0] & 0xfe00) == 0xfc00
        || (s[0] & 0xffc0) == 0xfe80
        || (s[0] == 0x2001 && s[1] == 0x0db8)
        || s[..6] == [0; 6]
}

/// Names that only a local network resolves: one label (`router`, `intranet`), `localhost`,
/// and the suffixes kept for local use.
fn name_internal(name: &str) -> Option<&'static str> {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    if !name.contains('.') {
        return Some("a name without a domain, known only to a local network");
    }
    const LOCAL: [&str; 6] = [
        ".localhost",
        ".local",
        ".internal",
        ".lan",
        ".home.arpa",
        ".intranet",
    ];
    let dotted = format!(".{name}");
    LOCAL
        .iter()
        .any(|suffix| dotted.ends_with(suffix))
        .then_some("a name known only to a local network")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn why(link: &str) -> Option<&'static str> {
        why_internal(&url::Url::parse(link).unwrap(), &[])
    }

    #[test]
    fn loopback_private_metadata_and_local_names_are_internal_and_public_hosts_are_not() {
        for link in [
            "http://127.0.0.1:9180/metrics",
            "http://2130706433/",
            "http://0x7f.1/",
            "http://10.1.2.3/",
            "http://192.168.0.1/",
            "http://169.254.169.254/latest/meta-data/",
            "http://100.100.100.200/",
            "http://0.0.0.0/",
            "http://[::1]/",
            "http://[::ffff:127.0.0.1]/",
            "http://[fd00:ec2::254]/",
            "http://[fe80::1]/",
            "http://[64:ff9b::a9fe:a9fe]/",
            "http://localhost/",
            "http://a.localhost/",
            "http://LOCALHOST./",
            "http://router/",
            "http://printer.local/",
            "http://metadata.google.internal/",
            "http://nas.home.arpa/",
        ] {
            assert!(why(link).is_some(), "{link} is internal");
        }
        for link in [
            "https://example.org/x.mp4",
            "http://93.184.216.34/",
            "http://[2606:4700::1111]/",
            "https://local.example.com/",
        ] {
            assert_eq!(why(link), None, "{link} is public");
        }
        let url = url::Url::parse("http://127.0.0.1:8080/x").unwrap();
        assert_eq!(why_internal(&url, &["127.0.0.1".into()]), None);
    }
}
