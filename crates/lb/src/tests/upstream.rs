//! Connections to targets: kept open and reused between requests, and replaced when the
//! target has closed them while they waited in the pool.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use super::harness::*;

/// A target that counts the connections it accepts and answers `ok`; with `idle_close`, it
/// closes a connection on which no request came for that long (as a Node.js server does
/// after its 5 s keep-alive timeout).
struct Counting {
    addr: SocketAddr,
    connections: Arc<AtomicUsize>,
    /// Connections open now.
    open: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl Counting {
    async fn start(idle_close: Option<Duration>) -> Counting {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let connections = Arc::new(AtomicUsize::new(0));
        let open = Arc::new(AtomicUsize::new(0));
        let (counted, opened) = (connections.clone(), open.clone());
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                counted.fetch_add(1, Ordering::SeqCst);
                opened.fetch_add(1, Ordering::SeqCst);
                let closed = opened.clone();
                let service = service_fn(|_req: Request<Incoming>| async {
                    Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"ok"))))
                });
                let mut builder = hyper::server::conn::http1::Builder::new();
                builder.keep_alive(true).timer(TokioTimer::new());
                if let Some(idle) = idle_close {
                    // hyper's header timeout also bounds the wait for a connection's next
                    // request.
                    builder.header_read_timeout(idle);
                }
                tokio::spawn(async move {
                    let _ = builder
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                    closed.fetch_sub(1, Ordering::SeqCst);
                });
            }
        });
        Counting {
            addr,
            connections,
            open,
            task,
        }
    }

    fn accepted(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    /// Wait (bounded) until the target has closed every connection.
    async fn wait_all_closed(&self) {
        for _ in 0..200 {
            if self.open.load(Ordering::SeqCst) == 0 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("the target kept a connection open");
    }
}

impl Drop for Counting {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// One client connection to the balancer, requests sent on it one after the other.
async fn one_connection(port: u16) -> hyper::client::conn::http1::SendRequest<Empty<Bytes>> {
    let stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(connection);
    sender
}

async fn get(
    sender: &mut hyper::client::conn::http1::SendRequest<Empty<Bytes>>,
    path: &str,
) -> (u16, String) {
    sender.ready().await.unwrap();
    let request = Request::get(path)
        .header(http::header::HOST, "lb.example.com")
        .body(Empty::new())
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    let status = response.status().as_u16();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

#[tokio::test]
async fn target_connections_are_reused_and_replaced_once_the_target_closed_them() {
    let kept = Counting::start(None).await;
    let closing = Counting::start(Some(Duration::from_millis(100))).await;
    let port = free_port();
    let rules = vec![rule(1, vec![path("/closing")], forward("tg/closing"))];
    let lb = load_balancer(vec![listener("l/1", port, rules, forward("tg/kept"))]);
    let groups = vec![
        unchecked_group("tg/kept", kept.addr),
        unchecked_group("tg/closing", closing.addr),
    ];
    let h = Harness::start(plane_config(lb, groups));
    wait_listening(port).await;
    let mut client = one_connection(port).await;

    for _ in 0..20 {
        assert_eq!(get(&mut client, "/").await, (200, "ok".to_string()));
    }
    assert_eq!(
        kept.accepted(),
        1,
        "20 requests on one client connection take one connection to the target"
    );

    for i in 0..4 {
        assert_eq!(
            get(&mut client, "/closing").await,
            (200, "ok".to_string()),
            "request {i} after the target closed the pooled connection"
        );
        // The target closes the idle connection; the balancer has it in its pool.
        closing.wait_all_closed().await;
    }
    assert_eq!(
        closing.accepted(),
        4,
        "each request needed a new connection"
    );
    h.stop().await;
}
