//! No answer from memory once the database has gone quiet: caches hold users, administrations,
//! MRA records, peers and certificate summaries, and stand for what is committed only while
//! this process keeps catching up with the database. When it has not completed a round of
//! catching up within `store::timed::HEARD_WITHIN`, every request but liveness and readiness is
//! answered 503 with `Retry-After` at once, rather than from a memory that may be out of date
//! (a revoked certificate answered "active") or after waiting out a database deadline.

use std::sync::Arc;
use std::task::{Context, Poll};

use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use futures_util::future::Either;
use tower::Service;

use crate::error::ApiError;
use crate::store::Health;

/// The routes that answer whatever the database's state: they report it.
const ALWAYS: [&str; 2] = ["/health", "/ready"];

#[derive(Clone)]
pub struct DatabaseGate<S> {
    inner: S,
    health: Arc<Health>,
}

impl DatabaseGate<()> {
    pub fn layer(
        health: Arc<Health>,
    ) -> impl tower::Layer<axum::routing::Router, Service = DatabaseGate<axum::routing::Router>> + Clone {
        tower::layer::layer_fn(move |inner| DatabaseGate { inner, health: health.clone() })
    }
}

impl<S> Service<Request> for DatabaseGate<S>
where
    S: Service<Request, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = Either<S::Future, std::future::Ready<Result<Response, S::Error>>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        if self.health.heard_recently() || ALWAYS.contains(&request.uri().path()) {
            Either::Left(self.inner.call(request))
        } else {
            Either::Right(std::future::ready(Ok(ApiError::database_unavailable().into_response())))
        }
    }
}
