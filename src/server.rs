//! The HTTP edge: accepting connections and serving HTTP/1.1 on them, with the limits that
//! keep one client from taking the node from everyone else.
//!
//! - **A deadline for every request head** (`header_read_timeout`): a client has that long to
//!   send a request's method, path and headers, counted from when the connection is ready for
//!   it, so an idle kept-alive connection or a half-sent head is closed rather than kept for good.
//! - **A cap on connections** (`max_connections`, never more than the files the process may
//!   open, less a reserve for the database and peers): past it a new connection is answered 503
//!   at once and closed, instead of the process running out of file descriptors and answering
//!   no one.
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
    pub header_read_timeout: Duration,
}

impl Limits {
    /// `max_connections`, lowered to what the process may open: an accept that fails for want of
    /// a file descriptor leaves the client waiting, and everyone after it.
    pub fn new(max_connections: u64, header_read_timeout: Duration) -> Self {
        let open_files = open_files_limit().map_or(max_connections, |limit| limit.saturating_sub(RESERVED_FILES));
        let max_connections = usize::try_from(max_connections.min(open_files).max(1)).unwrap_or(usize::MAX);
        Limits { max_connections, header_read_timeout }
    }
}

/// The soft limit on open files of this process, where the system tells it.
fn open_files_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|line| line.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
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
            tokio::spawn(refuse(stream));
            continue;
        };
        let _ = stream.set_nodelay(true);
        let service = router.clone().map_request(move |request: hyper::Request<Incoming>| {
            let mut request = request.map(Body::new);
            request.extensions_mut().insert(ConnectInfo(client));
            request
        });
        let connection = http.serve_connection(TokioIo::new(EdgeIo::new(stream)), TowerToHyperService::new(service));
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%client, %error, "connection ended with an error");
            }
            drop(slot);
        });
    }
    drop(listener);
    if tokio::time::timeout(drain, graceful.shutdown()).await.is_err() {
        tracing::warn!("connections still open after the drain time; closing them");
    }
    Ok(())
}

/// Answers a connection over the cap with 503 and closes it.
async fn refuse(mut stream: TcpStream) {
    let answer = problem_answer(503, "Service Unavailable", "the node is at its connection limit; try again shortly");
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        let _ = stream.write_all(&answer).await;
        let _ = stream.shutdown().await;
    })
    .await;
}

/// A whole HTTP/1.1 answer with a problem+json body and the headers every answer gets; the
/// connection closes after it.
fn problem_answer(status: u16, title: &str, detail: &str) -> Vec<u8> {
    let body =
        serde_json::json!({"type": "about:blank", "title": title, "status": status, "detail": detail}).to_string();
    let mut head = format!(
        "HTTP/1.1 {status} {title}\r\ncontent-type: {}\r\ncontent-length: {}\r\nconnection: close\r\n",
        crate::error::PROBLEM_JSON,
        body.len()
    );
    if status == 503 {
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
    let rest = head.strip_prefix(b"HTTP/1.1 ").or_else(|| head.strip_prefix(b"HTTP/1.0 "))?;
    let end = head.windows(4).position(|window| window == b"\r\n\r\n")?;
    let status: u16 = std::str::from_utf8(rest.get(..3)?).ok()?.parse().ok()?;
    if !(400..600).contains(&status) {
        return None;
    }
    let lower = head[..end].to_ascii_lowercase();
    if lower.windows(14).any(|window| window == b"\r\ncontent-type") {
        return None;
    }
    let (title, detail) = match status {
        414 => ("URI Too Long", "the request's path and query are too long"),
        431 => ("Request Header Fields Too Large", "the request's headers are too large"),
        _ => ("Bad Request", "the request could not be read: its method, path, version or a header is malformed"),
    };
    Some(problem_answer(status, title, detail))
}

/// The connection as hyper sees it: the socket, except that an answer hyper writes for a
/// request it could not parse is replaced by [`replacement_for`] on its way out.
struct EdgeIo {
    stream: TcpStream,
    /// A replacement being written, and how much of it has gone.
    replacing: Option<(Vec<u8>, usize)>,
}

impl EdgeIo {
    fn new(stream: TcpStream) -> Self {
        EdgeIo { stream, replacing: None }
    }

    /// Writes what is left of a replacement; ready once all of it has gone.
    fn drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while let Some((answer, written)) = &mut self.replacing {
            if *written == answer.len() {
                return Poll::Ready(Ok(()));
            }
            match Pin::new(&mut self.stream).poll_write(cx, &answer[*written..]) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => *written += n,
                Poll::Ready(Err(error)) => return Poll::Ready(Err(error)),
                Poll::Pending => return Poll::Pending,
            }
        }
        Poll::Ready(Ok(()))
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
        Pin::new(&mut self.stream).poll_write(cx, buf)
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
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
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
        assert!(replaced.ends_with(r#""status":414,"title":"URI Too Long","type":"about:blank"}"#), "{replaced}");
        let ours = b"HTTP/1.1 404 Not Found\r\ncontent-type: application/problem+json\r\ncontent-length: 2\r\n\r\n{}";
        assert!(replacement_for(ours).is_none());
        let success = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
        assert!(replacement_for(success).is_none());
        assert!(replacement_for(b"{\"items\": []}").is_none());
    }
}
