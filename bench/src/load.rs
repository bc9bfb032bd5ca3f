//! The load generator: C keep-alive HTTP/1.1 connections (hyper's client connection over a
//! `TcpStream`), each sending one request after another for a fixed time after a warm-up.
//! Latency is recorded per request in microseconds; any status but 200, or a body that lacks an
//! expected fragment, is a wrong answer.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Empty};
use hyper::Request;
use hyper::header::{HOST, HeaderName, HeaderValue};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// One request to send: its path and query, and its credential if any.
pub struct Req {
    pub path: String,
    /// The request's credential: a header (`authorization`, or `cookie` for a page) and its value.
    pub auth: Option<(HeaderName, HeaderValue)>,
}

/// Makes the next request; `None` when there is nothing left to send (e.g. tokens used up).
pub type Generator = Arc<dyn Fn(&mut Rng) -> Option<Req> + Send + Sync>;

pub struct Load {
    pub address: SocketAddr,
    pub concurrency: usize,
    pub warmup: Duration,
    pub duration: Duration,
    pub generator: Generator,
    /// Every one of these must appear in every 200 body.
    pub expect: Vec<String>,
}

#[derive(Debug, Clone, Default)]
pub struct Measured {
    pub requests: u64,
    pub errors: u64,
    pub rps: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub first_error: Option<String>,
    /// The generator ran out before the time was up; `rps` is over the time actually used.
    pub ran_out: bool,
    /// The time measured, and every latency (µs): what [`Measured::merge`] adds up.
    pub window: Duration,
    pub histogram: Option<Histogram<u64>>,
}

impl Measured {
    /// Several measurements of the same thing taken apart in time, as one.
    pub fn merge(parts: Vec<Measured>) -> anyhow::Result<Measured> {
        let mut histogram = Histogram::<u64>::new_with_bounds(1, 120_000_000, 3)?;
        let mut merged = Measured::default();
        for part in parts {
            if let Some(part_histogram) = &part.histogram {
                histogram.add(part_histogram)?;
            }
            merged.errors += part.errors;
            merged.ran_out |= part.ran_out;
            merged.window += part.window;
            merged.first_error = merged.first_error.or(part.first_error);
        }
        merged.requests = histogram.len();
        merged.rps = merged.requests as f64 / merged.window.as_secs_f64().max(1e-6);
        merged.p50_ms = histogram.value_at_quantile(0.50) as f64 / 1000.0;
        merged.p99_ms = histogram.value_at_quantile(0.99) as f64 / 1000.0;
        merged.histogram = Some(histogram);
        Ok(merged)
    }
}

/// xorshift64*: cheap and good enough to pick certificate numbers.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}

struct ConnectionResult {
    histogram: Histogram<u64>,
    errors: u64,
    first_error: Option<String>,
    ran_out: bool,
}

pub async fn run(load: Load) -> anyhow::Result<Measured> {
    let start = Instant::now();
    let measure_from = start + load.warmup;
    let end = measure_from + load.duration;
    let expect = Arc::new(load.expect);
    let last_done = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::with_capacity(load.concurrency);
    for index in 0..load.concurrency {
        let generator = load.generator.clone();
        let expect = expect.clone();
        let last_done = last_done.clone();
        let address = load.address;
        tasks.push(tokio::spawn(async move {
            connection(index, address, generator, &expect, measure_from, end, &last_done).await
        }));
    }
    let mut histogram = Histogram::<u64>::new_with_bounds(1, 120_000_000, 3)?;
    let mut measured = Measured::default();
    for task in tasks {
        let result = task.await?;
        histogram.add(&result.histogram)?;
        measured.errors += result.errors;
        measured.ran_out |= result.ran_out;
        if measured.first_error.is_none() {
            measured.first_error = result.first_error;
        }
    }
    measured.requests = histogram.len();
    let window = if measured.ran_out {
        Duration::from_micros(last_done.load(Ordering::Relaxed)).max(Duration::from_millis(1))
    } else {
        load.duration
    };
    measured.rps = measured.requests as f64 / window.as_secs_f64();
    measured.p50_ms = histogram.value_at_quantile(0.50) as f64 / 1000.0;
    measured.p99_ms = histogram.value_at_quantile(0.99) as f64 / 1000.0;
    measured.window = window;
    measured.histogram = Some(histogram);
    Ok(measured)
}

async fn connection(
    index: usize,
    address: SocketAddr,
    generator: Generator,
    expect: &[String],
    measure_from: Instant,
    end: Instant,
    last_done: &AtomicU64,
) -> ConnectionResult {
    let mut result = ConnectionResult {
        histogram: Histogram::new_with_bounds(1, 120_000_000, 3).expect("histogram bounds"),
        errors: 0,
        first_error: None,
        ran_out: false,
    };
    let seed = (index as u64 + 1) ^ u64::from(std::process::id()) << 20 ^ measure_from.elapsed().as_nanos() as u64;
    let mut rng = Rng::new(seed);
    let host = HeaderValue::from_str(&address.to_string()).expect("host header");
    let fail = |result: &mut ConnectionResult, counted: bool, message: String| {
        if counted {
            result.errors += 1;
            if result.first_error.is_none() {
                result.first_error = Some(message);
            }
        }
    };
    'connect: while Instant::now() < end {
        let stream = match TcpStream::connect(address).await {
            Ok(stream) => stream,
            Err(error) => {
                fail(&mut result, Instant::now() >= measure_from, format!("connect: {error}"));
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let (mut sender, conn) = match hyper::client::conn::http1::handshake(TokioIo::new(stream)).await {
            Ok(pair) => pair,
            Err(error) => {
                fail(&mut result, Instant::now() >= measure_from, format!("handshake: {error}"));
                continue;
            }
        };
        tokio::spawn(conn);
        while Instant::now() < end {
            let Some(next) = generator(&mut rng) else {
                result.ran_out = true;
                break 'connect;
            };
            let mut builder = Request::get(next.path.as_str()).header(HOST, host.clone());
            if let Some((name, value)) = next.auth {
                builder = builder.header(name, value);
            }
            let request = builder.body(Empty::<Bytes>::new()).expect("request");
            if sender.ready().await.is_err() {
                continue 'connect;
            }
            let sent = Instant::now();
            let outcome = async {
                let response = sender.send_request(request).await?;
                let status = response.status();
                let body = response.into_body().collect().await?.to_bytes();
                Ok::<_, hyper::Error>((status, body))
            }
            .await;
            let done = Instant::now();
            let counted = sent >= measure_from && done <= end;
            match outcome {
                Ok((status, body)) => {
                    if counted {
                        let micros = u64::try_from(done.duration_since(sent).as_micros()).unwrap_or(u64::MAX).max(1);
                        result.histogram.saturating_record(micros);
                        last_done.fetch_max(
                            u64::try_from(done.duration_since(measure_from).as_micros()).unwrap_or(0),
                            Ordering::Relaxed,
                        );
                    }
                    let missing = expect.iter().find(|fragment| !contains(&body, fragment.as_bytes()));
                    if status != 200 || missing.is_some() {
                        // Wrong answers count in the warm-up too: correctness is not sampled.
                        let text = String::from_utf8_lossy(&body[..body.len().min(1000)]).into_owned();
                        let why = match missing {
                            Some(fragment) if status == 200 => format!("lacks {fragment}"),
                            _ => format!("status {status}"),
                        };
                        fail(&mut result, true, format!("GET {}: {why}: {text}", next.path));
                    }
                }
                Err(error) => {
                    fail(&mut result, true, format!("GET {}: {error}", next.path));
                    continue 'connect;
                }
            }
        }
    }
    result
}

/// Whether `needle` is in `haystack`: a vectorised search, so that checking a page-sized answer
/// costs the load generator little of the CPU it shares with the server.
fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    memchr::memmem::find(haystack, needle).is_some()
}
