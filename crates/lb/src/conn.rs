//! One client connection: TLS first on HTTPS listeners (within the header timeout, h2 when
//! ALPN chose it), then HTTP/1.1 with keep-alive or HTTP/2 (h2c with prior knowledge on
//! plain listeners). A request's headers must arrive within the header timeout; a
//! connection on which no byte moved for the load balancer's idle timeout, with no request
//! waiting for its target, is closed.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use flotilla_model::elbv2::ListenerProtocol;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::watch;

use crate::proxy::{self, Conn};
use crate::Shared;

/// A connection just accepted by a listener.
pub(crate) struct Accepted {
    pub shared: Arc<Shared>,
    pub listener: String,
    pub stream: TcpStream,
    pub peer: SocketAddr,
}

/// Which HTTP versions a connection speaks.
#[derive(Clone, Copy)]
enum Versions {
    Either,
    Http1,
    Http2,
}

/// Serve one connection until it ends, is idle too long, or `closing` turns true (then
/// finish the requests in progress).
pub(crate) async fn serve(accepted: Accepted, closing: watch::Receiver<bool>) {
    let Accepted {
        shared,
        listener,
        stream,
        peer,
    } = accepted;
    let Some(route) = shared.table().listeners.get(&listener).cloned() else {
        return;
    };
    // The load balancer's security groups: a client they do not admit is closed on at
    // once, before a byte is read.
    if !route.plane.admits(peer.ip()) {
        tracing::debug!(%listener, %peer, "closed: not admitted by the security groups");
        return;
    }
    let _open = route.traffic.connection();
    let _ = stream.set_nodelay(true);
    let activity = Arc::new(Activity::default());
    let io = Watched {
        inner: stream,
        activity: activity.clone(),
    };
    let header_timeout = shared.options.header_timeout;
    let conn = Arc::new(Conn::new(listener, peer, shared));
    let idle = route.lb.idle_timeout;
    match route.plane.protocol {
        ListenerProtocol::Http => http(io, conn, activity, idle, Versions::Either, closing).await,
        ListenerProtocol::Https => {
            let Some(tls) = route.tls.clone() else {
                return;
            };
            let acceptor = tokio_rustls::TlsAcceptor::from(tls);
            let Ok(Ok(stream)) = tokio::time::timeout(header_timeout, acceptor.accept(io)).await
            else {
                return;
            };
            let versions = match stream.get_ref().1.alpn_protocol() {
                Some(b"h2") => Versions::Http2,
                _ => Versions::Http1,
            };
            http(stream, conn, activity, idle, versions, closing).await;
        }
    }
}

async fn http<I>(
    io: I,
    conn: Arc<Conn>,
    activity: Arc<Activity>,
    idle: Duration,
    versions: Versions,
    mut closing: watch::Receiver<bool>,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(conn.shared.options.header_timeout)
        .keep_alive(true);
    builder.http2().timer(TokioTimer::new());
    let builder = match versions {
        Versions::Either => builder,
        Versions::Http1 => builder.http1_only(),
        Versions::Http2 => builder.http2_only(),
    };
    let service = {
        let activity = activity.clone();
        service_fn(move |req| {
            let conn = conn.clone();
            let activity = activity.clone();
            async move {
                // A request waiting for its target keeps the connection open: the
                // target's own timeout answers it with a 504.
                let _busy = Busy::new(&activity);
                Ok::<_, Infallible>(proxy::handle(req, &conn).await)
            }
        })
    };
    let mut connection = pin!(builder.serve_connection(TokioIo::new(io), service));
    let tick = (idle / 4).clamp(Duration::from_millis(100), Duration::from_secs(5));
    let mut stopping = false;
    let mut quiet = Duration::ZERO;
    let mut seen = activity.moved();
    loop {
        tokio::select! {
            _ = connection.as_mut() => return,
            () = crate::until_true(&mut closing), if !stopping => {
                stopping = true;
                connection.as_mut().graceful_shutdown();
            }
            () = tokio::time::sleep(tick) => {
                let moved = activity.moved();
                if moved != seen || activity.busy() {
                    seen = moved;
                    quiet = Duration::ZERO;
                } else {
                    quiet += tick;
                    if quiet >= idle {
                        return;
                    }
                }
            }
        }
    }
}

/// How many times bytes moved on a connection (counted, not timed: reading the clock on
/// every read and write costs more than the idle check needs; the check runs every tick
/// and sees whether the count changed), and how many requests await their target.
#[derive(Default)]
struct Activity {
    moved: AtomicU64,
    busy: AtomicUsize,
}

impl Activity {
    fn touch(&self) {
        self.moved.fetch_add(1, Ordering::Relaxed);
    }

    fn moved(&self) -> u64 {
        self.moved.load(Ordering::Relaxed)
    }

    /// A request is waiting for its target (the connection is then never idle).
    fn busy(&self) -> bool {
        self.busy.load(Ordering::SeqCst) > 0
    }
}

/// A request awaiting its answer, until dropped (also when the client gives up on it).
struct Busy<'a>(&'a Activity);

impl<'a> Busy<'a> {
    fn new(activity: &'a Activity) -> Self {
        activity.busy.fetch_add(1, Ordering::SeqCst);
        Busy(activity)
    }
}

impl Drop for Busy<'_> {
    fn drop(&mut self) {
        self.0.busy.fetch_sub(1, Ordering::SeqCst);
        self.0.touch();
    }
}

/// A TCP stream that notes when a byte last moved either way.
struct Watched {
    inner: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.touch();
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        polled
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
