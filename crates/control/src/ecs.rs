//! Domain operations on ECS resources that both the API and the controllers use.

pub mod account_settings;
pub mod capacity_providers;
pub mod clusters;
pub mod container_instances;
pub mod daemons;
pub mod express;
pub mod gateways;
pub mod metrics;
pub mod services;
pub mod tags;
pub mod task_definitions;
pub mod task_sets;
pub mod tasks;
