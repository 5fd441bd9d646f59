//! DNS over TCP (RFC 7766): length-prefixed messages on a connection, answered in order.
//!
//! The plane runs its own accept loop, bounded: at most [`crate::Options::max_tcp_connections`] at once (one more is
//! closed as soon as it is accepted), each closed after
//! [`crate::Options::tcp_idle_timeout`] without a complete message, or when a message
//! gets no reply at all (not even a header could be read). Messages go through the same
//! [`Handler`] as UDP.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;
use tokio::time::timeout;

use crate::handler::{Handler, Transport};

/// Accept connections on `listener` until `stop` is true, then close them all.
pub(crate) async fn run(
    listener: TcpListener,
    handler: Handler,
    idle: Duration,
    max_connections: usize,
    mut stop: watch::Receiver<bool>,
) {
    let slots = Arc::new(Semaphore::new(max_connections.max(1)));
    let mut connections = JoinSet::new();
    let mut refused: u64 = 0;
    loop {
        tokio::select! {
            () = crate::until_true(&mut stop) => break,
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        // Out of descriptors or the like: back off rather than spin.
                        tracing::debug!(error = %e, "DNS TCP accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let Ok(slot) = slots.clone().try_acquire_owned() else {
                    if refused & 0x3ff == 0 {
                        tracing::warn!(cap = max_connections, refused = refused + 1, "DNS TCP connection closed: the connection cap is reached");
                    }
                    refused += 1;
                    drop(stream);
                    continue;
                };
                let handler = handler.clone();
                connections.spawn(async move {
                    serve(stream, peer, &handler, idle).await;
                    drop(slot);
                });
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    drop(listener);
    connections.shutdown().await;
}

/// Answer the messages of one connection in order until it closes, idles or errs.
async fn serve(mut stream: TcpStream, peer: SocketAddr, handler: &Handler, idle: Duration) {
    let _ = stream.set_nodelay(true);
    loop {
        let mut len = [0u8; 2];
        if !matches!(timeout(idle, stream.read_exact(&mut len)).await, Ok(Ok(_))) {
            return;
        }
        let mut message = vec![0u8; usize::from(u16::from_be_bytes(len))];
        if !matches!(
            timeout(idle, stream.read_exact(&mut message)).await,
            Ok(Ok(_))
        ) {
            return;
        }
        let Some(reply) = handler.answer(&message, peer, Transport::Tcp).await else {
            tracing::debug!(%peer, "closing a DNS TCP connection that sent an unreadable message");
            return;
        };
        let Ok(reply_len) = u16::try_from(reply.len()) else {
            return;
        };
        let mut framed = Vec::with_capacity(reply.len() + 2);
        framed.extend_from_slice(&reply_len.to_be_bytes());
        framed.extend_from_slice(&reply);
        if !matches!(timeout(idle, stream.write_all(&framed)).await, Ok(Ok(()))) {
            return;
        }
    }
}
