//! Calls to peer nodes: short connect and total timeouts, no redirects, no proxy, a size cap on
//! answers, an address policy checked at every connection, and a circuit breaker per peer
//! registration so that a dead or hanging peer costs the border officer nothing after a few
//! failures.
//!
//! A peer's base URL is chosen by a customs administrator, so these calls are a way into the
//! node's own network: unless the operator allows it (`federation_allow_private`), a peer may
//! not be on a loopback, private, link-local or other non-public address. Host names are checked
//! after resolution, by the resolver every new connection goes through, so a name that resolves
//! differently later (DNS rebinding) is caught too; literal addresses are checked before the call.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::{Method, StatusCode};
use serde_json::Value;

/// Connect and total time allowed for one call.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(2);
/// Consecutive failures that open a peer's circuit, and how often an open circuit lets one call
/// through as a probe.
const FAILURES_TO_OPEN: u32 = 3;
const PROBE_EVERY: Duration = Duration::from_secs(1);
const MAX_ANSWER_BYTES: usize = 16 * 1024 * 1024;

/// What went wrong with a call. The detail is for the node's log; what an administrator sees
/// is [`CallError::public`], which does not tell a closed port from an open one.
#[derive(Debug, Clone, thiserror::Error)]
pub enum CallError {
    #[error("peer unreachable: {0}")]
    Unreachable(String),
    #[error("peer answered {0}")]
    Refused(StatusCode),
    #[error("peer skipped: too many recent failures")]
    CircuitOpen,
    #[error("peer answered something unreadable")]
    Unreadable,
    /// The answer was read but its signature did not verify with the pinned keys.
    #[error("the peer's answer did not verify: {0}")]
    Unverified(String),
    #[error("the peer's address is not allowed: {0}")]
    AddressNotAllowed(String),
    /// This node could not make the call (its signing key, say): not the peer's doing.
    #[error("this node could not make the call: {0}")]
    Local(String),
}

/// The ways asking a partner can fail, as the audit log and a trader's view name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// Not reached, timed out, or skipped while its circuit is open.
    PartnerUnreachable,
    /// It answered, with an error status.
    PartnerRefused,
    /// Its answer could not be read, or did not verify with the keys pinned for it.
    AnswerUnverified,
    /// It answered, signed, that it could not reach the issuer.
    IssuerUnreachable,
    /// This node could not make the call.
    Local,
}

/// Reads a peer's answer as the protocol says it must be.
pub fn read<T: serde::de::DeserializeOwned>(body: Value) -> Result<T, CallError> {
    serde_json::from_value(body).map_err(|_| CallError::Unreadable)
}

impl CallError {
    /// The outcome as an administrator may see it: which way the call failed, without the
    /// transport's detail (kept for the log).
    pub fn public(&self) -> String {
        match self {
            CallError::Unreachable(_) => "the peer could not be reached or did not answer in time".into(),
            CallError::Refused(status) => format!("the peer refused the call (HTTP {})", status.as_u16()),
            CallError::Unreadable => "the peer's answer could not be read".into(),
            CallError::Unverified(_) => "the peer's answer did not verify with its pinned keys".into(),
            CallError::CircuitOpen => "skipped after repeated failures".into(),
            CallError::AddressNotAllowed(_) => "the peer's address is not a public address".into(),
            CallError::Local(_) => "this node could not make the call".into(),
        }
    }

    /// The way the call failed, as a code for machines (the audit log, the trader's view).
    pub fn kind(&self) -> FailureKind {
        match self {
            CallError::Unreachable(_) | CallError::CircuitOpen | CallError::AddressNotAllowed(_) => {
                FailureKind::PartnerUnreachable
            }
            CallError::Refused(_) => FailureKind::PartnerRefused,
            CallError::Unreadable | CallError::Unverified(_) => FailureKind::AnswerUnverified,
            CallError::Local(_) => FailureKind::Local,
        }
    }
}

/// Whether a peer may be at `ip` when private addresses are not allowed: not loopback,
/// private, link-local, shared (carrier-grade NAT), unspecified, broadcast, multicast,
/// documentation, benchmarking or reserved, in either IP version (IPv4 inside IPv6 included).
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    !(ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b))
        || (a == 192 && b == 0 && ip.octets()[2] == 0)
        || (a == 198 && (18..20).contains(&b))
        || a >= 240)
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_public_v4(v4);
    }
    let segments = ip.segments();
    let v4 = |high: u16, low: u16| Ipv4Addr::from((u32::from(high) << 16) | u32::from(low));
    // Addresses that carry an IPv4 address reach it: NAT64 (64:ff9b::/96), IPv4-translated
    // (::ffff:0:0/96) and 6to4 (2002::/16, the IPv4 address in bits 16 to 47).
    if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] || segments[..6] == [0, 0, 0, 0, 0xffff, 0] {
        return is_public_v4(v4(segments[6], segments[7]));
    }
    if segments[0] == 0x2002 {
        return is_public_v4(v4(segments[1], segments[2]));
    }
    !(ip.is_loopback()
        || segments[..3] == [0x64, 0xff9b, 1] // local-use NAT64 (64:ff9b:1::/48), any network behind it
        || segments[..2] == [0x2001, 0] // Teredo: an IPv4 address in disguise
        || segments[..4] == [0x100, 0, 0, 0] // discard-only
        || ip.is_unspecified()
        || ip.is_multicast()
        || (segments[0] & 0xfe00) == 0xfc00 // unique local
        || (segments[0] & 0xffc0) == 0xfe80 // link-local
        || (segments[0] & 0xffc0) == 0xfec0 // site-local (deprecated)
        || (segments[0] == 0x2001 && segments[1] == 0x0db8) // documentation
        || segments[..6] == [0, 0, 0, 0, 0, 0]) // IPv4-compatible, deprecated
}

/// Resolves peer host names, keeping only the addresses a peer may have.
struct GuardedResolver {
    allow_private: bool,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_private = self.allow_private;
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let resolved: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let allowed: Vec<SocketAddr> =
                resolved.into_iter().filter(|address| allow_private || is_public(address.ip())).collect();
            if allowed.is_empty() {
                return Err(Box::new(CallError::AddressNotAllowed(host)) as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(allowed.into_iter()) as Addrs)
        })
    }
}

/// A registration's circuit: closed, or open after `FAILURES_TO_OPEN` failures in a row. While
/// it is open, calls are skipped at once, except one probe every `PROBE_EVERY`, which goes out in
/// the background (the caller is not kept waiting for a peer that may hang); its success, or any
/// other proof that the peer is back (`revive`), closes the circuit.
#[derive(Default)]
struct Breaker {
    failures: u32,
    next_probe: Option<Instant>,
}

/// What an open or closed circuit makes of a call.
enum Admitted {
    Call,
    Probe,
    Skip,
}

type Breakers = Arc<Mutex<HashMap<String, Breaker>>>;

fn admit(breakers: &Breakers, circuit: &str) -> Admitted {
    let Ok(mut breakers) = breakers.lock() else { return Admitted::Skip };
    let Some(breaker) = breakers.get_mut(circuit) else { return Admitted::Call };
    match breaker.next_probe {
        None => Admitted::Call,
        Some(due) if Instant::now() >= due => {
            breaker.next_probe = Some(Instant::now() + PROBE_EVERY);
            Admitted::Probe
        }
        Some(_) => Admitted::Skip,
    }
}

fn settle(breakers: &Breakers, circuit: &str, healthy: bool) {
    if let Ok(mut breakers) = breakers.lock() {
        if healthy {
            breakers.remove(circuit);
            return;
        }
        let breaker = breakers.entry(circuit.to_owned()).or_default();
        breaker.failures += 1;
        if breaker.failures >= FAILURES_TO_OPEN {
            breaker.next_probe = Some(Instant::now() + PROBE_EVERY);
        }
    }
}

pub struct PeerClient {
    http: reqwest::Client,
    allow_private: bool,
    /// Per peer registration (`administration/peer`): one administration's registration, at
    /// whatever URL, can never open or close another's circuit.
    breakers: Breakers,
}

impl PeerClient {
    pub fn new(allow_private: bool) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .connect_timeout(CALL_TIMEOUT)
            .timeout(CALL_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            // A proxy would resolve names itself, out of the address policy's sight.
            .no_proxy()
            .dns_resolver(Arc::new(GuardedResolver { allow_private }))
            .user_agent(concat!("aeo-registry/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(PeerClient { http, allow_private, breakers: Breakers::default() })
    }

    /// Checks a URL's host where it can be checked before connecting: a literal address. Names
    /// are checked by the resolver.
    pub fn check_address(&self, url: &reqwest::Url) -> Result<(), CallError> {
        let literal = match url.host() {
            Some(url::Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
            _ => None,
        };
        match literal {
            Some(ip) if !self.allow_private && !is_public(ip) => Err(CallError::AddressNotAllowed(ip.to_string())),
            _ => Ok(()),
        }
    }

    /// Whether a host name or address may be a peer's: resolves it now, as registration does.
    pub async fn check_host(&self, url: &reqwest::Url) -> Result<(), CallError> {
        self.check_address(url)?;
        if let Some(url::Host::Domain(name)) = url.host() {
            let name: Name = name.parse().map_err(|_| CallError::AddressNotAllowed(name.to_owned()))?;
            let _allowed = GuardedResolver { allow_private: self.allow_private }
                .resolve(name)
                .await
                .map_err(|error| CallError::AddressNotAllowed(error.to_string()))?;
        }
        Ok(())
    }

    /// Closes a circuit, e.g. when that registration's peer has just called this node.
    pub fn revive(&self, circuit: &str) {
        settle(&self.breakers, circuit, true);
    }

    /// Sends a request and reads a JSON answer. 2xx and 404 are answers; anything else is an
    /// error. With a `circuit`, network failures and 5xx count against it.
    pub async fn call(
        &self,
        circuit: Option<&str>,
        method: Method,
        url: &str,
        assertion: Option<&str>,
        body: Option<&Value>,
    ) -> Result<(StatusCode, Value), CallError> {
        let parsed = reqwest::Url::parse(url).map_err(|_| CallError::Unreachable("not a URL".into()))?;
        self.check_address(&parsed)?;
        let admitted = circuit.map_or(Admitted::Call, |circuit| admit(&self.breakers, circuit));
        if matches!(admitted, Admitted::Skip) {
            return Err(CallError::CircuitOpen);
        }
        let mut request = self.http.request(method, parsed).header("accept", "application/json");
        if let Some(token) = assertion {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let Some(circuit) = circuit else { return answer(exchange(request).await) };
        let (breakers, circuit) = (self.breakers.clone(), circuit.to_owned());
        let settled = async move {
            let result = exchange(request).await;
            let failed = matches!(
                result,
                Err(CallError::Unreachable(_) | CallError::Refused(_) | CallError::AddressNotAllowed(_))
            );
            settle(&breakers, &circuit, !failed);
            result
        };
        if matches!(admitted, Admitted::Probe) {
            tokio::spawn(settled);
            return Err(CallError::CircuitOpen);
        }
        answer(settled.await)
    }
}

/// Sends `request` and reads its answer: the status, and the body as JSON (`Null` when empty),
/// at most `MAX_ANSWER_BYTES`; a 5xx is the peer refusing.
async fn exchange(request: reqwest::RequestBuilder) -> Result<(StatusCode, Value), CallError> {
    let mut response = request.send().await.map_err(|e| describe(&e))?;
    let status = response.status();
    let mut bytes = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| describe(&e))? {
        if bytes.len() + chunk.len() > MAX_ANSWER_BYTES {
            return Err(CallError::Unreadable);
        }
        bytes.extend_from_slice(&chunk);
    }
    if status.is_server_error() {
        return Err(CallError::Refused(status));
    }
    let value = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).map_err(|_| CallError::Unreadable)?
    };
    Ok((status, value))
}

/// 2xx and 404 are answers; anything else is an error.
fn answer(result: Result<(StatusCode, Value), CallError>) -> Result<(StatusCode, Value), CallError> {
    match result {
        Ok((status, value)) if status.is_success() || status == StatusCode::NOT_FOUND => Ok((status, value)),
        Ok((status, _)) => Err(CallError::Refused(status)),
        Err(error) => Err(error),
    }
}

/// A transport failure, for the log. The resolver's refusal of an address is kept as such.
fn describe(error: &reqwest::Error) -> CallError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(inner) = source {
        if let Some(CallError::AddressNotAllowed(host)) = inner.downcast_ref::<CallError>() {
            return CallError::AddressNotAllowed(host.clone());
        }
        source = inner.source();
    }
    CallError::Unreachable(
        if error.is_timeout() {
            "timed out"
        } else if error.is_connect() {
            "connection failed"
        } else {
            "request failed"
        }
        .into(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_addresses_are_public() {
        for private in [
            "127.0.0.1",
            "127.255.0.9",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "0.1.2.3",
            "100.64.0.1",
            "192.0.0.8",
            "198.18.0.1",
            "224.0.0.1",
            "240.0.0.1",
            "255.255.255.255",
            "192.0.2.1",
            "::1",
            "::",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "fec0::1",
            "ff02::1",
            "2001:db8::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "::127.0.0.1",
            "::ffff:0:10.0.0.1",
            "2002:7f00:1::1",
            "2002:c0a8:101::",
            "64:ff9b:1::8.8.8.8",
            "2001:0:4136:e378:8000:63bf:3fff:fdd2",
            "100::1",
        ] {
            assert!(!is_public(private.parse().expect("address")), "{private} is not public");
        }
        for public in [
            "8.8.8.8",
            "1.1.1.1",
            "172.32.0.1",
            "100.128.0.1",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
            "2002:0808:0808::1",
        ] {
            assert!(is_public(public.parse().expect("address")), "{public} is public");
        }
    }

    /// A port on loopback that nothing listens on: connections to it are refused at once.
    fn closed_port() -> u16 {
        std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("address").port()
    }

    #[tokio::test]
    async fn one_registrations_failures_never_open_another_registrations_circuit_at_the_same_url() {
        let client = PeerClient::new(true).expect("client");
        let url = format!("http://127.0.0.1:{}/federation/v1/administrations/AR/checkpoint", closed_port());
        for _ in 0..FAILURES_TO_OPEN {
            let failed = client.call(Some("CO/AR"), Method::GET, &url, None, None).await;
            assert!(matches!(failed, Err(CallError::Unreachable(_))), "{failed:?}");
        }
        let skipped = client.call(Some("CO/AR"), Method::GET, &url, None, None).await;
        assert!(matches!(skipped, Err(CallError::CircuitOpen)), "{skipped:?}");
        let other = client.call(Some("CL/AR"), Method::GET, &url, None, None).await;
        assert!(matches!(other, Err(CallError::Unreachable(_))), "CL's circuit is its own: {other:?}");
        client.revive("CO/AR");
        let revived = client.call(Some("CO/AR"), Method::GET, &url, None, None).await;
        assert!(matches!(revived, Err(CallError::Unreachable(_))), "{revived:?}");
    }

    /// Answers `{}` to every request on `port` of loopback, from a thread of its own.
    fn answer_on(port: u16) {
        let listener = std::net::TcpListener::bind(("127.0.0.1", port)).expect("bind the port again");
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { break };
                std::thread::spawn(move || {
                    use std::io::{Read, Write};
                    let mut head = [0u8; 4096];
                    while let Ok(read) = stream.read(&mut head) {
                        if read == 0 {
                            break;
                        }
                        let answer =
                            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}";
                        if stream.write_all(answer).is_err() {
                            break;
                        }
                    }
                });
            }
        });
    }

    #[tokio::test]
    async fn an_open_circuit_probes_in_the_background_and_closes_once_the_peer_is_back() {
        let client = PeerClient::new(true).expect("client");
        let port = closed_port();
        let url = format!("http://127.0.0.1:{port}/federation/v1/administrations/AR/checkpoint");
        let call = || client.call(Some("CL/AR"), Method::GET, &url, None, None);
        for _ in 0..FAILURES_TO_OPEN {
            assert!(matches!(call().await, Err(CallError::Unreachable(_))));
        }
        answer_on(port);
        // The peer is back, but nothing has proved it yet: the circuit stays open.
        assert!(matches!(call().await, Err(CallError::CircuitOpen)));
        tokio::time::sleep(PROBE_EVERY).await;
        // The probe goes out behind this call, which is not kept waiting for it...
        assert!(matches!(call().await, Err(CallError::CircuitOpen)));
        // ...and its answer closes the circuit.
        let started = Instant::now();
        loop {
            match call().await {
                Ok((status, _)) => break assert_eq!(status, StatusCode::OK),
                Err(CallError::CircuitOpen) if started.elapsed() < CALL_TIMEOUT => {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                other => panic!("the probe's answer did not close the circuit: {other:?}"),
            }
        }
    }

    #[tokio::test]
    async fn private_addresses_are_refused_by_name_and_by_literal_unless_allowed() {
        let port = closed_port();
        let strict = PeerClient::new(false).expect("client");
        for url in [
            format!("http://127.0.0.1:{port}/x"),
            format!("http://localhost:{port}/x"),
            format!("http://[::1]:{port}/x"),
            format!("http://169.254.169.254:{port}/x"),
        ] {
            let refused = strict.call(None, Method::GET, &url, None, None).await;
            assert!(matches!(refused, Err(CallError::AddressNotAllowed(_))), "{url}: {refused:?}");
            let parsed = reqwest::Url::parse(&url).expect("url");
            assert!(strict.check_host(&parsed).await.is_err(), "{url}");
        }
        let open = PeerClient::new(true).expect("client");
        let reached = open.call(None, Method::GET, &format!("http://localhost:{port}/x"), None, None).await;
        assert!(matches!(reached, Err(CallError::Unreachable(_))), "allowed, then refused by the port: {reached:?}");
    }
}
