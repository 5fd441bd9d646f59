//! Real sockets on loopback: small backends, configurations built by hand, a client.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU16, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use chrono::Utc;
use flotilla_model::elbv2::listener::{
    Action, Condition, ListenerProtocol, Redirect, WeightedGroup,
};
use flotilla_model::elbv2::plane::{
    CertificatePem, Draining, HealthReport, LbPlane, ListenerPlane, Observed, PlaneConfig,
    RulePlane, TargetKey, TargetPlane, TgPlane, XffMode,
};
use flotilla_model::elbv2::target_group::{Algorithm, HealthCheck, TargetGroupProtocol};
use http::{HeaderMap, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::{Options, Plane};

/// A backend that answers with its name, records what it was sent, and on request is
/// slow (`/slow?ms=N`) or unhealthy (`/health` answers `health_status`).
pub struct Backend {
    pub name: String,
    pub addr: SocketAddr,
    pub hits: Arc<AtomicUsize>,
    pub health_status: Arc<AtomicU16>,
    pub seen: Arc<Mutex<Vec<HeaderMap>>>,
    task: JoinHandle<()>,
}

impl Drop for Backend {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Backend {
    pub async fn start(name: &str) -> Backend {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let hits = Arc::new(AtomicUsize::new(0));
        let health_status = Arc::new(AtomicU16::new(200));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (n, h, s, st) = (
            name.to_string(),
            hits.clone(),
            health_status.clone(),
            seen.clone(),
        );
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let (n, h, s, st) = (n.clone(), h.clone(), s.clone(), st.clone());
                let service = service_fn(move |req: Request<Incoming>| {
                    let (n, h, s, st) = (n.clone(), h.clone(), s.clone(), st.clone());
                    async move { Ok::<_, Infallible>(answer(req, &n, &h, &s, &st).await) }
                });
                tokio::spawn(async move {
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Backend {
            name: name.to_string(),
            addr,
            hits,
            health_status,
            seen,
            task,
        }
    }

    pub fn target(&self) -> TargetPlane {
        TargetPlane {
            key: TargetKey {
                id: self.name.clone(),
                port: self.addr.port(),
            },
            addr: self.addr,
            registered_at: Utc::now(),
            draining: None,
        }
    }

    pub fn key(&self) -> TargetKey {
        self.target().key
    }

    pub fn last_seen(&self) -> HeaderMap {
        self.seen.lock().unwrap().last().cloned().unwrap()
    }
}

async fn answer(
    req: Request<Incoming>,
    name: &str,
    hits: &AtomicUsize,
    health: &AtomicU16,
    seen: &Mutex<Vec<HeaderMap>>,
) -> Response<Full<Bytes>> {
    if req.uri().path() == "/health" {
        let status = StatusCode::from_u16(health.load(Ordering::SeqCst)).unwrap();
        let mut r = Response::new(Full::new(Bytes::from_static(b"ok")));
        *r.status_mut() = status;
        return r;
    }
    hits.fetch_add(1, Ordering::SeqCst);
    seen.lock().unwrap().push(req.headers().clone());
    if req.uri().path() == "/slow" {
        let ms: u64 = req
            .uri()
            .query()
            .and_then(|q| q.strip_prefix("ms="))
            .and_then(|v| v.parse().ok())
            .unwrap_or(1000);
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
    Response::new(Full::new(Bytes::from(name.to_string())))
}

/// A port free on 127.0.0.1 just now.
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

pub fn health_check(interval_seconds: u32) -> HealthCheck {
    HealthCheck {
        enabled: true,
        protocol: TargetGroupProtocol::Http,
        port: None,
        path: "/health".into(),
        interval_seconds,
        timeout_seconds: 1,
        healthy_threshold: 2,
        unhealthy_threshold: 2,
        matcher: "200".into(),
    }
}

pub fn group(arn: &str, backends: &[&Backend]) -> TgPlane {
    TgPlane {
        arn: arn.into(),
        protocol: TargetGroupProtocol::Http,
        port: 80,
        health_check: health_check(1),
        algorithm: Algorithm::RoundRobin,
        slow_start: Duration::ZERO,
        stickiness: None,
        deregistration_delay: Duration::from_secs(300),
        targets: backends.iter().map(|b| b.target()).collect(),
    }
}

/// A group with one target at `addr` and no health checks (so that every connection the
/// target sees carries a request).
pub fn unchecked_group(arn: &str, addr: SocketAddr) -> TgPlane {
    let mut tg = group(arn, &[]);
    tg.health_check.enabled = false;
    tg.targets.push(TargetPlane {
        key: TargetKey {
            id: arn.into(),
            port: addr.port(),
        },
        addr,
        registered_at: Utc::now(),
        draining: None,
    });
    tg
}

pub fn forward(arn: &str) -> Action {
    Action::Forward {
        target_groups: vec![WeightedGroup {
            arn: arn.into(),
            weight: 1,
        }],
        stickiness_seconds: None,
    }
}

pub fn weighted(groups: &[(&str, u32)], stickiness_seconds: Option<u32>) -> Action {
    Action::Forward {
        target_groups: groups
            .iter()
            .map(|(arn, weight)| WeightedGroup {
                arn: arn.to_string(),
                weight: *weight,
            })
            .collect(),
        stickiness_seconds,
    }
}

pub fn fixed(status: u16, body: &str) -> Action {
    Action::FixedResponse {
        status_code: status,
        content_type: None,
        message_body: Some(body.into()),
    }
}

pub fn redirect_https() -> Action {
    Action::Redirect(Redirect {
        protocol: "HTTPS".into(),
        host: "#{host}".into(),
        port: "443".into(),
        path: "/new/#{path}".into(),
        query: "#{query}".into(),
        status_code: 301,
    })
}

pub fn rule(priority: u32, conditions: Vec<Condition>, action: Action) -> RulePlane {
    RulePlane {
        arn: format!("rule/{priority}"),
        priority: Some(priority),
        conditions,
        action,
    }
}

pub fn path(p: &str) -> Condition {
    Condition::PathPattern {
        values: vec![p.into()],
    }
}

pub fn host(h: &str) -> Condition {
    Condition::HostHeader {
        values: vec![h.into()],
    }
}

/// An HTTP listener with `rules` then the default action.
pub fn listener(arn: &str, port: u16, mut rules: Vec<RulePlane>, default: Action) -> ListenerPlane {
    rules.push(RulePlane {
        arn: format!("{arn}/default"),
        priority: None,
        conditions: vec![],
        action: default,
    });
    ListenerPlane {
        arn: arn.into(),
        port,
        protocol: ListenerProtocol::Http,
        certificates: vec![],
        rules,
        admits: None,
    }
}

pub fn load_balancer(listeners: Vec<ListenerPlane>) -> LbPlane {
    LbPlane {
        arn: "lb/test".into(),
        name: "test".into(),
        address: IpAddr::V4(Ipv4Addr::LOCALHOST),
        idle_timeout: Duration::from_secs(60),
        http2: true,
        xff: XffMode::Append,
        preserve_host: false,
        listeners,
    }
}

pub fn plane_config(lb: LbPlane, groups: Vec<TgPlane>) -> PlaneConfig {
    PlaneConfig {
        load_balancers: vec![lb],
        target_groups: groups.into_iter().map(|g| (g.arn.clone(), g)).collect(),
        certificates: BTreeMap::<String, Arc<CertificatePem>>::new(),
    }
}

/// A running plane and the handles a test drives it with.
pub struct Harness {
    pub config: watch::Sender<Arc<PlaneConfig>>,
    pub health: watch::Receiver<Arc<HealthReport>>,
    shutdown: watch::Sender<bool>,
    plane: Option<Plane>,
}

impl Harness {
    pub fn start(config: PlaneConfig) -> Harness {
        Self::start_with(config, Options::default())
    }

    pub fn start_with(config: PlaneConfig, options: Options) -> Harness {
        let (config_tx, config_rx) = watch::channel(Arc::new(config));
        let (shutdown, shutdown_rx) = watch::channel(false);
        let plane =
            Plane::start(config_rx, options, shutdown_rx).expect("the plane's workers start");
        Harness {
            config: config_tx,
            health: plane.health(),
            shutdown,
            plane: Some(plane),
        }
    }

    pub fn set(&self, config: PlaneConfig) {
        self.config.send_replace(Arc::new(config));
    }

    /// Wait (bounded) until the report satisfies `ok`; the report.
    pub async fn wait_report(
        &mut self,
        what: &str,
        ok: impl Fn(&HealthReport) -> bool,
    ) -> Arc<HealthReport> {
        let found = {
            let wait = self.health.wait_for(|r| ok(r));
            match tokio::time::timeout(Duration::from_secs(20), wait).await {
                Ok(Ok(r)) => Some(r.clone()),
                _ => None,
            }
        };
        match found {
            Some(r) => r,
            None => panic!(
                "timed out waiting for {what}; last report {:?}",
                self.health.borrow()
            ),
        }
    }

    /// Wait until every listed target of `group` is healthy.
    pub async fn wait_healthy(&mut self, group: &str, backends: &[&Backend]) {
        let keys: Vec<TargetKey> = backends.iter().map(|b| b.key()).collect();
        self.wait_report("healthy targets", |r| {
            keys.iter()
                .all(|k| r.target(group, k) == Some(&Observed::Healthy))
        })
        .await;
    }

    pub async fn stop(mut self) {
        self.shutdown.send_replace(true);
        let plane = self.plane.take().unwrap();
        tokio::time::timeout(Duration::from_secs(30), plane.join())
            .await
            .expect("the plane stops");
    }
}

/// Wait (bounded) until something accepts connections on `port`.
pub async fn wait_listening(port: u16) {
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("nothing listens on {port}");
}

/// An HTTP/1.1 client with keep-alive.
pub fn client() -> Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>> {
    Client::builder(TokioExecutor::new()).build_http()
}

pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

pub async fn send(
    client: &Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>,
    port: u16,
    path: &str,
    headers: &[(&str, &str)],
) -> Answer {
    let mut req = Request::get(format!("http://127.0.0.1:{port}{path}"));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let response = client
        .request(req.body(Full::new(Bytes::new())).unwrap())
        .await
        .unwrap();
    let (parts, body) = response.into_parts();
    let body = body.collect().await.unwrap().to_bytes();
    Answer {
        status: parts.status,
        headers: parts.headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

pub fn draining(target: TargetPlane, deadline_in: Duration) -> TargetPlane {
    let now = Utc::now();
    TargetPlane {
        draining: Some(Draining {
            since: now,
            deadline: now + chrono::Duration::from_std(deadline_in).unwrap(),
        }),
        ..target
    }
}
