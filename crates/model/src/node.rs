//! A server of the control plane as it announces itself to the others: what its data
//! planes serve on. Each server keeps its own record on a lease while it runs, so the
//! records are the servers alive now.

use serde::{Deserialize, Serialize};

use crate::record::Record;

/// One running server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeRecord {
    /// The server's node id (its data directory's `node-id`).
    pub node_id: String,
    /// The addresses its load balancer listeners bind (`ADDR` or `FIRST-LAST`): the Nth
    /// address of the load balancers' pool is the Nth of these on this server.
    pub lb_addresses: String,
}

impl Record for NodeRecord {
    const KIND: &'static str = "node";
    const VERSION: u32 = 1;
}
