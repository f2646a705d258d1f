//! Which addresses an endpoint may not reach: the portal's own machine, the private network it
//! sits in, and cloud metadata services (link-local). Refused unless a setting allows them.
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Whether an address is on the public internet, as far as its number tells.
pub fn is_public(address: IpAddr) -> bool {
    match address {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(address: Ipv4Addr) -> bool {
    let [a, b, c, _] = address.octets();
    !(address.is_unspecified()
        || address.is_loopback()
        || address.is_private()
        || address.is_link_local()
        || address.is_broadcast()
        || address.is_multicast()
        || address.is_documentation()
        || a == 0
        // Shared address space (carrier-grade NAT), the IETF's block, benchmarking, reserved.
        || (a == 100 && (64..128).contains(&b))
        || (a == 192 && b == 0 && c == 0)
        || (a == 198 && (18..20).contains(&b))
        || a >= 240)
}

fn is_public_v6(address: Ipv6Addr) -> bool {
    if let Some(v4) = address.to_ipv4_mapped() {
        return is_public_v4(v4);
    }
    let segments = address.segments();
    // NAT64 (64:ff9b::/96) reaches the IPv4 address in its last 32 bits, 6to4 (2002::/16) the
    // one in its second and third segments.
    if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return is_public_v4(v4_of(segments[6], segments[7]));
    }
    if segments[0] == 0x2002 {
        return is_public_v4(v4_of(segments[1], segments[2]));
    }
    !(address.is_unspecified()
        || address.is_loopback()
        || address.is_multicast()
        // Unique local (fc00::/7), link-local (fe80::/10), the old site-local (fec0::/10).
        || (segments[0] & 0xfe00) == 0xfc00
        || (segments[0] & 0xffc0) == 0xfe80
        || (segments[0] & 0xffc0) == 0xfec0
        // Teredo (2001::/32), whose relay reaches addresses it hides; documentation
        // (2001:db8::/32); local NAT64 (64:ff9b:1::/48); IPv4-compatible addresses (::a.b.c.d).
        || (segments[0] == 0x2001 && (segments[1] == 0 || segments[1] == 0x0db8))
        || (segments[0] == 0x64 && segments[1] == 0xff9b && segments[2] == 1)
        || segments[..6] == [0, 0, 0, 0, 0, 0])
}

fn v4_of(high: u16, low: u16) -> Ipv4Addr {
    Ipv4Addr::from((u32::from(high) << 16) | u32::from(low))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn public(text: &str) -> bool {
        is_public(text.parse().unwrap())
    }

    #[test]
    fn loopback_private_link_local_and_their_disguises_are_refused() {
        for refused in [
            "127.0.0.1",
            "127.8.9.10",
            "0.0.0.0",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "255.255.255.255",
            "224.0.0.1",
            "::1",
            "::",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "::127.0.0.1",
            "2002:7f00:1::",
            "2002:a9fe:a9fe::1",
            "2001:0:4136:e378::1",
            "64:ff9b:1::a00:1",
        ] {
            assert!(!public(refused), "{refused} must be refused");
        }
    }

    #[test]
    fn public_addresses_are_allowed() {
        for allowed in
            ["93.184.215.14", "172.32.0.1", "8.8.8.8", "2606:4700::6810:84e5", "::ffff:8.8.8.8", "2002:808:808::"]
        {
            assert!(public(allowed), "{allowed} is public");
        }
    }
}
