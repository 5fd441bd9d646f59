//! Flotilla's scheduler: where tasks go. A pure function from a [`Snapshot`] of the cluster
//! and a [`TaskRequest`] to a [`Plan`]; it never reads or writes the store, so it is tested
//! without a network and fast enough for a million placements. The plan applier commits
//! plans (and asks again on a conflict); this crate only proposes.
//!
//! Placement is a pipeline of named stages ([`Stage`]), as ECS does it:
//! 1. **Filter** (`filter.rs`): status ACTIVE, agent connected, required attributes, CPU,
//!    memory, GPUs, TCP and UDP ports, `distinctInstance`, `memberOf`. An instance that
//!    fails a stage carries that stage's ECS reason (`RESOURCE:MEMORY`, ...), which the
//!    user reads in RunTask's `failures`.
//! 2. **Rank** (`rank.rs`): the placement strategies (`binpack`, `spread`, `random`),
//!    chained in order, choose among the instances left.
//! 3. **Plan** (`plan.rs`): tasks are placed one at a time, each updating its instance's
//!    remaining resources, ports and group counts before the next.
//!
//! [`deployment`] holds the service controller's pure planners: given a service's tasks and
//! the state of their instances, what to start and what to stop.
//!
//! [`capacity`] splits a request's tasks among the providers of a capacity provider
//! strategy (base first, then weights).
//!
//! [`scaling`] holds the autoscaling controller's pure policy maths: target tracking,
//! step adjustments, clamping and cooldowns.
//!
//! Random choices come from the request's seed: the same snapshot, request and seed give
//! the same plan.
#![forbid(unsafe_code)]

pub mod bluegreen;
pub mod capacity;
pub mod deployment;
mod filter;
pub mod fit;
mod plan;
mod rank;
mod request;
pub mod scaling;
mod select;
mod snapshot;

pub use filter::Stage;
pub use plan::{schedule, Failure, Placement, Plan, StageReport, NO_INSTANCES};
pub use request::{
    parse_constraint, parse_strategy, BinpackField, Constraint, SpreadField, Strategy, TaskRequest,
};
pub use snapshot::{ApplyError, InstanceState, Resources, Snapshot, ACTIVE};

#[cfg(test)]
mod tests;
