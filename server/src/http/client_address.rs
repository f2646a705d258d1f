//! Who the client is when the portal runs behind proxies. A forwarding header is believed only
//! when the peer that sent it is a configured proxy; then the client is the last address in the
//! chain that is not a trusted proxy, since everything before that may have been written by the
//! client itself.
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use app::api::backend::ClientAddress;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::Response;

/// The addresses of the proxies in front of the portal (`TRUSTED_PROXIES`).
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(pub Vec<IpAddr>);

impl TrustedProxies {
    /// The client behind `peer`, from `Forwarded` (RFC 7239) or else `X-Forwarded-For`.
    pub fn client_of(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        if !self.0.contains(&peer) {
            return peer;
        }
        let hops = forwarded_hops(headers).unwrap_or_else(|| x_forwarded_for_hops(headers));
        let mut client = peer;
        for hop in hops.iter().rev() {
            let Some(address) = *hop else { break };
            client = address;
            if !self.0.contains(&address) {
                break;
            }
        }
        client
    }
}

/// Every address of every `X-Forwarded-For` header, in order; `None` where one does not parse.
fn x_forwarded_for_hops(headers: &HeaderMap) -> Vec<Option<IpAddr>> {
    headers
        .get_all("x-forwarded-for")
        .iter()
        .flat_map(|value| value.to_str().unwrap_or("?").split(','))
        .map(|hop| hop.trim().parse().ok())
        .collect()
}

/// The `for=` of every element of every `Forwarded` header, or `None` when there is none.
fn forwarded_hops(headers: &HeaderMap) -> Option<Vec<Option<IpAddr>>> {
    let values: Vec<&str> = headers.get_all("forwarded").iter().map(|v| v.to_str().unwrap_or("for=?")).collect();
    if values.is_empty() {
        return None;
    }
    let hops = values
        .iter()
        .flat_map(|value| value.split(','))
        .map(|element| {
            let node = element.split(';').find_map(|pair| {
                let (name, value) = pair.split_once('=')?;
                name.trim().eq_ignore_ascii_case("for").then(|| value.trim().trim_matches('"'))
            })?;
            node_address(node)
        })
        .collect();
    Some(hops)
}

/// `192.0.2.60`, `192.0.2.60:4711`, `[2001:db8::1]` or `[2001:db8::1]:4711`.
fn node_address(node: &str) -> Option<IpAddr> {
    node.parse::<IpAddr>()
        .ok()
        .or_else(|| node.parse::<SocketAddr>().ok().map(|socket| socket.ip()))
        .or_else(|| node.strip_prefix('[')?.strip_suffix(']')?.parse().ok())
}

/// Puts the client's address in the request for the handlers that key on it (login throttling).
pub async fn resolve_client(
    State(trusted): State<Arc<TrustedProxies>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    mut request: Request,
    next: Next,
) -> Response {
    let client = trusted.client_of(peer.ip(), request.headers());
    request.extensions_mut().insert(ClientAddress(client.to_string()));
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, value.parse().unwrap());
        }
        map
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    const PROXY: &str = "10.0.0.1";

    fn trusted() -> TrustedProxies {
        TrustedProxies(vec![ip(PROXY), ip("10.0.0.2")])
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_claims() {
        let claimed = headers(&[("x-forwarded-for", "203.0.113.9"), ("forwarded", "for=203.0.113.9")]);
        assert_eq!(trusted().client_of(ip("198.51.100.1"), &claimed), ip("198.51.100.1"));
        assert_eq!(TrustedProxies::default().client_of(ip(PROXY), &claimed), ip(PROXY));
    }

    #[test]
    fn behind_trusted_proxies_the_client_is_the_last_untrusted_hop() {
        let chain = headers(&[("x-forwarded-for", "6.6.6.6, 203.0.113.9, 10.0.0.2")]);
        assert_eq!(trusted().client_of(ip(PROXY), &chain), ip("203.0.113.9"));
        let split = headers(&[("x-forwarded-for", "6.6.6.6"), ("x-forwarded-for", "203.0.113.9")]);
        assert_eq!(trusted().client_of(ip(PROXY), &split), ip("203.0.113.9"));
    }

    #[test]
    fn forwarded_takes_precedence_and_its_nodes_may_carry_ports_and_brackets() {
        let both = headers(&[
            ("x-forwarded-for", "6.6.6.6"),
            ("forwarded", r#"for=6.6.6.6, for="[2001:db8::1]:4711";proto=https"#),
        ]);
        assert_eq!(trusted().client_of(ip(PROXY), &both), ip("2001:db8::1"));
        let with_port = headers(&[("forwarded", "for=192.0.2.60:4711;by=10.0.0.1")]);
        assert_eq!(trusted().client_of(ip(PROXY), &with_port), ip("192.0.2.60"));
    }

    #[test]
    fn a_missing_or_unreadable_hop_stops_the_walk_at_the_last_address_known() {
        assert_eq!(trusted().client_of(ip(PROXY), &HeaderMap::new()), ip(PROXY));
        let garbage = headers(&[("x-forwarded-for", "203.0.113.9, not-an-address, 10.0.0.2")]);
        assert_eq!(trusted().client_of(ip(PROXY), &garbage), ip("10.0.0.2"));
        let obfuscated = headers(&[("forwarded", "for=_hidden")]);
        assert_eq!(trusted().client_of(ip(PROXY), &obfuscated), ip(PROXY));
    }
}
