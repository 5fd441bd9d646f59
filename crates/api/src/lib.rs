//! The AWS services Flotilla answers, one module per service, each translating its wire
//! shapes into calls of the control plane (`flotilla-control`) and the control plane's
//! answers and errors back into its wire shapes and codes.
//!
//! It holds no state and runs no loops: reads come from the control plane's views, writes
//! go through its operations. The wire protocols, SigV4 and error encoding are
//! `flotilla-aws`'s; validation is `flotilla-model`'s.
#![forbid(unsafe_code)]

mod agent;
mod ecs;
mod pagination;
mod sts;

use std::sync::Arc;

use flotilla_aws::{AwsService, Context, KeySource};
use flotilla_model::Scope;

pub(crate) use flotilla_control::{keys, State};

pub use ecs::Ecs;
pub use sts::Sts;

/// Every AWS service of this crate (and the agent protocol), ready to register with the
/// gateway. `ca_fingerprint` (the SHA-256 of the server's TLS CA, if it serves TLS) goes
/// into join tokens.
pub fn aws_services(state: State, ca_fingerprint: Option<String>) -> Vec<Arc<dyn AwsService>> {
    vec![
        Arc::new(Ecs::new(state.clone())),
        Arc::new(agent::Agent::new(state.clone(), ca_fingerprint)),
        Arc::new(Sts::new(state)),
    ]
}

/// The keys besides the root keys that the gateway accepts: agents' own keys and join
/// tokens.
pub fn key_source(state: State) -> Arc<dyn KeySource> {
    Arc::new(agent::AgentKeys::new(state))
}

/// The ECS operations this build implements (for the compatibility table).
pub fn ecs_operations() -> &'static [&'static str] {
    ecs::OPERATIONS
}

/// The region and account a request acts in.
pub(crate) fn scope(state: &State, ctx: &Context) -> Scope {
    Scope::new(ctx.region.clone(), state.account().to_string())
}
