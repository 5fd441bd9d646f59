//! Tests of the scheduler: readable scenarios per filter stage and per strategy, the
//! parsing of the ECS wire forms, and properties over small random clusters.

mod filters;
mod parse;
mod props;
mod strategies;
mod support;
