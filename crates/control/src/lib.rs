//! Flotilla's control plane: the shared state and its key layout, placement, the domain
//! operations the API and the controllers both call, leader election and the controllers.
//!
//! It knows resources and rules, never the wire: nothing here depends on `flotilla-aws`.
//! `flotilla-api` translates wire shapes into calls of this crate and its [`ControlError`]s
//! back into each AWS service's error codes.
//!
//! Where things are:
//! - [`State`] (`state.rs`): the store, one view per resource kind, read-your-writes commits;
//!   the key layout is `keys.rs` and nowhere else.
//! - [`placement`]: how a task is placed — pictures, reservations, the task index, the plan
//!   applier and the typed [`placement::launch`].
//! - [`ecs`]: domain operations on ECS resources (find a cluster or a task definition,
//!   stop a task, start or roll back a service deployment).
//! - [`agents`]: the agent protocol's heartbeats, polls and status reports;
//!   [`agent_identity`]: join tokens and agents' own keys.
//! - [`ec2`]: EC2's VPCs, subnets and security groups, the default VPC of each region,
//!   and awsvpc tasks seen as network interfaces.
//! - [`acm`]: ACM's imported certificates, for HTTPS listeners.
//! - [`ecr`]: ECR's repositories and images, and the registry's authorization tokens.
//! - [`elbv2`]: load balancers, listeners, rules, target groups and targets, and the
//!   feed that configures the load balancer's data plane.
//! - [`route53`]: hosted zones and change batches; [`servicediscovery`]: Cloud Map's
//!   namespaces, services and instances; [`dns`]: the feed that serves both as DNS.
//! - [`cloudwatch`]: metric alarms (definitions, state, history, tags); their metric data
//!   lives in `flotilla-telemetry`, below the server, never here.
//! - [`autoscaling`]: Application Auto Scaling's scalable targets, policies (with the
//!   alarms target tracking creates), scheduled actions and activities.
//! - [`secrets`]: Secrets Manager's secrets and SSM's parameters, sealed at rest with the
//!   server's secrets key, and the resolution of a task's `valueFrom`.
//! - [`leader`]: leader election; [`controllers`]: what runs on the leader.
#![forbid(unsafe_code)]

pub mod acm;
pub mod agent_identity;
pub mod agents;
pub mod autoscaling;
mod clock;
pub mod cloudwatch;
pub mod controllers;
pub mod dns;
pub mod ec2;
pub mod ecr;
pub mod ecs;
pub mod elbv2;
mod error;
pub mod exec;
pub mod iam;
pub mod keys;
pub mod leader;
pub mod locks;
pub mod logs;
pub mod metrics;
pub mod nodes;
pub mod placement;
pub mod route53;
pub mod secrets;
pub mod servicediscovery;
mod state;

pub use clock::Clock;
pub use error::{ControlError, Result};
pub use flotilla_store::view::Entry;
pub use state::{ControlConfig, State};
