//! Flotilla's resource model: the ECS-shaped types every other crate shares, their ARNs,
//! and the validation AWS applies to them. No I/O, no clients, no runtime: only types and
//! pure functions, so every other crate can depend on it and it depends on nothing of ours.
#![forbid(unsafe_code)]

pub mod account_setting;
pub mod acm;
pub mod agent_identity;
pub mod agent_protocol;
pub mod arn;
pub mod autoscaling;
pub mod capacity_provider;
pub mod cloudwatch;
pub mod cluster;
pub mod container_instance;
pub mod cql;
pub mod daemon;
pub mod dns;
pub mod ec2;
pub mod ecr;
pub mod elbv2;
pub mod error;
pub mod exec;
pub mod firewall;
pub mod gateway;
pub mod host_access;
pub mod iam;
pub mod logs;
pub mod node;
pub mod record;
pub mod route53;
pub mod run_token;
pub mod secrets;
pub mod service;
pub mod servicediscovery;
pub mod tag;
pub mod task;
pub mod task_definition;
pub mod task_definition_record;
pub mod timestamp;
pub mod token;
pub mod wildcard;

pub use arn::{ecs_name, Arn, EcsRef, Scope};
pub use error::{ErrorKind, ModelError, Resource};
