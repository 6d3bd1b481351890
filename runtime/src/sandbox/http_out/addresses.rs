//! Which addresses a module's outgoing HTTP may reach: the public internet, and of the rest
//! (loopback, private, link-local, shared, documentation, multicast...) only what the operator
//! granted.
//!
//! A granted host name is resolved by the host, every address it resolves to is checked here,
//! and the connection goes to an address that was checked (see `http_out.rs`). So a name whose
//! DNS a module's author controls cannot lead the host to the module HTTP listener, the admin
//! port, the LAN or a cloud metadata service.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;

/// Why an address is not public: the name of its range, or `None` for a public address.
/// IPv6 forms that carry an IPv4 address (mapped `::ffff:a.b.c.d`, compatible `::a.b.c.d`,
/// NAT64 `64:ff9b::a.b.c.d`, 6to4 `2002:aabb:ccdd::`) are judged by that IPv4 address too.
pub fn special(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => special_v4(v4),
        IpAddr::V6(v6) => special_v6(v6),
    }
}

fn special_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    Some(match (a, b, c) {
        (0, ..) => "unspecified (0.0.0.0/8)",
        (10, ..) => "private (10.0.0.0/8)",
        (100, 64..=127, _) => "shared, CGNAT (100.64.0.0/10)",
        (127, ..) => "loopback (127.0.0.0/8)",
        (169, 254, _) => "link-local (169.254.0.0/16)",
        (172, 16..=31, _) => "private (172.16.0.0/12)",
        (192, 0, 0) => "IETF protocol assignments (192.0.0.0/24)",
        (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => "documentation",
        (192, 88, 99) => "6to4 relay (192.88.99.0/24)",
        (192, 168, _) => "private (192.168.0.0/16)",
        (198, 18..=19, _) => "benchmarking (198.18.0.0/15)",
        (224..=239, ..) => "multicast (224.0.0.0/4)",
        (240..=255, ..) => "reserved or broadcast (240.0.0.0/4)",
        _ => return None,
    })
}

fn special_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let s = ip.segments();
    let embedded = |hi: u16, lo: u16| Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
    if ip.is_unspecified() {
        return Some("unspecified (::)");
    }
    if ip.is_loopback() {
        return Some("loopback (::1)");
    }
    match s {
        // IPv4-mapped and IPv4-compatible: the IPv4 address decides, and a mapped form is
        // never needed to reach a public address (it is canonicalised before connecting).
        [0, 0, 0, 0, 0, 0xffff, hi, lo] | [0, 0, 0, 0, 0, 0, hi, lo] => {
            Some(special_v4(embedded(hi, lo)).unwrap_or("IPv4 in an IPv6 form (::/96)"))
        }
        [0x64, 0xff9b, 0, 0, 0, 0, hi, lo] => special_v4(embedded(hi, lo)),
        [0x64, 0xff9b, 1, ..] => Some("local-use NAT64 (64:ff9b:1::/48)"),
        [0x2002, hi, lo, ..] => special_v4(embedded(hi, lo)),
        [0x100, 0, 0, 0, ..] => Some("discard-only (100::/64)"),
        [0x2001, 0xdb8, ..] => Some("documentation (2001:db8::/32)"),
        [0x2001, 2, 0, ..] => Some("benchmarking (2001:2::/48)"),
        [first, ..] if first & 0xfe00 == 0xfc00 => Some("unique local (fc00::/7)"),
        [first, ..] if first & 0xffc0 == 0xfe80 => Some("link-local (fe80::/10)"),
        [first, ..] if first & 0xffc0 == 0xfec0 => Some("site-local (fec0::/10)"),
        [first, ..] if first & 0xff00 == 0xff00 => Some("multicast (ff00::/8)"),
        _ => None,
    }
}

/// The address a connection goes to: an IPv4-mapped IPv6 address as the IPv4 address it is
/// (so `::ffff:127.0.0.1` meets the operator's `127.0.0.0/8`).
pub fn canonical(ip: IpAddr) -> IpAddr {
    ip.to_canonical()
}

/// Whether a module granted `granted` may connect to `ip` (canonical): a public address, or one
/// inside a granted range. `Err` names the range that refused it.
pub fn allowed(ip: IpAddr, granted: &[IpNet]) -> Result<(), &'static str> {
    match special(ip) {
        None => Ok(()),
        Some(_) if granted.iter().any(|net| net.contains(&ip)) => Ok(()),
        Some(range) => Err(range),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        canonical(s.parse().unwrap())
    }

    #[test]
    fn every_special_range_is_refused_and_named() {
        for (address, range) in [
            ("0.0.0.0", "unspecified"),
            ("0.1.2.3", "unspecified"),
            ("10.1.2.3", "private"),
            ("100.64.0.1", "CGNAT"),
            ("100.127.255.254", "CGNAT"),
            ("127.0.0.1", "loopback"),
            ("127.255.0.9", "loopback"),
            ("169.254.169.254", "link-local"),
            ("172.16.0.1", "private"),
            ("172.31.255.255", "private"),
            ("192.0.0.8", "IETF"),
            ("192.0.2.1", "documentation"),
            ("198.51.100.7", "documentation"),
            ("203.0.113.9", "documentation"),
            ("192.88.99.1", "6to4 relay"),
            ("192.168.1.1", "private"),
            ("198.18.0.1", "benchmarking"),
            ("198.19.255.1", "benchmarking"),
            ("224.0.0.1", "multicast"),
            ("239.255.255.250", "multicast"),
            ("240.0.0.1", "reserved"),
            ("255.255.255.255", "broadcast"),
            ("::", "unspecified"),
            ("::1", "loopback"),
            ("::ffff:127.0.0.1", "loopback"),
            ("::ffff:169.254.169.254", "link-local"),
            ("::ffff:10.0.0.1", "private"),
            ("::ffff:0.0.0.0", "unspecified"),
            ("::127.0.0.1", "loopback"),
            ("::169.254.169.254", "link-local"),
            ("::8.8.8.8", "IPv4 in an IPv6 form"),
            ("64:ff9b::127.0.0.1", "loopback"),
            ("64:ff9b::a9fe:a9fe", "link-local"),
            ("64:ff9b:1::1", "NAT64"),
            ("2002:7f00:1::", "loopback"),
            ("2002:a9fe:a9fe::1", "link-local"),
            ("100::1", "discard-only"),
            ("2001:db8::1", "documentation"),
            ("2001:2::1", "benchmarking"),
            ("fc00::1", "unique local"),
            ("fd00::1", "unique local"),
            ("fdff:ffff::1", "unique local"),
            ("fe80::1", "link-local"),
            ("febf::1", "link-local"),
            ("fec0::1", "site-local"),
            ("ff02::1", "multicast"),
        ] {
            let why = allowed(ip(address), &[]).expect_err(address);
            assert!(why.contains(range), "{address}: {why}");
        }
    }

    #[test]
    fn public_addresses_pass_and_the_edges_of_ranges_stay_public() {
        for address in [
            "1.1.1.1",
            "8.8.8.8",
            "9.255.255.255",
            "11.0.0.0",
            "100.63.255.255",
            "100.128.0.0",
            "126.255.255.255",
            "128.0.0.1",
            "169.253.255.255",
            "169.255.0.0",
            "172.15.255.255",
            "172.32.0.0",
            "192.0.1.1",
            "192.167.255.255",
            "192.169.0.0",
            "198.17.255.255",
            "198.20.0.0",
            "223.255.255.255",
            "2606:4700:4700::1111",
            "2001:4860:4860::8888",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2002:808:808::1",
            "fbff::1",
            "fe00::1",
        ] {
            assert_eq!(allowed(ip(address), &[]), Ok(()), "{address}");
        }
    }

    #[test]
    fn the_operator_grants_an_address_or_a_range_and_nothing_beyond() {
        let granted: Vec<IpNet> = ["127.0.0.1/32", "10.0.0.0/8", "fd00::/8"]
            .iter()
            .map(|g| g.parse().unwrap())
            .collect();
        for ok in ["127.0.0.1", "::ffff:127.0.0.1", "10.200.0.1", "fd12::1"] {
            assert_eq!(allowed(ip(ok), &granted), Ok(()), "{ok}");
        }
        for refused in [
            "127.0.0.2",
            "::1",
            "169.254.169.254",
            "::ffff:169.254.169.254",
            "192.168.0.1",
            "fc00::1",
        ] {
            assert!(allowed(ip(refused), &granted).is_err(), "{refused}");
        }
    }

    #[test]
    fn a_mapped_address_is_connected_to_as_the_ipv4_address_it_is() {
        assert_eq!(
            ip("::ffff:127.0.0.1"),
            "127.0.0.1".parse::<IpAddr>().unwrap()
        );
        assert_eq!(ip("::1"), "::1".parse::<IpAddr>().unwrap());
    }
}
