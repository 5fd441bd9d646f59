//! How every Flotilla listener serves HTTP, so that none can be held by clients that never
//! authenticate: a cap on open connections, a deadline for a request's headers
//! (slowloris), an idle timeout (a connection with no byte either way is closed), and the
//! process's file-descriptor limit raised at start. At the cap, a new connection takes the
//! place of the one that has been quiet longest (sockets opened and left idle go first; a
//! client in the middle of talking keeps its connection), and this is logged; only when
//! that does not free a slot in time is the new one refused. A request's body has its own
//! deadline where it is read (the gateway's body timeout).
#![forbid(unsafe_code)]

pub mod tls;

pub use rustls;

use std::collections::HashMap;
use std::future::Future;
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Notify, Semaphore};
use tokio::task::JoinSet;

/// What a listener allows one connection and all of them together.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Open connections at most; one more is closed at once (and logged).
    pub max_connections: usize,
    /// A request's headers must arrive in full within this long after its first byte.
    pub header_timeout: Duration,
    /// A connection on which no byte moved either way for this long is closed. Longer than
    /// the longest request the server holds on purpose (an agent's long poll).
    pub idle_timeout: Duration,
    /// How long shutdown waits for requests in progress.
    pub drain_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 4096,
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(75),
            drain_timeout: Duration::from_secs(30),
        }
    }
}

/// Serve `app` on `listener` within `limits` until `shutdown` resolves; then stop
/// accepting, let requests in progress finish (up to the drain timeout) and return. With
/// `tls`, every connection is TLS (its handshake within the header timeout).
pub async fn serve(
    listener: TcpListener,
    app: axum::Router,
    limits: Limits,
    tls: Option<Arc<rustls::ServerConfig>>,
    name: &'static str,
    shutdown: impl Future<Output = ()> + Send,
) -> std::io::Result<()> {
    let tls = tls.map(tokio_rustls::TlsAcceptor::from);
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let open = Arc::new(Open::default());
    let evicted = Throttled::new(
        name,
        "connection limit reached: closed the quietest connection",
    );
    let refused = Throttled::new(name, "connection refused: the connection limit is reached");
    let failed = Throttled::new(name, "accepting a connection failed");
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut connections = JoinSet::new();
    let mut shutdown = pin!(shutdown);
    let mut next_id = 0u64;
    loop {
        let accepted = tokio::select! {
            () = &mut shutdown => break,
            a = listener.accept() => a,
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(e) => {
                // Out of descriptors (EMFILE) or the like: back off instead of spinning.
                failed.warn(&e.to_string());
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let slot = match slots.clone().try_acquire_owned() {
            Ok(slot) => slot,
            Err(_) => {
                let quiet = open.kick_quietest();
                evicted.warn(&format!(
                    "{} open; quiet for {quiet:?}",
                    limits.max_connections
                ));
                let freed = tokio::time::timeout(EVICT_WAIT, slots.clone().acquire_owned());
                match freed.await {
                    Ok(Ok(slot)) => slot,
                    _ => {
                        refused.warn(&format!("{} open", limits.max_connections));
                        drop(stream);
                        continue;
                    }
                }
            }
        };
        let _ = stream.set_nodelay(true);
        next_id += 1;
        let watched = Watched::new(stream);
        let kick = open.add(next_id, &watched);
        let (app, stop, open, id) = (app.clone(), stop_rx.clone(), open.clone(), next_id);
        let tls = tls.clone();
        connections.spawn(async move {
            let activity = watched.activity.clone();
            match tls {
                None => connection(watched, activity, app, limits, stop, kick).await,
                Some(acceptor) => {
                    let handshake = acceptor.accept(watched);
                    if let Ok(Ok(stream)) =
                        tokio::time::timeout(limits.header_timeout, handshake).await
                    {
                        connection(stream, activity, app, limits, stop, kick).await;
                    }
                }
            }
            open.remove(id);
            drop(slot);
        });
    }
    drop(listener);
    let _ = stop_tx.send(true);
    let drained = async { while connections.join_next().await.is_some() {} };
    if tokio::time::timeout(limits.drain_timeout, drained)
        .await
        .is_err()
    {
        tracing::warn!(
            listener = name,
            left = connections.len(),
            "requests still in progress at shutdown were cut"
        );
        connections.abort_all();
    }
    Ok(())
}

/// Requests in progress on one HTTP/2 connection at most (an agent holds a long poll and a
/// few reports at a time).
const H2_MAX_STREAMS: u32 = 128;

/// Bytes of headers in one HTTP/2 request at most (decoded), as HTTP/1's read buffer bounds
/// them there.
const H2_MAX_HEADER_LIST: u32 = 64 * 1024;

/// How long a new connection at the cap waits for the connection it displaces to close.
const EVICT_WAIT: Duration = Duration::from_millis(500);

/// The open connections: when each last moved a byte, and how to close it.
#[derive(Default)]
struct Open {
    by_id: Mutex<HashMap<u64, OpenConnection>>,
}

/// A connection's activity, and the signal that closes it.
type OpenConnection = (Arc<Activity>, Arc<Notify>);

impl Open {
    fn add(&self, id: u64, io: &Watched) -> Arc<Notify> {
        let kick = Arc::new(Notify::new());
        let mut map = self.by_id.lock().unwrap_or_else(|e| e.into_inner());
        map.insert(id, (io.activity.clone(), kick.clone()));
        kick
    }

    fn remove(&self, id: u64) {
        let mut map = self.by_id.lock().unwrap_or_else(|e| e.into_inner());
        map.remove(&id);
    }

    /// Close the connection whose last byte moved longest ago; how long ago that was.
    fn kick_quietest(&self) -> Duration {
        let map = self.by_id.lock().unwrap_or_else(|e| e.into_inner());
        match map.values().max_by_key(|(activity, _)| activity.idle()) {
            Some((activity, kick)) => {
                kick.notify_one();
                activity.idle()
            }
            None => Duration::ZERO,
        }
    }
}

/// When a connection started and when (milliseconds after that) a byte last moved.
struct Activity {
    started: Instant,
    last: AtomicU64,
}

impl Activity {
    fn new() -> Arc<Activity> {
        Arc::new(Activity {
            started: Instant::now(),
            last: AtomicU64::new(0),
        })
    }

    /// A byte moved just now.
    fn touch(&self) {
        let ms = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last.store(ms, Ordering::Relaxed);
    }

    /// How long since a byte last moved.
    fn idle(&self) -> Duration {
        let last = Duration::from_millis(self.last.load(Ordering::Relaxed));
        self.started.elapsed().saturating_sub(last)
    }
}

/// One connection: HTTP/1.1 with keep-alive, or HTTP/2 (by ALPN over TLS, by its preface
/// in the clear: how agents keep every call on one connection); closed when idle, when
/// displaced at the cap, or when the server stops.
async fn connection<I>(
    io: I,
    activity: Arc<Activity>,
    app: axum::Router,
    limits: Limits,
    mut stop: watch::Receiver<bool>,
    kick: Arc<Notify>,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = TowerToHyperService::new(app);
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .keep_alive(true);
    // HTTP/2 has no header deadline of its own: a connection that sends nothing is closed
    // by the idle timeout, and one client's streams and headers are bounded here.
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(H2_MAX_STREAMS)
        .max_header_list_size(H2_MAX_HEADER_LIST)
        .max_pending_accept_reset_streams(H2_MAX_STREAMS as usize);
    let mut conn = pin!(builder.serve_connection(TokioIo::new(io), service));
    let tick = (limits.idle_timeout / 4).max(Duration::from_millis(100));
    let mut stopping = false;
    loop {
        tokio::select! {
            _ = conn.as_mut() => return,
            () = kick.notified() => return,
            _ = stop.wait_for(|s| *s), if !stopping => {
                stopping = true;
                conn.as_mut().graceful_shutdown();
            }
            () = tokio::time::sleep(tick) => {
                if activity.idle() >= limits.idle_timeout {
                    return;
                }
            }
        }
    }
}

pin_project_lite::pin_project! {
    /// A stream that notes when a byte last moved either way.
    struct Watched {
        #[pin]
        inner: TcpStream,
        activity: Arc<Activity>,
    }
}

impl Watched {
    fn new(inner: TcpStream) -> Self {
        Watched {
            inner,
            activity: Activity::new(),
        }
    }
}

impl AsyncRead for Watched {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.project();
        let before = buf.filled().len();
        let r = this.inner.poll_read(cx, buf);
        if buf.filled().len() > before {
            this.activity.touch();
        }
        r
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.project();
        let r = this.inner.poll_write(cx, buf);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            this.activity.touch();
        }
        r
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        self.project().inner.poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        self.project().inner.poll_shutdown(cx)
    }
}

/// A warning logged at most once per ten seconds, with how often it happened meanwhile.
struct Throttled {
    listener: &'static str,
    what: &'static str,
    state: Mutex<(Option<Instant>, u64)>,
}

impl Throttled {
    fn new(listener: &'static str, what: &'static str) -> Self {
        Throttled {
            listener,
            what,
            state: Mutex::new((None, 0)),
        }
    }

    fn warn(&self, detail: &str) {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        s.1 += 1;
        if s.0.is_some_and(|at| at.elapsed() < Duration::from_secs(10)) {
            return;
        }
        tracing::warn!(
            listener = self.listener,
            times = s.1,
            detail,
            "{}",
            self.what
        );
        *s = (Some(Instant::now()), 0);
    }
}

/// Raise this process's open-file limit to its hard limit, so that connections are refused
/// by the connection cap (and logged) rather than by the kernel. Answers the limit now in
/// force.
pub fn raise_fd_limit() -> std::io::Result<u64> {
    let (soft, hard) = rlimit::Resource::NOFILE.get()?;
    if soft < hard {
        rlimit::Resource::NOFILE.set(hard, hard)?;
        tracing::info!(from = soft, to = hard, "raised the open-file limit");
    }
    Ok(rlimit::Resource::NOFILE.get()?.0)
}

/// The connection cap a listener can keep under `fd_limit` descriptors, leaving room for
/// the store, the other listeners and outgoing connections.
pub fn connection_cap(wanted: usize, fd_limit: u64) -> usize {
    let room = usize::try_from(fd_limit.saturating_sub(256) / 2).unwrap_or(usize::MAX);
    wanted.min(room).max(16)
}

#[cfg(test)]
mod tests;
