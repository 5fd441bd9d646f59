//! The body of every response the balancer sends: a small one it made itself, or a
//! target's, streamed while it holds the target's in-flight count and stops when the
//! target's drain deadline cuts it. Once a target's body has been read to its end, the
//! connection it came on goes back to the pool for the next request.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::{Body, Frame, Incoming, SizeHint};

use crate::targets::InFlight;
use crate::upstream::Sender;

/// What a body stream can fail with.
pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A future that resolves when in-flight requests on a target must be cut.
pub(crate) type Cut = Pin<Box<dyn Future<Output = ()> + Send>>;

/// A response body.
pub(crate) struct LbBody {
    inner: Inner,
}

enum Inner {
    Full(Option<Bytes>),
    Upstream {
        body: Incoming,
        /// Released when the body ends or is dropped.
        in_flight: Option<InFlight>,
        cut: Cut,
        /// The connection the body comes on, until the body has ended.
        connection: Option<Sender>,
        /// The body has been read to its end.
        ended: bool,
    },
}

impl LbBody {
    pub(crate) fn full(bytes: impl Into<Bytes>) -> Self {
        let bytes = bytes.into();
        LbBody {
            inner: Inner::Full((!bytes.is_empty()).then_some(bytes)),
        }
    }

    /// A target's body, counted as in flight on it until it ends; `connection` is pooled
    /// again once the body has been read to its end.
    pub(crate) fn upstream(
        body: Incoming,
        in_flight: InFlight,
        cut: Cut,
        connection: Sender,
    ) -> Self {
        LbBody {
            inner: Inner::Upstream {
                body,
                in_flight: Some(in_flight),
                cut,
                connection: Some(connection),
                ended: false,
            },
        }
    }
}

/// The drain deadline passed while the body was being sent.
#[derive(Debug, thiserror::Error)]
#[error("the target's deregistration delay ended while the response was sent")]
pub(crate) struct CutError;

impl Body for LbBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match &mut self.get_mut().inner {
            Inner::Full(bytes) => Poll::Ready(bytes.take().map(|b| Ok(Frame::data(b)))),
            Inner::Upstream {
                body,
                in_flight,
                cut,
                connection,
                ended,
            } => {
                if in_flight.is_some() && cut.as_mut().poll(cx).is_ready() {
                    in_flight.take();
                    connection.take();
                    return Poll::Ready(Some(Err(Box::new(CutError))));
                }
                let polled = Pin::new(body).poll_frame(cx);
                match &polled {
                    Poll::Ready(None) => {
                        *ended = true;
                        release(in_flight, connection);
                    }
                    Poll::Ready(Some(Err(_))) => {
                        in_flight.take();
                        connection.take();
                    }
                    _ => {}
                }
                polled.map_err(Into::into)
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.inner {
            Inner::Full(bytes) => bytes.is_none(),
            Inner::Upstream { body, .. } => body.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.inner {
            Inner::Full(bytes) => {
                SizeHint::with_exact(bytes.as_ref().map_or(0, |b| b.len() as u64))
            }
            Inner::Upstream { body, .. } => body.size_hint(),
        }
    }
}

impl Drop for LbBody {
    /// A body with nothing left to read (as after a HEAD, or when the server sends none)
    /// still returns its connection to the pool.
    fn drop(&mut self) {
        if let Inner::Upstream {
            body,
            in_flight,
            connection,
            ended,
            ..
        } = &mut self.inner
        {
            if *ended || body.is_end_stream() {
                release(in_flight, connection);
            }
        }
    }
}

/// The exchange with the target is over: the connection goes back to the pool of the
/// target, then the request stops counting as in flight.
fn release(in_flight: &mut Option<InFlight>, connection: &mut Option<Sender>) {
    if let (Some(sender), Some(flight)) = (connection.take(), in_flight.as_ref()) {
        flight.runtime().pool().put(sender);
    }
    in_flight.take();
}

/// A request body as sent to a target: the client's, or none (health checks).
pub(crate) type OutBody = http_body_util::combinators::BoxBody<Bytes, hyper::Error>;

pub(crate) fn out_body(body: Incoming) -> OutBody {
    body.boxed()
}

pub(crate) fn out_empty() -> OutBody {
    http_body_util::Empty::new()
        .map_err(|never| match never {})
        .boxed()
}
