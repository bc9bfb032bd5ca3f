//! The HTTP edge: accepting connections and serving HTTP/1.1 on them, with the limits that
//! keep one client from taking the node from everyone else.
//!
//! - **A deadline for every request head** (`header_read_timeout`): a client has that long to
//!   send a request's method, path and headers, counted from when the connection is ready for
//!   it, so an idle kept-alive connection or a half-sent head is closed rather than kept for good.
//! - **A cap on connections** (`max_connections`, never more than the files the process may
//!   open, less a reserve for the database and peers, and a quarter of it per client): past it a
//!   new connection is answered 503 at once and closed, instead of the process running out of
//!   file descriptors and answering no one.
//! - **A deadline for every write** (the same `header_read_timeout`): a client that stops taking
//!   its answer loses its connection.
//! - **hyper's own answers are problem+json.** hyper answers a request head it cannot parse (a
//!   path over 64 KiB, an invalid header value, headers too large) itself, with an empty body,
//!   before any of our code runs, and offers no hook to change that answer. [`EdgeIo`] sits
//!   between hyper and the socket and puts our problem+json answer, with the headers every
//!   answer gets, in place of hyper's. Written here by hand because no crate does it.
//!
//! Written by hand rather than `axum::serve`, which offers neither a timer for the head deadline
//! nor a connection cap.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::StatusCode;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tower::ServiceExt;

use crate::api::SECURITY_HEADERS;

/// File descriptors kept for the database pool, peers, logs and files.
const RESERVED_FILES: u64 = 64;

/// The limits of the edge.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_connections: usize,
    /// Connections one client (an address, or an IPv6 /64) may hold at once.
    pub max_per_client: usize,
    /// For a request's head, and for a write the client does not take.
    pub header_read_timeout: Duration,
}

impl Limits {
    /// `max_connections`, lowered to what the process may open: an accept that fails for want of
    /// a file descriptor leaves the client waiting, and everyone after it.
    pub fn new(max_connections: u64, header_read_timeout: Duration) -> Self {
        let open_files = open_files_limit().map_or(max_connections, |limit| limit.saturating_sub(RESERVED_FILES));
        let max_connections = usize::try_from(max_connections.min(open_files).max(1)).unwrap_or(usize::MAX);
        Limits { max_connections, max_per_client: (max_connections / 4).max(1), header_read_timeout }
    }
}

/// The soft limit on open files of this process.
fn open_files_limit() -> Option<u64> {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit writes the limit into the struct it is given.
    (unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } == 0).then_some(limit.rlim_cur)
}

/// Connections held per client; a [`Held`] gives its place back when the connection ends.
#[derive(Default)]
struct PerClient {
    counts: std::sync::Mutex<std::collections::HashMap<std::net::IpAddr, usize>>,
}

struct Held {
    clients: Arc<PerClient>,
    client: std::net::IpAddr,
}

impl PerClient {
    fn hold(self: &Arc<Self>, client: std::net::IpAddr, most: usize) -> Option<Held> {
        let mut counts = self.counts.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let count = counts.entry(client).or_default();
        if *count >= most {
            return None;
        }
        *count += 1;
        Some(Held { clients: self.clone(), client })
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        let mut counts = self.clients.counts.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(count) = counts.get_mut(&self.client) {
            *count -= 1;
            if *count == 0 {
                counts.remove(&self.client);
            }
        }
    }
}

/// Serves `router` on `listener` until `shutdown` completes, then lets the connections finish
/// what they are doing (for at most `drain`).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
    drain: Duration,
) -> io::Result<()> {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let per_client = Arc::new(PerClient::default());
    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new()).header_read_timeout(limits.header_read_timeout);
    tracing::info!(max_connections = limits.max_connections, ?limits.header_read_timeout, "accepting connections");
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, client) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors, or the client gave up: wait a little, go on.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            tokio::spawn(refuse(stream, "the node is at its connection limit; try again shortly"));
            continue;
        };
        let Some(held) = per_client.hold(crate::auth::throttle::client_of(client.ip()), limits.max_per_client) else {
            tokio::spawn(refuse(stream, "this client holds as many connections as it may; reuse or close one"));
            continue;
        };
        let _ = stream.set_nodelay(true);
        let service = router.clone().map_request(move |request: hyper::Request<Incoming>| {
            let mut request = request.map(Body::new);
            request.extensions_mut().insert(ConnectInfo(client));
            request
        });
        let io = EdgeIo::new(stream, limits.header_read_timeout);
        let connection = graceful.watch(http.serve_connection(TokioIo::new(io), TowerToHyperService::new(service)));
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%client, %error, "connection ended with an error");
            }
            drop((slot, held));
        });
    }
    drop(listener);
    if tokio::time::timeout(drain, graceful.shutdown()).await.is_err() {
        tracing::warn!("connections still open after the drain time; closing them");
    }
    Ok(())
}

/// Answers a connection over a cap with 503 and closes it, reading what the client sent
/// meanwhile: closing with unread bytes would reset the connection before the answer is read.
async fn refuse(mut stream: TcpStream, detail: &str) {
    let answer = problem_answer(StatusCode::SERVICE_UNAVAILABLE, detail);
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        let _ = stream.write_all(&answer).await;
        let _ = stream.shutdown().await;
        let mut sink = [0u8; 4096];
        while matches!(tokio::io::AsyncReadExt::read(&mut stream, &mut sink).await, Ok(n) if n > 0) {}
    })
    .await;
}

/// A whole HTTP/1.1 answer with a problem+json body and the headers every answer gets; the
/// connection closes after it.
fn problem_answer(status: StatusCode, detail: &str) -> Vec<u8> {
    let body = serde_json::to_string(&crate::error::Problem::new(status, detail)).unwrap_or_default();
    let mut head = format!(
        "HTTP/1.1 {} {}\r\ncontent-type: {}\r\ncontent-length: {}\r\nconnection: close\r\n",
        status.as_u16(),
        status.canonical_reason().unwrap_or_default(),
        crate::error::PROBLEM_JSON,
        body.len()
    );
    if status == StatusCode::SERVICE_UNAVAILABLE {
        head.push_str("retry-after: 1\r\n");
    }
    for (name, value) in SECURITY_HEADERS {
        head.push_str(&format!("{name}: {}\r\n", value.to_str().unwrap_or_default()));
    }
    head.push_str("\r\n");
    let mut answer = head.into_bytes();
    answer.extend_from_slice(body.as_bytes());
    answer
}

/// The answer to put in place of the head hyper wrote for a request it could not parse: a
/// client or server error with no `content-type`, which our own answers always have.
fn replacement_for(head: &[u8]) -> Option<Vec<u8>> {
    // hyper answers 400, 414 or 431 itself (`on_error` in its HTTP/1 server role).
    let rest = head.strip_prefix(b"HTTP/1.1 ").or_else(|| head.strip_prefix(b"HTTP/1.0 "))?;
    let status = match rest.get(..4)? {
        b"400 " => StatusCode::BAD_REQUEST,
        b"414 " => StatusCode::URI_TOO_LONG,
        b"431 " => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        _ => return None,
    };
    let end = head.windows(4).position(|window| window == b"\r\n\r\n")?;
    let lower = head[..end].to_ascii_lowercase();
    if lower.windows(14).any(|window| window == b"\r\ncontent-type") {
        return None;
    }
    let detail = match status {
        StatusCode::URI_TOO_LONG => "the request's path and query are too long",
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE => "the request's headers are too large",
        _ => "the request could not be read: its method, path, version or a header is malformed",
    };
    Some(problem_answer(status, detail))
}

/// The connection as hyper sees it: the socket, except that an answer hyper writes for a
/// request it could not parse is replaced by [`replacement_for`] on its way out, and that a
/// write the client does not take within the deadline ends the connection (a client that never
/// reads its answers would otherwise hold its connection for good).
struct EdgeIo {
    stream: TcpStream,
    /// A replacement being written, and how much of it has gone.
    replacing: Option<(Vec<u8>, usize)>,
    write_deadline: Duration,
    /// Running while a write waits for the client.
    stalled: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl EdgeIo {
    fn new(stream: TcpStream, write_deadline: Duration) -> Self {
        EdgeIo { stream, replacing: None, write_deadline, stalled: None }
    }

    /// Passes on the outcome of a write, timing how long it has been waiting for the client.
    fn timed<T>(&mut self, cx: &mut Context<'_>, outcome: Poll<io::Result<T>>) -> Poll<io::Result<T>> {
        if outcome.is_ready() {
            self.stalled = None;
            return outcome;
        }
        let deadline = self.write_deadline;
        let stalled = self.stalled.get_or_insert_with(|| Box::pin(tokio::time::sleep(deadline)));
        match stalled.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(io::Error::new(io::ErrorKind::TimedOut, "the client takes no answer"))),
            Poll::Pending => Poll::Pending,
        }
    }

    /// Writes what is left of a replacement; ready once all of it has gone.
    fn drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        loop {
            let Some((answer, written)) = &self.replacing else { return Poll::Ready(Ok(())) };
            if *written == answer.len() {
                return Poll::Ready(Ok(()));
            }
            let outcome = Pin::new(&mut self.stream).poll_write(cx, &answer[*written..]);
            match self.timed(cx, outcome) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => {
                    if let Some((_, written)) = &mut self.replacing {
                        *written += n;
                    }
                }
                Poll::Ready(Err(error)) => return Poll::Ready(Err(error)),
                Poll::Pending => return Poll::Pending,
            }
        }
    }

    /// `Some(len)` when `first` (the first bytes of a write) is one of hyper's own error heads:
    /// it is taken whole, and the replacement goes out instead.
    fn intercept(&mut self, first: &[u8]) -> Option<usize> {
        if self.replacing.is_some() {
            // Anything hyper writes after its error answer goes nowhere: the answer is ours.
            return Some(first.len());
        }
        let answer = replacement_for(first)?;
        self.replacing = Some((answer, 0));
        Some(first.len())
    }
}

impl AsyncRead for EdgeIo {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for EdgeIo {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        if let Some(taken) = self.intercept(buf) {
            return self.drain(cx).map_ok(|()| taken);
        }
        let outcome = Pin::new(&mut self.stream).poll_write(cx, buf);
        self.timed(cx, outcome)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let first = bufs.iter().find(|slice| !slice.is_empty()).map_or(&[][..], |slice| &slice[..]);
        if let Some(taken) = self.intercept(first) {
            return self.drain(cx).map_ok(|()| taken);
        }
        let outcome = Pin::new(&mut self.stream).poll_write_vectored(cx, bufs);
        self.timed(cx, outcome)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        std::task::ready!(self.drain(cx))?;
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        std::task::ready!(self.drain(cx))?;
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_hypers_own_error_heads_are_replaced() {
        let hyper_414 =
            b"HTTP/1.1 414 URI Too Long\r\ncontent-length: 0\r\ndate: Tue, 01 Dec 2026 10:00:00 GMT\r\n\r\n";
        let replaced = String::from_utf8(replacement_for(hyper_414).expect("replaced")).expect("text");
        assert!(replaced.starts_with("HTTP/1.1 414 URI Too Long\r\n"), "{replaced}");
        assert!(replaced.contains("content-type: application/problem+json\r\n"), "{replaced}");
        assert!(
            replaced.contains(r#"{"type":"about:blank","title":"URI Too Long","status":414,"detail":"#),
            "{replaced}"
        );
        let internal = b"HTTP/1.1 500 Internal Server Error\r\ncontent-length: 0\r\n\r\n";
        assert!(replacement_for(internal).is_none(), "hyper makes no 500 of its own");
        let ours = b"HTTP/1.1 404 Not Found\r\ncontent-type: application/problem+json\r\ncontent-length: 2\r\n\r\n{}";
        assert!(replacement_for(ours).is_none());
        let success = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
        assert!(replacement_for(success).is_none());
        assert!(replacement_for(b"{\"items\": []}").is_none());
    }
}
