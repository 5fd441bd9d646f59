//! A whole server in-process on `127.0.0.1:0`: started, called with the signing client as
//! an SDK would call it, and shut down in order.

use std::time::Duration;

use flotilla_aws::client::{CallError, ClientConfig, JsonClient};
use flotilla_aws::Credentials;
use flotilla_control::ControlConfig;
use flotilla_server::{Config, Listeners, Server, StoreConfig};
use serde_json::{json, Value};
use tokio::net::TcpListener;

const ACCOUNT: &str = "000000000000";
const KEY: &str = "AKIDINPROCESSTEST000";
const SECRET: &str = "secret-of-the-in-process-test-0000000000";

fn config() -> Config {
    Config {
        store: StoreConfig::Memory,
        credentials: Credentials::single(ACCOUNT, KEY, SECRET).unwrap(),
        control: ControlConfig::new(ACCOUNT),
        max_body_bytes: 1 << 20,
        max_buffered_bytes: 16 << 20,
        limits: flotilla_net::Limits::default(),
        tls: None,
        node_id: "in-process".into(),
        ensure_clusters: vec![("us-east-1".into(), "default".into())],
        registry: None,
        load_balancer: None,
        dns: None,
        telemetry_dir: None,
        metrics: flotilla_server::MetricsConfig::in_memory(),
        console: None,
    }
}

fn ecs(endpoint: String) -> JsonClient {
    JsonClient::new(
        ClientConfig {
            endpoint,
            region: "us-east-1".into(),
            access_key_id: KEY.into(),
            secret_access_key: SECRET.into(),
            session_token: None,
            timeout: Duration::from_secs(10),
            tls: None,
        },
        "ecs",
        "AmazonEC2ContainerServiceV20141113",
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_runs_in_process_and_stops_in_order() {
    let api = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = Server::start(
        Listeners {
            api,
            registry: None,
            console: None,
        },
        config(),
    )
    .await
    .unwrap();
    let endpoint = format!("http://{}", server.api_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(server.serve(async {
        let _ = stopped.await;
    }));
    let client = ecs(endpoint);

    // The cluster the configuration asked for exists.
    let out: Value = client
        .call("DescribeClusters", &json!({ "clusters": ["default"] }))
        .await
        .unwrap();
    assert_eq!(out["clusters"][0]["status"], "ACTIVE");

    // A control-plane error reaches the client with ECS's code.
    let err = client
        .call::<_, Value>("ListServices", &json!({ "cluster": "nope" }))
        .await
        .unwrap_err();
    match err {
        CallError::Service(e) => assert_eq!(e.code, "ClusterNotFoundException"),
        other => panic!("expected a service error, got {other}"),
    }

    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(10), running)
        .await
        .expect("the server stopped after shutdown")
        .unwrap()
        .unwrap();
}
