//! Counts per client address, so that one address cannot take every slot
//! of a limit (WebSockets, connections that are not WebSockets yet).
//!
//! A `DashMap<IpAddr, usize>`: each step holds one shard guard and takes
//! no other lock; an address whose count falls to 0 is removed, so the
//! map holds only addresses with something open.

use std::net::IpAddr;
use std::sync::Arc;

use dashmap::DashMap;

/// Open things per address.
#[derive(Clone, Default)]
pub struct PerIp(Arc<DashMap<IpAddr, usize>>);

/// One place in an address's count, given back on drop.
pub struct Slot {
    map: PerIp,
    ip: IpAddr,
}

impl PerIp {
    /// A place for `ip` if it has fewer than `max` (0: no limit). IPv6
    /// addresses count by their /64 (one host usually has a whole /64).
    pub fn take(&self, ip: IpAddr, max: usize) -> Option<Slot> {
        let ip = key_of(ip);
        let mut count = self.0.entry(ip).or_insert(0);
        if max > 0 && *count >= max {
            return None;
        }
        *count += 1;
        Some(Slot {
            map: self.clone(),
            ip,
        })
    }

    /// Addresses with something open.
    pub fn addresses(&self) -> usize {
        self.0.len()
    }
}

/// The address an address counts under: itself for IPv4 (and IPv4-mapped
/// IPv6), its /64 for IPv6.
fn key_of(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(std::net::Ipv6Addr::from(
                u128::from(v6) & !((1u128 << 64) - 1),
            )),
        },
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Some(mut count) = self.map.0.get_mut(&self.ip) {
            *count = count.saturating_sub(1);
        }
        self.map.0.remove_if(&self.ip, |_, count| *count == 0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_are_counted_per_address_and_given_back() {
        let per_ip = PerIp::default();
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        let first = per_ip.take(a, 2).unwrap();
        let _second = per_ip.take(a, 2).unwrap();
        assert!(per_ip.take(a, 2).is_none(), "a third for the same address");
        assert!(
            per_ip.take(b, 2).is_some(),
            "another address is not affected"
        );
        drop(first);
        assert!(per_ip.take(a, 2).is_some(), "its place came back");
        assert!(per_ip.take(a, 0).is_some(), "0 is no limit");
    }

    #[test]
    fn ipv6_addresses_count_by_their_64() {
        let per_ip = PerIp::default();
        let _a = per_ip.take("2001:db8:1:2::1".parse().unwrap(), 1).unwrap();
        assert!(
            per_ip
                .take("2001:db8:1:2:ffff::9".parse().unwrap(), 1)
                .is_none(),
            "the same /64"
        );
        assert!(per_ip.take("2001:db8:1:3::1".parse().unwrap(), 1).is_some());
        let _v4 = per_ip.take("192.0.2.7".parse().unwrap(), 1).unwrap();
        assert!(
            per_ip
                .take("::ffff:192.0.2.7".parse().unwrap(), 1)
                .is_none(),
            "an IPv4-mapped address is its IPv4 address"
        );
    }

    #[test]
    fn an_address_with_nothing_open_is_forgotten() {
        let per_ip = PerIp::default();
        let slot = per_ip.take("192.0.2.1".parse().unwrap(), 1).unwrap();
        assert_eq!(per_ip.addresses(), 1);
        drop(slot);
        assert_eq!(per_ip.addresses(), 0);
    }
}
