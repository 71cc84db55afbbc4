//! What browsers need to open data channels to one another: the relay's
//! STUN server at an address they can reach, and short-lived credentials
//! for the operator's TURN server (`/api/stun`).
//!
//! - **The reachable STUN address** ([`advertised`]): `--public-addr` when
//!   the operator sets it; else the address discovery found, when the STUN
//!   server listens on the interface discovery used and there is no NAT in
//!   between (the servers saw the machine's own address: behind a NAT,
//!   even one that keeps ports, nobody knows the listening port is
//!   forwarded, so the operator says so with `--public-addr`); else the
//!   listening address when it is a public one. A browser
//!   on the relay's own machine (it asked over loopback) gets the loopback
//!   address. Otherwise none: a private or loopback address is useless to
//!   a browser elsewhere.
//! - **The discovery state** ([`Identity`]) is refreshed in the background
//!   (at start, then once per `--stun-cache-secs`, sooner after a failure)
//!   and read without waiting: `/api/stun` never touches the network.
//! - **TURN credentials** ([`turn_credentials`]) follow the shared-secret
//!   convention coturn implements (`use-auth-secret`): the username is
//!   `EXPIRY:NAME` (unix seconds), the password
//!   `base64(HMAC-SHA1(secret, username))`; the TURN server checks both
//!   without asking the relay.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::str::FromStr;

use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde::Serialize;
use sha1::Sha1;

use crate::stun::discovery::{Found, NatKind, ServerRecord};

/// The address browsers should use for the relay's STUN server, as the
/// operator gives it (`--public-addr`): an IP (the STUN server's port is
/// kept) or `IP:PORT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PublicAddr {
    /// The IP alone.
    Ip(IpAddr),
    /// IP and port.
    Socket(SocketAddr),
}

impl FromStr for PublicAddr {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Ok(addr) = s.parse::<SocketAddr>() {
            return Ok(Self::Socket(addr));
        }
        if let Ok(ip) = s.trim_matches(['[', ']']).parse::<IpAddr>() {
            return Ok(Self::Ip(ip));
        }
        Err(format!("`{s}` is neither an IP address nor IP:PORT"))
    }
}

impl PublicAddr {
    /// The address, with `port` when the operator gave none.
    pub fn with_port(self, port: u16) -> SocketAddr {
        match self {
            Self::Ip(ip) => SocketAddr::new(ip, port),
            Self::Socket(addr) => addr,
        }
    }
}

/// Where the advertised STUN address comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// `--public-addr`.
    PublicAddr,
    /// Discovery through the configured STUN servers.
    Discovered,
    /// The listening address, which is a public one.
    Listen,
    /// The loopback address, for a browser on the relay's own machine.
    Loopback,
}

/// The discovery state, as last refreshed.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Identity {
    /// Whether a discovery has finished (or none is configured).
    pub settled: bool,
    /// The relay's public address, if discovery worked.
    pub public: Option<Found>,
    /// Why discovery failed, if it did.
    pub error: Option<String>,
    /// The NAT in front of the relay (two servers compared).
    pub nat: Option<NatKind>,
    /// Each configured server's record, best first.
    pub servers: Vec<ServerRecord>,
}

/// Whether `ip` can be reached from the internet (not private, loopback,
/// link-local, shared, documentation or otherwise reserved).
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_public_v4(v4),
            None => is_public_v6(v6),
        },
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    !(ip.is_private()
        || ip.is_loopback()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_documentation()
        || a == 0
        || a >= 240
        || (a == 100 && (64..128).contains(&b)) // shared (carrier NAT)
        || (a == 198 && (18..20).contains(&b)) // benchmarking
        || (a == 192 && b == 0 && ip.octets()[2] == 0)) // IETF protocol
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    !(ip.is_loopback()
        || ip.is_unspecified()
        || (first & 0xfe00) == 0xfc00 // unique local
        || (first & 0xffc0) == 0xfe80 // link-local
        || first == 0x2001 && ip.segments()[1] == 0x0db8) // documentation
}

/// The STUN server's address as a browser at `client` can reach it, and
/// where it comes from; `None` when no address would work for it.
pub fn advertised(
    listen: SocketAddr,
    public_addr: Option<PublicAddr>,
    identity: &Identity,
    client: Option<IpAddr>,
) -> Option<(SocketAddr, Source)> {
    if let Some(public) = public_addr {
        return Some((public.with_port(listen.port()), Source::PublicAddr));
    }
    if let Some(found) = &identity.public {
        // Discovery's socket went out on `found.local`'s interface: the
        // STUN server is there too if it listens on it (or on all).
        let same_interface = listen.ip().is_unspecified() || listen.ip() == found.local.ip();
        let no_nat =
            found.public.ip() == found.local.ip() && identity.nat != Some(NatKind::Symmetric);
        if same_interface && no_nat && !found.public.ip().is_unspecified() {
            let public = SocketAddr::new(found.public.ip(), listen.port());
            if is_public(public.ip())
                || client.is_none_or(|c| c.is_loopback() == public.ip().is_loopback())
            {
                return Some((public, Source::Discovered));
            }
        }
    }
    if is_public(listen.ip()) {
        return Some((listen, Source::Listen));
    }
    // A browser on this machine reaches a loopback or wildcard listener.
    let local = client.filter(|c| c.is_loopback())?;
    let reachable = listen.ip().is_loopback() || listen.ip().is_unspecified();
    reachable.then(|| {
        let ip = if listen.ip().is_unspecified() {
            local
        } else {
            listen.ip()
        };
        (SocketAddr::new(ip, listen.port()), Source::Loopback)
    })
}

/// A TURN server's short-lived credentials (coturn's `use-auth-secret`).
#[derive(Clone, PartialEq, Eq, Serialize)]
pub struct TurnCredentials {
    /// `EXPIRY:NAME`.
    pub username: String,
    /// `base64(HMAC-SHA1(secret, username))`.
    pub credential: String,
    /// Unix seconds after which the TURN server refuses them.
    pub expires_at: u64,
}

impl fmt::Debug for TurnCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TurnCredentials")
            .field("username", &self.username)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// Credentials for `name`, valid until `now + ttl` (unix seconds).
pub fn turn_credentials(secret: &[u8], name: &str, now: u64, ttl: u64) -> TurnCredentials {
    let expires_at = now.saturating_add(ttl);
    let username = format!("{expires_at}:{name}");
    // HMAC takes a key of any length.
    let mut mac = <Hmac<Sha1> as Mac>::new_from_slice(secret).unwrap_or_else(|_| unreachable!());
    mac.update(username.as_bytes());
    let credential = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    TurnCredentials {
        username,
        credential,
        expires_at,
    }
}

/// One entry of a browser's `RTCConfiguration.iceServers`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IceServer {
    /// `stun:HOST:PORT` or the operator's `turn:` / `turns:` URLs.
    pub urls: Vec<String>,
    /// TURN only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// TURN only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
}

impl IceServer {
    /// The relay's STUN server at `addr`.
    pub fn stun(addr: SocketAddr) -> Self {
        Self {
            urls: vec![format!("stun:{addr}")],
            username: None,
            credential: None,
        }
    }

    /// TURN servers at `urls` with `credentials`.
    pub fn turn(urls: &[String], credentials: &TurnCredentials) -> Self {
        Self {
            urls: urls.to_vec(),
            username: Some(credentials.username.clone()),
            credential: Some(credentials.credential.clone()),
        }
    }
}

/// Checks a TURN URL's form (`turn:` or `turns:`, a host, optional port and
/// `?transport=udp|tcp`), as browsers will.
pub fn parse_turn_url(url: &str) -> Result<String, String> {
    let rest = url
        .strip_prefix("turn:")
        .or_else(|| url.strip_prefix("turns:"))
        .ok_or_else(|| format!("`{url}`: a TURN URL starts with turn: or turns:"))?;
    let (host, query) = rest.split_once('?').unwrap_or((rest, ""));
    if host.is_empty() || host.contains('/') {
        return Err(format!("`{url}`: no host"));
    }
    if !query.is_empty() && !matches!(query, "transport=udp" | "transport=tcp") {
        return Err(format!(
            "`{url}`: the only query is transport=udp or transport=tcp"
        ));
    }
    Ok(url.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(public: &str, local: &str) -> Identity {
        Identity {
            settled: true,
            public: Some(Found {
                public: public.parse().unwrap(),
                local: local.parse().unwrap(),
                server: "stun.example:3478".into(),
                rtt_ms: 3,
                cached: false,
            }),
            ..Identity::default()
        }
    }

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    const REMOTE: Option<IpAddr> = Some(IpAddr::V4(Ipv4Addr::new(198, 51, 100, 7)));
    const LOCAL: Option<IpAddr> = Some(IpAddr::V4(Ipv4Addr::LOCALHOST));

    #[test]
    fn the_operators_address_wins() {
        let any = found("203.0.113.9:40000", "10.0.0.2:40000");
        let listen = addr("0.0.0.0:3478");
        let ip = "198.51.100.1".parse().unwrap();
        assert_eq!(
            advertised(listen, Some(ip), &any, REMOTE),
            Some((addr("198.51.100.1:3478"), Source::PublicAddr))
        );
        let both = "198.51.100.1:5349".parse().unwrap();
        assert_eq!(
            advertised(listen, Some(both), &any, REMOTE),
            Some((addr("198.51.100.1:5349"), Source::PublicAddr))
        );
        assert!("[2001:db8::1]".parse::<PublicAddr>().is_ok());
        assert!("stun.example.com".parse::<PublicAddr>().is_err());
    }

    #[test]
    fn a_discovered_address_is_used_when_the_port_is_reachable() {
        // No NAT: the machine has the public address.
        let direct = found("8.8.4.4:40000", "8.8.4.4:40000");
        assert_eq!(
            advertised(addr("0.0.0.0:3478"), None, &direct, REMOTE),
            Some((addr("8.8.4.4:3478"), Source::Discovered))
        );
        // Behind a NAT, even one that kept discovery's port, the listening
        // port is not known to be forwarded: `--public-addr` says so.
        let mut kept = found("8.8.4.4:40000", "10.0.0.2:40000");
        kept.nat = Some(NatKind::EndpointIndependent);
        assert_eq!(advertised(addr("10.0.0.2:3478"), None, &kept, REMOTE), None);
        // A NAT that changed the port: the listening port is not known to
        // be reachable.
        let moved = found("8.8.4.4:61000", "10.0.0.2:40000");
        assert_eq!(advertised(addr("0.0.0.0:3478"), None, &moved, REMOTE), None);
        // A symmetric NAT.
        let mut symmetric = found("8.8.4.4:40000", "10.0.0.2:40000");
        symmetric.nat = Some(NatKind::Symmetric);
        assert_eq!(
            advertised(addr("0.0.0.0:3478"), None, &symmetric, REMOTE),
            None
        );
        // The STUN server listens on another interface than discovery used.
        assert_eq!(
            advertised(addr("127.0.0.1:3478"), None, &direct, REMOTE),
            None
        );
    }

    #[test]
    fn a_private_or_loopback_listener_serves_only_this_machine() {
        let none = Identity::default();
        assert_eq!(
            advertised(addr("127.0.0.1:3478"), None, &none, REMOTE),
            None
        );
        assert_eq!(advertised(addr("10.1.2.3:3478"), None, &none, REMOTE), None);
        assert_eq!(advertised(addr("0.0.0.0:3478"), None, &none, REMOTE), None);
        assert_eq!(
            advertised(addr("127.0.0.1:3478"), None, &none, LOCAL),
            Some((addr("127.0.0.1:3478"), Source::Loopback))
        );
        assert_eq!(
            advertised(addr("0.0.0.0:3478"), None, &none, LOCAL),
            Some((addr("127.0.0.1:3478"), Source::Loopback))
        );
        assert_eq!(
            advertised(addr("8.8.8.8:3478"), None, &none, REMOTE),
            Some((addr("8.8.8.8:3478"), Source::Listen))
        );
        // Discovery on loopback (a test set-up) serves loopback browsers.
        let looped = found("127.0.0.1:40000", "127.0.0.1:40000");
        assert_eq!(
            advertised(addr("127.0.0.1:3478"), None, &looped, LOCAL),
            Some((addr("127.0.0.1:3478"), Source::Discovered))
        );
        assert_eq!(
            advertised(addr("127.0.0.1:3478"), None, &looped, REMOTE),
            None
        );
    }

    #[test]
    fn public_means_reachable_from_the_internet() {
        for ip in ["8.8.8.8", "2606:4700::1111", "::ffff:8.8.8.8"] {
            assert!(is_public(ip.parse().unwrap()), "{ip}");
        }
        for ip in [
            "10.0.0.1",
            "172.16.0.1",
            "192.168.1.1",
            "127.0.0.1",
            "169.254.1.1",
            "0.0.0.0",
            "100.64.0.1",
            "198.18.0.1",
            "192.0.0.8",
            "203.0.113.1",
            "255.255.255.255",
            "::1",
            "::",
            "fd00::1",
            "fe80::1",
            "2001:db8::1",
            "::ffff:10.0.0.1",
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn turn_credentials_follow_the_shared_secret_convention() {
        let c = turn_credentials(b"north", "bitcraps", 1_700_000_000, 3600);
        assert_eq!(c.username, "1700003600:bitcraps");
        assert_eq!(c.expires_at, 1_700_003_600);
        // HMAC-SHA1("north", "1700003600:bitcraps"), base64, computed with
        // `printf %s 1700003600:bitcraps | openssl dgst -sha1 -hmac north -binary | base64`.
        assert_eq!(c.credential, "PAfItsmSsr2RgNfNkBrUxmTj6ug=");
        assert!(!format!("{c:?}").contains(&c.credential), "never logged");
    }

    #[test]
    fn turn_urls_are_checked() {
        for ok in [
            "turn:turn.example.com:3478",
            "turns:t.example:5349?transport=tcp",
            "turn:127.0.0.1?transport=udp",
        ] {
            assert!(parse_turn_url(ok).is_ok(), "{ok}");
        }
        for bad in ["stun:x:3478", "turn:", "turn:x?transport=sctp", "http://x"] {
            assert!(parse_turn_url(bad).is_err(), "{bad}");
        }
    }
}
