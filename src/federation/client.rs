//! Calls to peer nodes: short connect and total timeouts, no redirects, a size cap on answers,
//! and a circuit breaker per peer so that a dead or hanging peer costs the border officer
//! nothing after a few failures.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::Value;

/// Connect and total time allowed for one call.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(2);
/// Consecutive failures that open a peer's circuit, and how long it stays open.
const FAILURES_TO_OPEN: u32 = 3;
const OPEN_FOR: Duration = Duration::from_secs(10);
const MAX_ANSWER_BYTES: usize = 16 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error("peer unreachable: {0}")]
    Unreachable(String),
    #[error("peer answered {0}")]
    Refused(StatusCode),
    #[error("peer skipped: too many recent failures")]
    CircuitOpen,
    #[error("peer answered something unreadable")]
    Unreadable,
}

#[derive(Default)]
struct Breaker {
    failures: u32,
    open_until: Option<Instant>,
}

pub struct PeerClient {
    http: reqwest::Client,
    breakers: Mutex<HashMap<String, Breaker>>,
}

impl PeerClient {
    pub fn new() -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .connect_timeout(CALL_TIMEOUT)
            .timeout(CALL_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("aeo-registry/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(PeerClient { http, breakers: Mutex::new(HashMap::new()) })
    }

    fn breaker_key(url: &str) -> String {
        reqwest::Url::parse(url)
            .map(|u| {
                format!("{}://{}:{}", u.scheme(), u.host_str().unwrap_or(""), u.port_or_known_default().unwrap_or(0))
            })
            .unwrap_or_default()
    }

    fn admit(&self, key: &str) -> Result<(), CallError> {
        let breakers = self.breakers.lock().map_err(|_| CallError::CircuitOpen)?;
        match breakers.get(key).and_then(|b| b.open_until) {
            Some(until) if Instant::now() < until => Err(CallError::CircuitOpen),
            _ => Ok(()),
        }
    }

    fn settle(&self, key: &str, healthy: bool) {
        if let Ok(mut breakers) = self.breakers.lock() {
            let breaker = breakers.entry(key.to_owned()).or_default();
            if healthy {
                *breaker = Breaker::default();
            } else {
                breaker.failures += 1;
                if breaker.failures >= FAILURES_TO_OPEN {
                    breaker.open_until = Some(Instant::now() + OPEN_FOR);
                }
            }
        }
    }

    /// Closes the circuit of the peer at `url`, e.g. when that peer has just called this node.
    pub fn revive(&self, url: &str) {
        self.settle(&Self::breaker_key(url), true);
    }

    /// Sends a request and reads a JSON answer. 2xx and 404 are answers; anything else is an
    /// error. Network failures and 5xx count against the peer's circuit.
    pub async fn call(
        &self,
        method: Method,
        url: &str,
        assertion: Option<&str>,
        body: Option<&Value>,
    ) -> Result<(StatusCode, Value), CallError> {
        let key = Self::breaker_key(url);
        self.admit(&key)?;
        let mut request = self.http.request(method, url).header("accept", "application/json");
        if let Some(token) = assertion {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let result = async {
            let mut response = request.send().await.map_err(|e| CallError::Unreachable(describe(&e)))?;
            let status = response.status();
            let mut bytes = Vec::new();
            while let Some(chunk) = response.chunk().await.map_err(|e| CallError::Unreachable(describe(&e)))? {
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
        .await;
        self.settle(&key, !matches!(result, Err(CallError::Unreachable(_)) | Err(CallError::Refused(_))));
        match result {
            Ok((status, value)) if status.is_success() || status == StatusCode::NOT_FOUND => Ok((status, value)),
            Ok((status, _)) => Err(CallError::Refused(status)),
            Err(error) => Err(error),
        }
    }
}

fn describe(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        "timed out".into()
    } else if error.is_connect() {
        "connection failed".into()
    } else {
        "request failed".into()
    }
}
