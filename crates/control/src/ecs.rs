//! Domain operations on ECS resources that both the API and the controllers use.

pub mod clusters;
pub mod services;
pub mod task_definitions;
pub mod tasks;
