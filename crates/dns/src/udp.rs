//! DNS over UDP: one loop per socket, each reading the datagrams waiting (up to [`BATCH`])
//! into a buffer it reuses, answering each from the table into a reply buffer it reuses,
//! then sending the replies one after the other.
//!
//! The plane binds [`crate::Options::udp_workers`] sockets on its address with
//! SO_REUSEPORT, so the kernel spreads clients over the loops and the loops run on
//! different cores without sharing a socket. An authoritative answer never waits: it is
//! computed and sent in the loop. A query for the forwarders (which may wait for
//! [`crate::Options::forward_timeout`] per upstream) is given to a task of its own,
//! holding a forwarding slot, so the loop goes on with the next datagram.

use std::io::ErrorKind;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::UdpSocket;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::handler::{Answer, Handler, Transport};

/// The largest datagram read: anything longer is cut to this and fails to parse.
const MAX_DATAGRAM: usize = 65_535;

/// Datagrams read and answered in a row before the replies go out and the loop lets
/// other tasks run (and looks at `stop`).
const BATCH: usize = 64;

/// Answer datagrams on `socket` until `stop` is true; forwarded queries still waiting
/// then are dropped unanswered.
pub(crate) async fn run(socket: UdpSocket, handler: Handler, mut stop: watch::Receiver<bool>) {
    let socket = Arc::new(socket);
    let mut buf = vec![0u8; MAX_DATAGRAM];
    // The replies of one batch, sent one after the other once it is read: the client is
    // woken once for several replies rather than once each.
    let mut replies: Vec<(Vec<u8>, SocketAddr)> = Vec::with_capacity(BATCH);
    let mut ready = 0;
    let mut forwarded = JoinSet::new();
    loop {
        for _ in 0..BATCH {
            let (n, src) = match socket.try_recv_from(&mut buf) {
                Ok(received) => received,
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) => {
                    // An ICMP error reported for an earlier reply, or the like: it says
                    // nothing about the next datagram.
                    tracing::debug!(error = %e, "DNS UDP receive failed");
                    continue;
                }
            };
            if ready == replies.len() {
                replies.push((Vec::with_capacity(512), src));
            }
            let (out, to) = &mut replies[ready];
            match handler.answer_now(&buf[..n], src, Transport::Udp, out) {
                Answer::Ready => {
                    *to = src;
                    ready += 1;
                }
                Answer::Nothing => {}
                Answer::Pending(pending) => {
                    let socket = socket.clone();
                    let handler = handler.clone();
                    forwarded.spawn(async move {
                        let reply = pending.finish(&handler).await;
                        send(&socket, &reply, src).await;
                    });
                }
            }
        }
        for (out, to) in &replies[..ready] {
            send(&socket, out, *to).await;
        }
        ready = 0;
        while forwarded.try_join_next().is_some() {}
        tokio::select! {
            () = crate::until_true(&mut stop) => break,
            readable = socket.readable() => {
                if let Err(e) = readable {
                    tracing::warn!(error = %e, "the DNS UDP socket failed; no longer answering on it");
                    break;
                }
            }
            Some(_) = forwarded.join_next(), if !forwarded.is_empty() => {}
        }
    }
    forwarded.shutdown().await;
}

async fn send(socket: &UdpSocket, reply: &[u8], to: SocketAddr) {
    if let Err(e) = socket.send_to(reply, to).await {
        tracing::debug!(%to, error = %e, "could not send a DNS reply");
    }
}
