//! Where wacrm may send HTTP requests, and the one client that enforces it.
//!
//! Every URL wacrm fetches or sends credentials to comes from someone else: a
//! provider's base URL or the AI settings (typed by an admin), a media link in a
//! webhook (typed by whoever can post one), a redirect (chosen by the server we
//! reached). Without a rule, any of them can point at `169.254.169.254`, at the
//! database on `10.0.0.3`, or at `localhost:22`. So one policy, [`Egress`], holds
//! for every request: only public internet addresses are reached.
//!
//! It is enforced at three points, because each alone has a gap:
//! - a DNS resolver ([`GuardedResolver`]) that drops every non-public address
//!   of a name *at connect time*, so a name that resolved to a public address
//!   when it was configured cannot be rebound to a private one later (the
//!   connection goes to exactly the addresses that were checked);
//! - a check of IP-literal URLs before any request ([`Egress::check_url`]):
//!   hyper never asks the resolver about `http://10.0.0.3/`;
//! - no automatic redirects at all: reqwest would follow them with headers it
//!   does not know to be secret (Lipachat's `apiKey`, Gemini's
//!   `x-goog-api-key`; it strips only `Authorization` and `Cookie`), so a
//!   provider API call never follows one, and media downloads follow them by
//!   hand, checking every hop (`media`).
//!
//! Hand-rolled rather than a crate: no maintained general-purpose crate does
//! this for reqwest (those on crates.io are parts of agent toolkits or
//! single-release ports), and the rule itself is a short list of ranges that
//! the tests below pin down. Proxies are switched off (`no_proxy`): through an
//! HTTP proxy the destination is resolved by the proxy, out of our reach.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use url::{Host, Url};

/// Which addresses requests may reach. The default reaches only public ones.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Egress {
    /// Loopback and private addresses too: only for tests against fake providers
    /// on 127.0.0.1 (`WACRM_ALLOW_PRIVATE_TARGETS`, refused in production).
    pub allow_private_targets: bool,
}

/// A request was not sent: its target is not a public internet address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the address is not allowed: wacrm reaches only public internet hosts")]
pub struct Refused;

impl Egress {
    /// Whether a connection to `ip` may be opened.
    pub fn allows(self, ip: IpAddr) -> bool {
        self.allow_private_targets || is_public(ip)
    }

    /// What can be decided before connecting: an http(s) URL whose host, when it
    /// is an IP literal, is allowed. Names are checked by the resolver.
    pub fn check_url(self, url: &Url) -> Result<(), Refused> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(Refused);
        }
        match url.host() {
            Some(Host::Ipv4(ip)) if !self.allows(IpAddr::V4(ip)) => Err(Refused),
            Some(Host::Ipv6(ip)) if !self.allows(IpAddr::V6(ip)) => Err(Refused),
            Some(_) => Ok(()),
            None => Err(Refused),
        }
    }

    /// Resolves `url`'s host now and refuses it if any of its addresses is not
    /// allowed: for configuration (a base URL), to say so when it is typed in.
    /// A name that does not resolve now is let through: the resolver checks it
    /// again on every connection anyway.
    pub async fn check_target(self, url: &Url) -> Result<(), Refused> {
        self.check_url(url)?;
        let Some(Host::Domain(name)) = url.host() else {
            return Ok(());
        };
        let Ok(addresses) = tokio::net::lookup_host((name, 0)).await else {
            return Ok(());
        };
        for address in addresses {
            if !self.allows(address.ip()) {
                return Err(Refused);
            }
        }
        Ok(())
    }
}

/// Whether `ip` is an ordinary public internet address: not loopback, private
/// (RFC 1918, ULA), link-local (cloud metadata lives at 169.254.169.254),
/// CGNAT, unspecified, broadcast, multicast, documentation, benchmarking or
/// reserved, nor an IPv6 form that embeds one of those (IPv4-mapped,
/// IPv4-compatible, NAT64, 6to4).
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(ip) => is_public_v4(ip),
        IpAddr::V6(ip) => is_public_v6(ip),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(a == 0 // "this network", 0.0.0.0 included
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || (a == 100 && (b & 0xc0) == 64) // CGNAT 100.64.0.0/10
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || ip.is_documentation()
        || (a == 198 && (b & 0xfe) == 18) // benchmarking 198.18.0.0/15
        || ip.is_multicast()
        || a >= 240) // reserved 240.0.0.0/4 and the broadcast address
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let segments = ip.segments();
    let embedded_v4 = |high: u16, low: u16| {
        let [a, b] = high.to_be_bytes();
        let [c, d] = low.to_be_bytes();
        Ipv4Addr::new(a, b, c, d)
    };
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_public_v4(v4);
    }
    match segments {
        // IPv4-compatible (deprecated), `::` and `::1` among them.
        [0, 0, 0, 0, 0, 0, _, _] => false,
        // NAT64: the embedded IPv4 address is what is reached.
        [0x64, 0xff9b, 0, 0, 0, 0, high, low] => is_public_v4(embedded_v4(high, low)),
        // 6to4: likewise.
        [0x2002, high, low, ..] => is_public_v4(embedded_v4(high, low)),
        // Teredo tunnels and documentation.
        [0x2001, 0, ..] | [0x2001, 0xdb8, ..] => false,
        [first, ..] => {
            !((first & 0xfe00) == 0xfc00 // unique local fc00::/7
                || (first & 0xffc0) == 0xfe80 // link-local fe80::/10
                || (first & 0xffc0) == 0xfec0 // site-local fec0::/10 (deprecated)
                || (first & 0xff00) == 0xff00) // multicast
        }
    }
}

/// Resolves names with the system resolver and keeps only the addresses
/// [`Egress`] allows; with none left the connection is not attempted.
struct GuardedResolver {
    egress: Egress,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let egress = self.egress;
        Box::pin(async move {
            let resolved = tokio::net::lookup_host((name.as_str(), 0)).await?;
            let allowed: Vec<SocketAddr> = resolved
                .filter(|address| egress.allows(address.ip()))
                .collect();
            if allowed.is_empty() {
                return Err(Box::new(Refused) as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(allowed.into_iter()) as Addrs)
        })
    }
}

/// The HTTP client every provider, AI and media request goes through: its
/// resolver enforces [`Egress`], it follows no redirect, and it remembers its
/// policy so that IP-literal URLs are checked against the same rule.
#[derive(Clone)]
pub struct HttpClient {
    client: reqwest::Client,
    egress: Egress,
}

impl HttpClient {
    /// Fails only when the TLS backend cannot start.
    pub fn new(egress: Egress) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .dns_resolver(Arc::new(GuardedResolver { egress }))
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(120))
            .user_agent(concat!("wacrm/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self { client, egress })
    }

    /// A client for tests against fake providers on 127.0.0.1.
    #[cfg(test)]
    pub(crate) fn local() -> Self {
        Self::new(Egress {
            allow_private_targets: true,
        })
        .unwrap()
    }

    pub fn egress(&self) -> Egress {
        self.egress
    }

    /// A request to `url`, once its IP literal (if any) passed the policy. The
    /// only way to send through this client, so every caller (integrators'
    /// webhooks too) gets the same rule; a 3xx comes back as it is.
    pub fn request(
        &self,
        method: reqwest::Method,
        url: Url,
    ) -> Result<reqwest::RequestBuilder, Refused> {
        self.egress.check_url(&url)?;
        Ok(self.client.request(method, url))
    }
}

/// Whether `error` (a failed request) was a refusal of this policy, somewhere
/// down its chain of causes (the resolver's refusal arrives wrapped).
pub fn was_refused(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(error);
    while let Some(error) = cause {
        if error.downcast_ref::<Refused>().is_some() {
            return true;
        }
        cause = error.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn internal_addresses_are_not_public() {
        for address in [
            "127.0.0.1",
            "127.255.0.9",
            "0.0.0.0",
            "10.0.0.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "100.127.255.255",
            "255.255.255.255",
            "224.0.0.1",
            "192.0.0.170",
            "198.18.0.1",
            "::",
            "::1",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "::ffff:10.0.0.3",
            "::127.0.0.1",
            "64:ff9b::a00:3",
            "2002:a00:3::1",
        ] {
            assert!(!is_public(ip(address)), "{address} must be refused");
        }
    }

    #[test]
    fn internet_addresses_are_public() {
        for address in [
            "157.240.1.35",
            "8.8.8.8",
            "100.128.0.1",
            "172.32.0.1",
            "2a03:2880:f12f:83:face:b00c::25de",
            "::ffff:157.240.1.35",
            "64:ff9b::808:808",
        ] {
            assert!(is_public(ip(address)), "{address} must be allowed");
        }
    }

    #[test]
    fn ip_literal_urls_are_checked_before_connecting() {
        let strict = Egress::default();
        for url in [
            "http://127.0.0.1:8080/x",
            "http://[::1]/",
            "http://169.254.169.254/latest/meta-data/",
            "http://0x7f.0.0.1/",
            "http://2130706433/",
            "http://[::ffff:a00:3]/",
            "file:///etc/passwd",
            "ftp://example.com/",
        ] {
            let url = Url::parse(url).unwrap();
            assert_eq!(strict.check_url(&url), Err(Refused), "{url}");
        }
        assert_eq!(
            strict.check_url(&Url::parse("https://graph.facebook.com/v25.0").unwrap()),
            Ok(())
        );
        let testing = Egress {
            allow_private_targets: true,
        };
        assert_eq!(
            testing.check_url(&Url::parse("http://127.0.0.1:8080/x").unwrap()),
            Ok(())
        );
    }

    #[tokio::test]
    async fn names_that_resolve_to_loopback_are_refused() {
        let strict = Egress::default();
        let url = Url::parse("http://localhost:9/").unwrap();
        assert_eq!(strict.check_target(&url).await, Err(Refused));
        let http = HttpClient::new(strict).unwrap();
        let error = http
            .request(reqwest::Method::GET, url)
            .unwrap()
            .send()
            .await
            .unwrap_err();
        assert!(was_refused(&error), "{error:?}");
    }
}
