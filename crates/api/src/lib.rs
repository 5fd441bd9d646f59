//! The AWS services Flotilla answers, one module per service, each mapping its wire shapes
//! to model operations on the store.
//!
//! Reads come from the per-process in-memory views in [`State`]; writes go to the store
//! as compare-and-swap transactions, and an operation answers only after its own write is
//! visible in the views (read-your-writes). The wire protocols, SigV4 and error encoding
//! are `flotilla-aws`'s; validation is `flotilla-model`'s.
#![forbid(unsafe_code)]

mod agent;
mod applier;
mod ecs;
mod error;
mod keys;
mod locks;
mod pagination;
mod picture;
mod reservations;
mod resources;
pub(crate) mod retention;
mod services;
mod state;
mod sts;
mod task_index;

use std::sync::Arc;

use flotilla_aws::Service;

pub use ecs::Ecs;
pub use state::{ApiConfig, State};
pub use sts::Sts;

/// Start the controllers: this process campaigns for leadership as `node` (an id that stays
/// the same across restarts of one server) and, while it leads, runs the service
/// controller and the retention controller.
pub fn start_controllers(state: &State, node: String) {
    let ttl = std::time::Duration::from_secs(10);
    let leader = services::leader::campaign(state.store().clone(), ttl, node);
    services::controller::start(state.clone(), leader.clone());
    retention::start(state.clone(), leader);
}

/// Every service of this crate, ready to register with the gateway.
pub fn services(state: State) -> Vec<Arc<dyn Service>> {
    vec![
        Arc::new(Ecs::new(state.clone())),
        Arc::new(agent::Agent::new(state.clone())),
        Arc::new(Sts::new(state)),
    ]
}

/// Make sure an ACTIVE cluster `name` exists in `region` (as `flotilla up` does for
/// `default`), creating it as CreateCluster would.
pub async fn ensure_cluster(
    state: &State,
    region: &str,
    name: &str,
) -> Result<(), flotilla_aws::AwsError> {
    let ctx = flotilla_aws::Context {
        region: region.to_string(),
        account: state.account().to_string(),
        access_key: String::new(),
        principal_arn: format!("arn:aws:iam::{}:root", state.account()),
        request_id: "startup".into(),
    };
    let input = serde_json::from_value(serde_json::json!({ "clusterName": name }))
        .map_err(|e| flotilla_aws::AwsError::serialization(e.to_string()))?;
    ecs::clusters::create(state, &ctx, input).await.map(|_| ())
}

/// The ECS operations this build implements (for the compatibility table).
pub fn ecs_operations() -> &'static [&'static str] {
    ecs::OPERATIONS
}
