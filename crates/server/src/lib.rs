//! A whole Flotilla server as a library: [`run`] takes already-bound listeners, a
//! [`Config`] and a shutdown future, opens the store, builds the control plane and the
//! gateway, starts the controllers, serves, and on shutdown stops everything in order:
//! the listeners stop accepting and finish their requests, the controllers stop and a
//! leader hands leadership over, then the store closes.
//!
//! The binary parses arguments, binds the listeners and prints the banner; integration
//! tests bind `127.0.0.1:0` and run a server in-process. It parses no arguments.
#![forbid(unsafe_code)]

pub mod alarms;
pub mod backup;
mod exec;
mod insights;
pub mod lb_metrics;
mod logs_retention;
pub mod registry_admin;

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;

use flotilla_aws::{Credentials, Gateway, GatewayConfig};
use flotilla_control::controllers::Controllers;
use flotilla_control::State;

pub use flotilla_control::elbv2::AddressPool;
pub use flotilla_control::secrets::SecretsKey;
pub use flotilla_control::ControlConfig;
pub use flotilla_dns::{system_forwarders, Options as DnsOptions};
pub use flotilla_lb::Options as LbOptions;
use flotilla_model::agent_identity::JoinToken;
use flotilla_model::Scope;
use flotilla_registry::http::Registry;
use flotilla_store::{MemoryStore, SqliteStore, Store, StoreError};
use flotilla_telemetry::logs::LogStore;
use flotilla_telemetry::metrics::MetricStore;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// How long a request's body may take to arrive in full.
const BODY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

#[cfg(feature = "etcd")]
pub use flotilla_store::{EtcdOptions, EtcdTls};

/// Which store the server opens.
#[derive(Debug, Clone)]
pub enum StoreConfig {
    /// The embedded sqlite store in this file. With `expect_existing` (the data directory
    /// was used before), a missing or empty file is refused rather than started afresh.
    Sqlite {
        path: PathBuf,
        expect_existing: bool,
    },
    /// In memory: lost when the server stops.
    Memory,
    /// A real etcd cluster (cargo feature `etcd`), shared by every server on it.
    #[cfg(feature = "etcd")]
    Etcd(flotilla_store::EtcdOptions),
}

/// Everything a server needs besides its listeners.
#[derive(Clone)]
pub struct Config {
    pub store: StoreConfig,
    /// The credentials every request must be signed with.
    pub credentials: Credentials,
    /// Settings of the control plane (account, TTLs, backoffs, retention).
    pub control: ControlConfig,
    /// Largest request body the gateway reads.
    pub max_body_bytes: usize,
    /// Request bodies held at once before their signatures are checked, all together.
    pub max_buffered_bytes: usize,
    /// Connection cap and timeouts of the API listener.
    pub limits: flotilla_net::Limits,
    /// TLS for the listeners, when the server has a certificate.
    pub tls: Option<ServerTls>,
    /// This server's id for leader election; the same across restarts of one server.
    pub node_id: String,
    /// Clusters to create at start if they do not exist, as (region, name): `flotilla up`
    /// makes sure of `default`.
    pub ensure_clusters: Vec<(String, String)>,
    /// The image registry, served on [`Listeners::registry`] (its address as clients reach
    /// it is `control.registry_endpoint`).
    pub registry: Option<RegistryConfig>,
    /// The load balancer's data plane, when this server runs one (its listeners bind the
    /// addresses `control.lb_addresses` hands out).
    pub load_balancer: Option<flotilla_lb::Options>,
    /// The DNS data plane, when this server runs one.
    pub dns: Option<flotilla_dns::Options>,
    /// Where log events are stored (`logs/` inside; see `flotilla_telemetry`). Without one
    /// (in-process tests), a temporary directory removed when the server is dropped.
    pub telemetry_dir: Option<PathBuf>,
    /// Where CloudWatch's metrics are kept and how often alarms are evaluated.
    pub metrics: MetricsConfig,
    /// The web console, served on [`Listeners::console`] when both are set.
    pub console: Option<flotilla_console::Config>,
}

/// The metric store and the alarm evaluator.
#[derive(Debug, Clone)]
pub struct MetricsConfig {
    /// The metric store's directory (`DATA_DIR/metrics`); `None` keeps metrics in memory
    /// only.
    pub dir: Option<PathBuf>,
    /// How often the leader evaluates every alarm.
    pub alarm_interval: std::time::Duration,
}

impl MetricsConfig {
    /// Metrics kept in `dir`, alarms evaluated every 10 seconds.
    pub fn new(dir: PathBuf) -> Self {
        MetricsConfig {
            dir: Some(dir),
            alarm_interval: std::time::Duration::from_secs(10),
        }
    }

    /// Metrics in memory only (tests), alarms evaluated every 10 seconds.
    pub fn in_memory() -> Self {
        MetricsConfig {
            dir: None,
            alarm_interval: std::time::Duration::from_secs(10),
        }
    }
}

/// Where the registry keeps blobs and how it collects garbage.
#[derive(Debug, Clone)]
pub struct RegistryConfig {
    /// The blob store's directory.
    pub root: PathBuf,
    /// The largest blob accepted.
    pub max_blob_bytes: u64,
    /// How often the garbage collector runs (and abandoned uploads are removed).
    pub gc_interval: std::time::Duration,
    /// An unreferenced blob is kept this long after it was last written or seen, so that a
    /// push in progress (blobs first, manifest last) never loses one.
    pub gc_grace: std::time::Duration,
    /// An upload untouched this long is abandoned.
    pub upload_ttl: std::time::Duration,
}

impl RegistryConfig {
    /// The defaults for a blob store under `root`: 10 GiB blobs, a collection every hour
    /// with an hour's grace, uploads abandoned after an hour.
    pub fn new(root: PathBuf) -> Self {
        let hour = std::time::Duration::from_secs(3600);
        RegistryConfig {
            root,
            max_blob_bytes: 10 << 30,
            gc_interval: hour,
            gc_grace: hour,
            upload_ttl: hour,
        }
    }
}

/// A server's TLS: its certificate and key, and the authority that signed them when the
/// server knows it (served at `/_flotilla/ca.pem`, its fingerprint put into join tokens).
#[derive(Clone)]
pub struct ServerTls {
    pub config: std::sync::Arc<flotilla_net::rustls::ServerConfig>,
    pub ca_pem: Option<Vec<u8>>,
}

/// The sockets a server serves, bound by the caller. The load balancer and DNS listeners
/// will join these.
pub struct Listeners {
    /// The AWS API (every service, the agent protocol and `/_flotilla/health`).
    pub api: TcpListener,
    /// The image registry (`/v2/`), when [`Config::registry`] is set.
    pub registry: Option<TcpListener>,
    /// The web console, when [`Config::console`] is set.
    pub console: Option<TcpListener>,
}

/// Why a server could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The store could not be opened or read.
    #[error("opening the store: {0}")]
    Store(#[from] StoreError),
    /// A cluster the configuration asks for could not be created.
    #[error("creating cluster {name}: {message}")]
    EnsureCluster { name: String, message: String },
    /// The registry's blob store could not be opened, or a registry listener is missing.
    #[error("registry: {0}")]
    Registry(String),
    /// The metric store could not be opened.
    #[error("metric store: {0}")]
    Metrics(String),
    /// The TLS configuration is unusable.
    #[error("TLS: {0}")]
    Tls(String),
    /// A listener failed while serving.
    #[error("serving: {0}")]
    Serve(#[from] std::io::Error),
    /// The load balancer's worker threads could not be started.
    #[error("starting the load balancer: {0}")]
    LoadBalancer(std::io::Error),
    /// The log storage could not be opened.
    #[error("log storage: {0}")]
    Telemetry(String),
    /// The DNS server's sockets could not be bound.
    #[error("starting the DNS server on {addr}: {error}")]
    Dns {
        addr: std::net::SocketAddr,
        error: std::io::Error,
    },
}

/// The operations of an AWS service (`ecs`, `ecr`, `elbv2`, `acm`, `route53`,
/// `servicediscovery`, `cloudwatch`, `application-autoscaling`, `ec2`, `iam`,
/// `secretsmanager`, `ssm`) this build implements (for `flotilla operations` and the
/// compatibility table).
pub fn operations(service: &str) -> Option<&'static [&'static str]> {
    match service {
        "ecs" => Some(flotilla_api::ecs_operations()),
        "ecr" => Some(flotilla_api::ecr_operations()),
        "elbv2" => Some(flotilla_api::elbv2_operations()),
        "ec2" => Some(flotilla_api::ec2_operations()),
        "iam" => Some(flotilla_api::iam_operations()),
        "acm" => Some(flotilla_api::acm_operations()),
        "route53" => Some(flotilla_api::route53_operations()),
        "servicediscovery" => Some(flotilla_api::servicediscovery_operations()),
        "cloudwatch" => Some(flotilla_api::cloudwatch_operations()),
        "application-autoscaling" => Some(flotilla_api::autoscaling_operations()),
        "logs" => Some(flotilla_api::logs_operations()),
        "secretsmanager" => Some(flotilla_api::secretsmanager_operations()),
        "ssm" => Some(flotilla_api::ssm_operations()),
        _ => None,
    }
}

/// Open the store `config` names.
pub async fn open_store(config: &StoreConfig) -> Result<Arc<dyn Store>, StoreError> {
    Ok(match config {
        StoreConfig::Sqlite {
            path,
            expect_existing,
        } => {
            let options = flotilla_store::SqliteOptions {
                expect_existing: *expect_existing,
                ..Default::default()
            };
            Arc::new(SqliteStore::open_with(path, options).await?)
        }
        StoreConfig::Memory => Arc::new(MemoryStore::new()),
        #[cfg(feature = "etcd")]
        StoreConfig::Etcd(options) => {
            Arc::new(flotilla_store::EtcdStore::connect(options.clone()).await?)
        }
    })
}

/// Run the registry's garbage collector every `gc_interval` until `stop` resolves: expire
/// abandoned uploads, then remove blobs no image refers to.
async fn collect_garbage(
    registry: Arc<Registry>,
    config: RegistryConfig,
    stop: impl Future<Output = ()>,
) {
    let mut stop = std::pin::pin!(stop);
    loop {
        tokio::select! {
            _ = &mut stop => return,
            _ = tokio::time::sleep(config.gc_interval) => {}
        }
        match registry.collect(config.gc_grace, config.upload_ttl).await {
            Ok(report) => tracing::info!(?report, "registry garbage collected"),
            Err(e) => tracing::warn!(error = %e, "registry garbage collection failed"),
        }
    }
}

/// Run a server on `listeners` until `shutdown` resolves, then stop it in order.
pub async fn run(
    listeners: Listeners,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    Server::start(listeners, config)
        .await?
        .serve(shutdown)
        .await
}

/// Hand every report of the load balancer's data plane to the control plane, and its
/// traffic and target states to the metric store as `AWS/ApplicationELB` metrics
/// (`lb_metrics`: counts on every report, gauges every second), until shutdown.
async fn forward_health(
    state: State,
    metrics: MetricStore,
    mut reports: watch::Receiver<Arc<flotilla_model::elbv2::plane::HealthReport>>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut lb = lb_metrics::LbMetrics::default();
    // Gauges (healthy hosts, open connections) are published every second, reports or not.
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut report = reports.borrow_and_update().clone();
    state.elbv2().report_health(report.clone());
    loop {
        let now = state.clock().now().timestamp();
        let mut by_region: std::collections::BTreeMap<String, Vec<_>> = Default::default();
        for (region, datum) in lb.data(&report, now) {
            by_region.entry(region).or_default().push(datum);
        }
        for (region, data) in by_region {
            if let Err(e) = metrics.put(&region, data).await {
                tracing::warn!(error = %e, "storing the load balancer's metrics failed");
            }
        }
        tokio::select! {
            _ = shutdown.wait_for(|s| *s) => return,
            changed = reports.changed() => {
                if changed.is_err() {
                    return;
                }
                report = reports.borrow_and_update().clone();
                state.elbv2().report_health(report.clone());
            }
            _ = tick.tick() => {}
        }
    }
}

/// Hand every report of the DNS data plane to the control plane (GetChange reads the
/// version served), until the plane stops.
async fn forward_dns_reports(
    state: State,
    mut reports: watch::Receiver<Arc<flotilla_model::dns::DnsReport>>,
) {
    loop {
        let report = reports.borrow_and_update().clone();
        state.dns().take_report(report);
        if reports.changed().await.is_err() {
            return;
        }
    }
}

/// A server that has opened its store and started its controllers, ready to serve.
pub struct Server {
    listeners: Listeners,
    limits: flotilla_net::Limits,
    tls: Option<ServerTls>,
    /// The SHA-256 of the authority's certificate, when the server serves TLS and knows it.
    ca_fingerprint: Option<String>,
    store: Arc<dyn Store>,
    state: State,
    app: axum::Router,
    controllers: Controllers,
    /// The registry's app, its collector's settings and the registry itself.
    registry: Option<(axum::Router, Arc<Registry>, RegistryConfig)>,
    /// The web console's settings, served on the API's router.
    console: Option<flotilla_console::Config>,
    /// The load balancer's data plane and the task that hands its reports to the state.
    load_balancer: Option<(flotilla_lb::Plane, tokio::task::JoinHandle<()>)>,
    /// The DNS data plane and the task that hands its reports to the state.
    dns: Option<(flotilla_dns::Plane, tokio::task::JoinHandle<()>)>,
    /// The log retention loop.
    retention: tokio::task::JoinHandle<()>,
    /// The temporary directory of the log storage when the configuration named none.
    scratch: Option<tempfile::TempDir>,
    /// The alarm evaluator and the Container Insights counts.
    alarms: tokio::task::JoinHandle<()>,
    /// Keeps this server's node record on its lease ([`flotilla_control::nodes`]).
    announce: tokio::task::JoinHandle<()>,
    stop_tx: watch::Sender<bool>,
}

/// Open the metric store `config` names (replaying its log off the runtime's threads).
async fn open_metrics(config: &MetricsConfig) -> Result<MetricStore, ServerError> {
    let Some(dir) = config.dir.clone() else {
        return Ok(MetricStore::in_memory());
    };
    tokio::task::spawn_blocking(move || MetricStore::open(&dir))
        .await
        .map_err(|e| ServerError::Metrics(e.to_string()))?
        .map_err(|e| ServerError::Metrics(e.to_string()))
}

impl Server {
    /// Open the store, load the control plane's views, create the clusters the
    /// configuration asks for, start the controllers and build the gateway.
    pub async fn start(listeners: Listeners, config: Config) -> Result<Server, ServerError> {
        let store = open_store(&config.store).await?;
        let account = config.control.account.clone();
        let state = State::new(store.clone(), config.control.clone()).await?;
        for (region, name) in &config.ensure_clusters {
            let scope = Scope::new(region.clone(), account.clone());
            flotilla_control::ecs::clusters::ensure(&state, &scope, name)
                .await
                .map_err(|e| ServerError::EnsureCluster {
                    name: name.clone(),
                    message: e.to_string(),
                })?;
        }
        let ca_pem = config.tls.as_ref().and_then(|t| t.ca_pem.clone());
        let ca_fingerprint = match &ca_pem {
            Some(pem) => Some(flotilla_net::tls::fingerprint(pem).map_err(ServerError::Tls)?),
            None => None,
        };
        let metrics = open_metrics(&config.metrics).await?;
        let (stop_tx, stop_rx) = watch::channel(false);
        let controllers = Controllers::start(&state, config.node_id.clone(), stop_rx.clone());
        // This server in the list of running ones, for the load balancers' DNS names.
        let announce = tokio::spawn(flotilla_control::nodes::announce(
            state.clone(),
            config.node_id.clone(),
            stop_rx.clone(),
        ));
        // The leader's metric loops: alarms evaluated, Container Insights' counts put.
        let alarms = tokio::spawn({
            let evaluate = alarms::run(
                state.clone(),
                metrics.clone(),
                config.metrics.alarm_interval,
                controllers.leading(),
                stop_rx.clone(),
            );
            let counts = insights::run(
                state.clone(),
                metrics.clone(),
                insights::INTERVAL,
                controllers.leading(),
                stop_rx.clone(),
            );
            async move {
                tokio::join!(evaluate, counts);
            }
        });
        let load_balancer = match config.load_balancer {
            None => None,
            Some(options) => {
                let plane = flotilla_lb::Plane::start(
                    state.elbv2().plane_config(),
                    options,
                    stop_rx.clone(),
                )
                .map_err(ServerError::LoadBalancer)?;
                let reports = tokio::spawn(forward_health(
                    state.clone(),
                    metrics.clone(),
                    plane.health(),
                    stop_rx.clone(),
                ));
                Some((plane, reports))
            }
        };
        let dns = match config.dns.clone() {
            None => None,
            Some(options) => {
                let addr = options.udp;
                let plane =
                    flotilla_dns::Plane::start(state.dns().config(), options, stop_rx.clone())
                        .map_err(|error| ServerError::Dns { addr, error })?;
                let reports = tokio::spawn(forward_dns_reports(state.clone(), plane.report()));
                Some((plane, reports))
            }
        };
        let registry = match config.registry.clone() {
            None => None,
            Some(rc) => {
                if listeners.registry.is_none() {
                    return Err(ServerError::Registry("no listener was given".into()));
                }
                let blobs = flotilla_registry::BlobStore::open(&rc.root, rc.max_blob_bytes)
                    .await
                    .map_err(|e| ServerError::Registry(e.to_string()))?;
                let catalog = Arc::new(flotilla_api::ControlCatalog::new(state.clone()));
                let registry = Arc::new(Registry::new(blobs, catalog, "flotilla"));
                Some((
                    flotilla_registry::http::router(registry.clone()),
                    registry,
                    rc,
                ))
            }
        };
        let scratch = match &config.telemetry_dir {
            Some(_) => None,
            None => Some(tempfile::tempdir().map_err(|e| ServerError::Telemetry(e.to_string()))?),
        };
        let telemetry_dir = config
            .telemetry_dir
            .clone()
            .or_else(|| scratch.as_ref().map(|d| d.path().to_path_buf()))
            .unwrap_or_default();
        let logs = LogStore::open(telemetry_dir.join("logs"))
            .map_err(|e| ServerError::Telemetry(e.to_string()))?;
        let retention = tokio::spawn(logs_retention::run(
            state.clone(),
            logs.clone(),
            stop_rx.clone(),
        ));
        let telemetry = flotilla_api::Telemetry { logs, metrics };
        let mut services =
            flotilla_api::aws_services(state.clone(), ca_fingerprint.clone(), telemetry);
        services.push(Arc::new(backup::Admin::new(store.clone())));
        if let Some((_, registry, rc)) = &registry {
            services.push(Arc::new(registry_admin::RegistryAdmin::new(
                registry.clone(),
                rc.clone(),
            )));
        }
        let gateway = Gateway::new(
            GatewayConfig {
                credentials: config
                    .credentials
                    .clone()
                    .with_source(flotilla_api::key_source(state.clone()))
                    .with_authorizer(flotilla_api::authorizer(state.clone())),
                account,
                max_body_bytes: config.max_body_bytes,
                body_timeout: BODY_TIMEOUT,
                max_buffered_bytes: config.max_buffered_bytes,
            },
            services,
        );
        flotilla_control::metrics::collect_tasks(&state);
        let mut app = axum::Router::new()
            .route("/_flotilla/health", axum::routing::get(|| async { "ok\n" }))
            .merge(metrics_router());
        if let Some(pem) = ca_pem {
            // Public: what an agent checks against the fingerprint in its join token.
            app = app.route(
                "/_flotilla/ca.pem",
                axum::routing::get(move || {
                    let pem = pem.clone();
                    async move { pem }
                }),
            );
        }
        let app = app
            .merge(exec::router(state.exec().clone()))
            .merge(gateway.router());
        Ok(Server {
            listeners,
            limits: config.limits,
            tls: config.tls.clone(),
            ca_fingerprint,
            store,
            state,
            app,
            controllers,
            registry,
            console: config.console.clone().map(|c| flotilla_console::Config {
                tls: config.tls.is_some(),
                ..c
            }),
            load_balancer,
            dns,
            retention,
            scratch,
            alarms,
            announce,
            stop_tx,
        })
    }

    /// Where the DNS server answers (UDP; TCP on the same address), when it runs.
    pub fn dns_addr(&self) -> Option<std::net::SocketAddr> {
        self.dns.as_ref().map(|(plane, _)| plane.local_addr())
    }

    /// The DNS server's further addresses ([`DnsOptions::also`]) that could be bound.
    pub fn dns_also_addrs(&self) -> Vec<std::net::SocketAddr> {
        self.dns
            .as_ref()
            .map(|(plane, _)| plane.also_addrs().to_vec())
            .unwrap_or_default()
    }

    /// A join token for `cluster` usable for `ttl_seconds`, made directly (as
    /// `CreateJoinToken` makes one): `flotilla up` makes one for its own agent.
    pub async fn create_join_token(
        &self,
        region: &str,
        cluster: &str,
        ttl_seconds: i64,
        description: &str,
    ) -> Result<JoinToken, flotilla_control::ControlError> {
        let scope = Scope::new(region.to_string(), self.state.account().to_string());
        let t = flotilla_control::agent_identity::create_token(
            &self.state,
            &scope,
            Some(cluster),
            Some(ttl_seconds),
            Some(description.to_string()),
        )
        .await?;
        Ok(JoinToken {
            token_id: t.token_id,
            secret: t.secret,
            ca_fingerprint: self.ca_fingerprint.clone(),
        })
    }

    /// The identity of the store this server opened (see `State::store_id`).
    pub fn store_id(&self) -> &str {
        self.state.store_id()
    }

    /// The address the API listener is bound to.
    pub fn api_addr(&self) -> std::io::Result<std::net::SocketAddr> {
        self.listeners.api.local_addr()
    }

    /// Serve until `shutdown` resolves; then the listeners stop accepting and finish their
    /// requests, the controllers stop (a leader hands leadership over), and the store
    /// closes.
    pub async fn serve(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServerError> {
        let Server {
            listeners,
            limits,
            tls,
            ca_fingerprint: _,
            store,
            state,
            app,
            controllers,
            registry,
            console,
            load_balancer,
            dns,
            retention,
            scratch,
            alarms,
            announce,
            stop_tx,
        } = self;
        let stopped = |mut rx: watch::Receiver<bool>| async move {
            let _ = rx.wait_for(|s| *s).await;
        };
        let (api_stop, registry_stop) = (stop_tx.subscribe(), stop_tx.subscribe());
        let console_stop = stop_tx.subscribe();
        let collector_stop = stop_tx.subscribe();
        let exec = state.exec().clone();
        tokio::spawn(async move {
            shutdown.await;
            // Held PollExec calls and exec sessions would hold the drain up.
            exec.close();
            let _ = stop_tx.send(true);
        });
        let tls = tls.map(|t| t.config);
        // The console's calls go through the same router as every API call.
        let console_served = match (console, listeners.console) {
            (Some(config), Some(listener)) => Some(flotilla_net::serve(
                listener,
                flotilla_console::router(config, app.clone()),
                limits,
                tls.clone(),
                "console",
                stopped(console_stop),
            )),
            _ => None,
        };
        let console_served = async {
            match console_served {
                Some(served) => served.await,
                None => Ok(()),
            }
        };
        let api = flotilla_net::serve(
            listeners.api,
            app,
            limits,
            tls.clone(),
            "api",
            stopped(api_stop),
        );
        let registry_served = async {
            let (Some((app, registry, rc)), Some(listener)) = (registry, listeners.registry) else {
                return Ok(());
            };
            let collector = tokio::spawn(collect_garbage(registry, rc, stopped(collector_stop)));
            let served = flotilla_net::serve(
                listener,
                app,
                limits,
                tls,
                "registry",
                stopped(registry_stop),
            )
            .await;
            let _ = collector.await;
            served
        };
        let (served, registry_served, console_served) =
            tokio::join!(api, registry_served, console_served);
        let served = served.and(registry_served).and(console_served);
        controllers.stopped().await;
        let _ = alarms.await;
        let _ = announce.await;
        if let Some((plane, reports)) = load_balancer {
            plane.join().await;
            let _ = reports.await;
        }
        if let Some((plane, reports)) = dns {
            plane.join().await;
            let _ = reports.await;
        }
        let _ = retention.await;
        drop(state);
        drop(scratch);
        // Leaves the store's files self-contained (the sqlite WAL checkpointed).
        store.close().await;
        tracing::info!("server stopped");
        served.map_err(ServerError::from)
    }
}

/// `GET /metrics`: the process's Prometheus metrics (unauthenticated, like
/// `/_flotilla/health`: counts and durations, no resource names). The server serves it on
/// its API listener; a standalone agent on its `--metrics-addr`.
pub fn metrics_router() -> axum::Router {
    axum::Router::new().route("/metrics", axum::routing::get(prometheus))
}

async fn prometheus() -> impl axum::response::IntoResponse {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            flotilla_prom::CONTENT_TYPE,
        )],
        flotilla_prom::global().encode(),
    )
}
