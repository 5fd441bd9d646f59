//! Connections to targets: HTTP/1.1 over TCP, or over TLS for HTTPS groups, each driven by
//! a task on the thread that opened it. Open connections wait between requests in a pool
//! per target and per worker thread, so a request and the connection carrying it run on
//! the same thread without a lock shared with the others. A pooled connection the target
//! has closed is skipped; a request that could not be written on a pooled connection is
//! sent on the next one, or on a new one.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use flotilla_model::elbv2::TargetGroupProtocol;
use http::{Request, Response};
use hyper::body::Incoming;
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use tokio::net::TcpStream;
use tokio::time::Instant;

use crate::body::OutBody;

/// The sending half of one open connection to a target.
pub(crate) type Sender = http1::SendRequest<OutBody>;

/// How long an unused connection to a target stays in the pool.
const POOL_IDLE: Duration = Duration::from_secs(30);

/// Unused connections kept per target and worker at most.
const MAX_IDLE: usize = 512;

/// Why a request could not get an answer from a target.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Failure {
    /// Connecting took longer than the connect timeout.
    #[error("connecting to the target timed out")]
    ConnectTimeout,
    /// The target refused or reset the connection, or the TLS handshake failed.
    #[error("connecting to the target failed: {0}")]
    Connect(#[source] std::io::Error),
    /// The connection failed while the request was sent or its answer read, or the answer
    /// was not HTTP.
    #[error("the target's answer failed: {0}")]
    Http(#[from] hyper::Error),
}

/// Opens connections to targets.
pub(crate) struct Dialer {
    connect_timeout: Duration,
    tls: tokio_rustls::TlsConnector,
}

impl Dialer {
    pub(crate) fn new(connect_timeout: Duration) -> Self {
        Dialer {
            connect_timeout,
            tls: tokio_rustls::TlsConnector::from(Arc::new(crate::tls::target_client_config())),
        }
    }

    /// A new connection to `addr`, its driving task spawned on the current runtime.
    pub(crate) async fn dial(
        &self,
        addr: SocketAddr,
        protocol: TargetGroupProtocol,
    ) -> Result<Sender, Failure> {
        let connect = async {
            let stream = TcpStream::connect(addr).await?;
            stream.set_nodelay(true)?;
            Ok::<_, std::io::Error>(stream)
        };
        let stream = match tokio::time::timeout(self.connect_timeout, connect).await {
            Err(_) => return Err(Failure::ConnectTimeout),
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::TimedOut => {
                return Err(Failure::ConnectTimeout)
            }
            Ok(Err(e)) => return Err(Failure::Connect(e)),
            Ok(Ok(stream)) => stream,
        };
        match protocol {
            TargetGroupProtocol::Http => handshake(stream).await,
            TargetGroupProtocol::Https => {
                let name = ServerName::IpAddress(addr.ip().into());
                let tls = self.tls.connect(name, stream);
                match tokio::time::timeout(self.connect_timeout, tls).await {
                    Err(_) => Err(Failure::ConnectTimeout),
                    Ok(Err(e)) => Err(Failure::Connect(e)),
                    Ok(Ok(stream)) => handshake(stream).await,
                }
            }
        }
    }
}

/// Start HTTP/1.1 on an open stream: the connection runs in its own task until the target
/// closes it or every sender is dropped.
async fn handshake<S>(stream: S) -> Result<Sender, Failure>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (sender, connection) = http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!(error = %e, "connection to a target ended");
        }
    });
    Ok(sender)
}

/// The unused open connections to one target on one worker, newest last.
#[derive(Default)]
pub(crate) struct Pool {
    idle: Mutex<VecDeque<(Sender, Instant)>>,
}

impl Pool {
    /// The most recently used connection still open, if any.
    fn take(&self) -> Option<Sender> {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        while let Some((sender, since)) = idle.pop_back() {
            if !sender.is_closed() && since.elapsed() < POOL_IDLE {
                return Some(sender);
            }
        }
        None
    }

    /// Keep a connection whose last exchange ended cleanly for the next request; the ones
    /// unused for too long are closed.
    pub(crate) fn put(&self, sender: Sender) {
        if sender.is_closed() {
            return;
        }
        let now = Instant::now();
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        while idle
            .front()
            .is_some_and(|(s, since)| s.is_closed() || now.duration_since(*since) >= POOL_IDLE)
        {
            idle.pop_front();
        }
        if idle.len() < MAX_IDLE {
            idle.push_back((sender, now));
        }
    }

    /// Close every unused connection.
    pub(crate) fn clear(&self) {
        self.idle.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }

    /// Send `request` on a pooled connection, or on a new one when none is open or the
    /// pooled ones turn out closed before the request went out. Answers with the response
    /// and the connection, to be put back once the response's body has been read.
    pub(crate) async fn send(
        &self,
        dialer: &Dialer,
        addr: SocketAddr,
        protocol: TargetGroupProtocol,
        mut request: Request<OutBody>,
    ) -> Result<(Response<Incoming>, Sender), Failure> {
        while let Some(mut sender) = self.take() {
            if sender.ready().await.is_err() {
                continue;
            }
            match sender.try_send_request(request).await {
                Ok(response) => return Ok((response, sender)),
                Err(mut e) => match e.take_message() {
                    Some(unsent) => request = unsent,
                    None => return Err(Failure::Http(e.into_error())),
                },
            }
        }
        // Boxed: a TLS handshake's state is large, and the request's future (moved on every
        // request) would otherwise carry room for it.
        let mut sender = Box::pin(dialer.dial(addr, protocol)).await?;
        sender.ready().await?;
        let response = sender.send_request(request).await?;
        Ok((response, sender))
    }
}
