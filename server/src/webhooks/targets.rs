//! Where an endpoint may point. Checked when it is registered (the owner hears why at once) and
//! again on every delivery through a resolver that drops refused addresses, so a name that later
//! resolves to the portal's own network (DNS rebinding) reaches nothing.
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use reqwest::Url;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use crate::webhooks::domain::addresses::is_public;

pub const MAX_URL_LENGTH: usize = 2_000;
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(5);

/// Whether endpoints may point at loopback, private and link-local addresses (and use plain
/// http): for a test receiver or a portal inside a closed network, never for the open internet.
#[derive(Debug, Clone, Copy, Default)]
pub struct TargetPolicy {
    pub allow_private: bool,
}

impl TargetPolicy {
    /// The URL as it will be called, or why it may not be.
    pub async fn check(&self, text: &str) -> Result<Url, String> {
        let url = self.check_form(text)?;
        if self.allow_private {
            return Ok(url);
        }
        let host = url.host_str().unwrap_or_default().trim_matches(['[', ']']).to_owned();
        if host.parse::<IpAddr>().is_ok() {
            return Ok(url);
        }
        let port = url.port_or_known_default().unwrap_or(443);
        let found = tokio::time::timeout(LOOKUP_TIMEOUT, tokio::net::lookup_host((host.as_str(), port)))
            .await
            .ok()
            .and_then(Result::ok)
            .map(Iterator::collect::<Vec<SocketAddr>>)
            .unwrap_or_default();
        // One answer for a name that is not found and one that is private, so the form cannot be
        // used to learn which names the portal's own network has.
        if found.is_empty() || found.iter().any(|address| !is_public(address.ip())) {
            return Err(format!(
                "{host} must be a public host name (it is not found, or resolves to a private or local address)"
            ));
        }
        Ok(url)
    }

    /// What needs no lookup: the form of the URL and an address written into it.
    pub fn check_form(&self, text: &str) -> Result<Url, String> {
        let text = text.trim();
        if text.len() > MAX_URL_LENGTH {
            return Err(format!("must be at most {MAX_URL_LENGTH} characters"));
        }
        let url =
            Url::parse(text).map_err(|_| "must be a full URL, such as https://example.com/webhooks".to_owned())?;
        match url.scheme() {
            "https" => {}
            "http" if self.allow_private => {}
            _ => return Err("must start with https://".to_owned()),
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err("must not carry a user name or password".to_owned());
        }
        let Some(host) = url.host_str() else { return Err("must name a host".to_owned()) };
        if let Ok(address) = host.trim_matches(['[', ']']).parse::<IpAddr>()
            && !self.allow_private
            && !is_public(address)
        {
            return Err("points at a private or local address".to_owned());
        }
        Ok(url)
    }
}

/// Resolves names for deliveries, keeping only public addresses.
pub struct PublicAddressesOnly;

impl Resolve for PublicAddressesOnly {
    fn resolve(&self, name: Name) -> Resolving {
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let found = tokio::net::lookup_host((host.as_str(), 0)).await?;
            let public: Vec<SocketAddr> = found.filter(|address| is_public(address.ip())).collect();
            if public.is_empty() {
                return Err(format!("{host} resolves to no public address").into());
            }
            Ok(Box::new(public.into_iter()) as Addrs)
        })
    }
}
