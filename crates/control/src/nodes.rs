//! The servers running now, and where each one's load balancer listeners listen.
//!
//! Every server runs the load balancers' data plane. Load balancers take their addresses
//! from one pool, the same on every server (`ControlConfig::lb_addresses`); a server may
//! bind its listeners on a pool of its own (`ControlConfig::lb_node_addresses`, one host's
//! addresses), the Nth address of the shared pool becoming the Nth of its own. Each server
//! keeps a [`NodeRecord`] saying so on a lease of [`NODE_TTL`] while it runs
//! ([`announce`]), so a load balancer's DNS name answers one address per running server
//! ([`addresses`]), as an ALB's name answers one per node, and a server that dies drops out
//! of the answer when its lease ends.

use std::net::IpAddr;
use std::time::Duration;

use flotilla_model::node::NodeRecord;
use flotilla_model::record::encode;
use flotilla_store::{LeaseId, Op, Store, Txn};
use tokio::sync::watch;

use crate::elbv2::AddressPool;
use crate::{keys, State};

/// How long a server's record outlives its last renewal (renewed every third of it).
pub const NODE_TTL: Duration = Duration::from_secs(5);

/// The addresses this server's listeners bind.
pub fn own_pool(state: &State) -> &AddressPool {
    let config = state.config();
    config
        .lb_node_addresses
        .as_ref()
        .unwrap_or(&config.lb_addresses)
}

/// Where the load balancer given `address` (from the shared pool) listens on this server.
pub fn local_address(state: &State, address: IpAddr) -> IpAddr {
    state
        .config()
        .lb_addresses
        .translate(own_pool(state), address)
        .unwrap_or(address)
}

/// Every address the load balancer given `address` answers on: its address on each
/// running server, in order. This server's own when no server has announced itself yet
/// (a server's first moments, and tests without one).
pub fn addresses(state: &State, address: IpAddr) -> Vec<IpAddr> {
    let shared = &state.config().lb_addresses;
    let mut out: Vec<IpAddr> = state
        .nodes()
        .range(keys::NODES.as_bytes())
        .iter()
        .filter_map(|(_, n)| AddressPool::parse(&n.value.lb_addresses).ok())
        .filter_map(|pool| shared.translate(&pool, address))
        .collect();
    out.sort();
    out.dedup();
    if out.is_empty() {
        out.push(local_address(state, address));
    }
    out
}

/// Keep this server's record (as `node_id`) on a lease until `shutdown`, putting it back
/// on a new lease whenever the old one is lost (the store was out of reach longer than
/// the lease); at shutdown, revoke it so the others drop this server at once.
pub async fn announce(state: State, node_id: String, mut shutdown: watch::Receiver<bool>) {
    let record = NodeRecord {
        node_id,
        lb_addresses: own_pool(&state).to_string(),
    };
    let key = keys::node(&record.node_id);
    let value = encode(&record);
    let store = state.store().clone();
    let beat = NODE_TTL / 3;
    let mut lease: Option<LeaseId> = None;
    loop {
        let held = match lease {
            Some(l) => matches!(
                tokio::time::timeout(beat, store.lease_keep_alive(l)).await,
                Ok(Ok(()))
            ),
            None => false,
        };
        if !held {
            lease = match put_on_lease(&*store, &key, &value).await {
                Ok(l) => Some(l),
                Err(e) => {
                    tracing::warn!(error = %e, "announcing this server failed; trying again");
                    None
                }
            };
        }
        let stopping = tokio::select! {
            _ = tokio::time::sleep(beat) => false,
            // Shutdown, or nobody left to ask for one.
            _ = shutdown.wait_for(|s| *s) => true,
        };
        if stopping {
            if let Some(l) = lease {
                let _ = store.lease_revoke(l).await;
            }
            return;
        }
    }
}

async fn put_on_lease(
    store: &dyn Store,
    key: &str,
    value: &[u8],
) -> Result<LeaseId, flotilla_store::StoreError> {
    let lease = store.lease_grant(NODE_TTL).await?;
    let put = Txn {
        success: vec![Op::Put {
            key: key.as_bytes().to_vec(),
            value: value.to_vec(),
            lease,
        }],
        ..Txn::default()
    };
    store.txn(put).await?;
    Ok(lease)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use flotilla_store::MemoryStore;

    use super::*;
    use crate::ControlConfig;

    async fn server(store: &Arc<MemoryStore>, own: Option<&str>) -> State {
        let mut config = ControlConfig::new("000000000000");
        config.lb_addresses = AddressPool::parse("127.0.1.1-127.0.1.50").unwrap();
        config.lb_node_addresses = own.map(|p| AddressPool::parse(p).unwrap());
        State::new(store.clone(), config).await.unwrap()
    }

    async fn until(state: &State, lb: IpAddr, want: &[&str]) {
        let want: Vec<IpAddr> = want.iter().map(|s| s.parse().unwrap()).collect();
        for _ in 0..200 {
            if addresses(state, lb) == want {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("{:?} is not {want:?}", addresses(state, lb));
    }

    #[tokio::test]
    async fn a_load_balancer_answers_on_every_running_server() {
        let store = Arc::new(MemoryStore::new());
        let a = server(&store, None).await;
        let b = server(&store, Some("127.0.2.1-127.0.2.50")).await;
        let lb: IpAddr = "127.0.1.3".parse().unwrap();
        // Before any server announced itself: this server's own address.
        assert_eq!(
            addresses(&b, lb),
            vec!["127.0.2.3".parse::<IpAddr>().unwrap()]
        );
        assert_eq!(local_address(&a, lb), lb);
        let (stop_a, shutdown_a) = watch::channel(false);
        let (_stop_b, shutdown_b) = watch::channel(false);
        let task_a = tokio::spawn(announce(a.clone(), "a".into(), shutdown_a));
        tokio::spawn(announce(b.clone(), "b".into(), shutdown_b));
        until(&a, lb, &["127.0.1.3", "127.0.2.3"]).await;
        until(&b, lb, &["127.0.1.3", "127.0.2.3"]).await;
        // a stops: its record goes with its lease, at once.
        stop_a.send(true).unwrap();
        task_a.await.unwrap();
        until(&b, lb, &["127.0.2.3"]).await;
    }
}
