use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::*;

fn limits(max_connections: usize) -> Limits {
    Limits {
        max_connections,
        header_timeout: Duration::from_millis(400),
        idle_timeout: Duration::from_millis(600),
        drain_timeout: Duration::from_secs(5),
    }
}

/// A server answering `ok` (after a delay for `/slow`; `/hold` once `/release` is asked
/// for), and a handle that stops it.
async fn start(limits: Limits) -> (std::net::SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let held = Arc::new(Notify::new());
    let released = held.clone();
    let app = axum::Router::new()
        .route("/", axum::routing::get(|| async { "ok" }))
        .route(
            "/hold",
            axum::routing::get(|| async move {
                held.notified().await;
                "held ok"
            }),
        )
        .route(
            "/release",
            axum::routing::get(|| async move {
                released.notify_one();
                "ok"
            }),
        )
        .route(
            "/slow",
            axum::routing::get(|| async {
                tokio::time::sleep(Duration::from_millis(500)).await;
                "slow ok"
            }),
        );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(serve(listener, app, limits, None, "test", async {
        let _ = rx.await;
    }));
    (addr, tx)
}

/// Send a GET and read until the server closes or answers; the bytes read.
async fn get(stream: &mut TcpStream, path: &str) -> String {
    let req = format!("GET {path} HTTP/1.1\r\nhost: x\r\n\r\n");
    stream.write_all(req.as_bytes()).await.unwrap();
    let mut buf = vec![0u8; 1024];
    let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf))
        .await
        .expect("an answer")
        .unwrap_or(0);
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

/// Whether the server closed the connection within `within`.
async fn closed_within(stream: &mut TcpStream, within: Duration) -> bool {
    let mut buf = [0u8; 64];
    matches!(
        tokio::time::timeout(within, stream.read(&mut buf)).await,
        Ok(Ok(0)) | Ok(Err(_))
    )
}

#[tokio::test]
async fn an_idle_connection_is_closed() {
    let (addr, _stop) = start(limits(8)).await;
    let mut s = TcpStream::connect(addr).await.unwrap();
    assert!(get(&mut s, "/").await.contains("200 OK"));
    // Kept alive at first, then closed once idle for the idle timeout.
    assert!(!closed_within(&mut s, Duration::from_millis(200)).await);
    assert!(closed_within(&mut s, Duration::from_secs(3)).await);
}

#[tokio::test]
async fn headers_trickled_byte_by_byte_are_cut_off() {
    let (addr, _stop) = start(limits(8)).await;
    let mut s = TcpStream::connect(addr).await.unwrap();
    let started = std::time::Instant::now();
    // One byte every 100 ms keeps the connection busy but never finishes the headers.
    for b in b"GET / HTTP/1.1\r\nx-slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa".iter() {
        if s.write_all(&[*b]).await.is_err() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        if started.elapsed() > Duration::from_secs(5) {
            break;
        }
    }
    assert!(closed_within(&mut s, Duration::from_secs(2)).await);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the server waited on the trickle"
    );
}

#[tokio::test]
async fn at_the_cap_a_new_connection_displaces_the_quietest() {
    let (addr, _stop) = start(limits(2)).await;
    // An idle socket that never sent a byte, and a client that is talking.
    let mut idle = TcpStream::connect(addr).await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let mut busy = TcpStream::connect(addr).await.unwrap();
    assert!(get(&mut busy, "/").await.contains("200 OK"));
    // A third connection at the cap of 2 is served, in the idle socket's place.
    let mut third = TcpStream::connect(addr).await.unwrap();
    assert!(get(&mut third, "/").await.contains("200 OK"));
    assert!(closed_within(&mut idle, Duration::from_secs(1)).await);
    assert!(get(&mut busy, "/").await.contains("200 OK"));
}

#[tokio::test]
async fn shutdown_lets_a_request_in_progress_finish() {
    let (addr, stop) = start(limits(8)).await;
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET /slow HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    stop.send(()).unwrap();
    let mut answer = String::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), s.read_to_string(&mut answer)).await;
    assert!(answer.contains("slow ok"), "{answer}");
    assert!(
        TcpStream::connect(addr).await.is_err(),
        "still accepting after shutdown"
    );
}

#[test]
fn the_cap_leaves_descriptors_for_everything_else() {
    assert_eq!(connection_cap(4096, 1024), 384);
    assert_eq!(connection_cap(4096, 1_048_576), 4096);
    assert_eq!(connection_cap(4096, 10), 16);
}

#[tokio::test]
async fn tls_serves_clients_that_trust_its_authority_only() {
    use std::sync::Arc;

    let dir = tempfile::tempdir().unwrap();
    let files = tls::self_signed(dir.path(), "flotilla-test-host").unwrap();
    let again = tls::self_signed(dir.path(), "flotilla-test-host").unwrap();
    let ca = std::fs::read(&files.ca).unwrap();
    assert_eq!(
        std::fs::read(&again.ca).unwrap(),
        ca,
        "kept across restarts"
    );
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&files.key).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let fp = tls::fingerprint(&ca).unwrap();
    assert_eq!(fp.len(), 64);

    let config = tls::server_config(&files.cert, &files.key).unwrap();
    let app = axum::Router::new().route("/", axum::routing::get(|| async { "ok" }));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(serve(
        listener,
        app,
        limits(8),
        Some(config),
        "tls",
        std::future::pending(),
    ));

    let get = |client: Arc<rustls::ClientConfig>| async move {
        let connector = tokio_rustls::TlsConnector::from(client);
        let tcp = TcpStream::connect(addr).await.unwrap();
        let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
        let mut s = connector.connect(name, tcp).await?;
        s.write_all(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n").await?;
        let mut buf = vec![0u8; 512];
        let n = s.read(&mut buf).await?;
        Ok::<_, std::io::Error>(String::from_utf8_lossy(&buf[..n]).into_owned())
    };
    assert!(get(tls::client_config(&ca).unwrap())
        .await
        .unwrap()
        .contains("200 OK"));
    // Another authority is not trusted.
    let other = tempfile::tempdir().unwrap();
    let other_ca = std::fs::read(tls::self_signed(other.path(), "x").unwrap().ca).unwrap();
    assert!(get(tls::client_config(&other_ca).unwrap()).await.is_err());
    assert_ne!(tls::fingerprint(&other_ca).unwrap(), fp);
    // Plain HTTP gets no answer.
    let mut plain = TcpStream::connect(addr).await.unwrap();
    plain
        .write_all(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = vec![0u8; 512];
    let n = tokio::time::timeout(Duration::from_secs(3), plain.read(&mut buf))
        .await
        .unwrap()
        .unwrap_or(0);
    assert!(!String::from_utf8_lossy(&buf[..n]).contains("200 OK"));
}

/// An HTTP/2 connection in the clear (prior knowledge), as agents open.
async fn h2(
    addr: std::net::SocketAddr,
) -> hyper::client::conn::http2::SendRequest<http_body_util::Empty<bytes::Bytes>> {
    let tcp = TcpStream::connect(addr).await.unwrap();
    let (sender, conn) = hyper::client::conn::http2::Builder::new(TokioExecutor::new())
        .timer(TokioTimer::new())
        .handshake(TokioIo::new(tcp))
        .await
        .unwrap();
    tokio::spawn(conn);
    sender
}

async fn h2_get(
    sender: &mut hyper::client::conn::http2::SendRequest<http_body_util::Empty<bytes::Bytes>>,
    path: &str,
) -> Result<String, hyper::Error> {
    use http_body_util::BodyExt;
    let req = http::Request::get(format!("http://x{path}"))
        .body(http_body_util::Empty::new())
        .unwrap();
    let resp = sender.send_request(req).await?;
    assert_eq!(resp.status(), http::StatusCode::OK);
    let body = resp.into_body().collect().await?.to_bytes();
    Ok(String::from_utf8_lossy(&body).into_owned())
}

#[tokio::test]
async fn http2_in_the_clear_carries_requests_side_by_side_on_one_connection() {
    let (addr, _stop) = start(limits(1)).await;
    let sender = h2(addr).await;
    // A request held until a second one arrives, both on the only connection the cap
    // allows: the second must travel beside the first for either to be answered.
    let (mut a, mut b) = (sender.clone(), sender.clone());
    let held = tokio::spawn(async move { h2_get(&mut a, "/hold").await });
    tokio::time::sleep(Duration::from_millis(50)).await;
    let release = tokio::time::timeout(Duration::from_secs(5), h2_get(&mut b, "/release"));
    assert_eq!(release.await.expect("answered").unwrap(), "ok");
    assert_eq!(held.await.unwrap().unwrap(), "held ok");
}

#[tokio::test]
async fn an_idle_http2_connection_is_closed() {
    let (addr, _stop) = start(limits(8)).await;
    let mut sender = h2(addr).await;
    assert_eq!(h2_get(&mut sender, "/").await.unwrap(), "ok");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(h2_get(&mut sender, "/").await.is_err());
}
