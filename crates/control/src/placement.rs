//! How a task is placed. Planning runs concurrently against each cluster's [`picture`]
//! (the scheduler's snapshot, kept between requests, counting the [`reservations`] of
//! plans in flight and the loads of the [`task_index`]); the one [`applier`] checks every
//! plan against the committed loads and writes it with compare-and-swap. [`launch`] is the
//! typed entry point RunTask, StartTask and the service controller all use; [`groups`]
//! splits a launch among the providers of its capacity provider strategy.

pub mod applier;
mod groups;
pub mod launch;
pub mod picture;
pub mod reservations;
pub mod resources;
pub mod task_index;

pub use groups::EMPTY_PROVIDER;
pub use launch::{launch, LaunchRequest, LaunchSpec, Launched, Placement, LAUNCH_TYPES};
