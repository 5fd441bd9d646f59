//! ECR's domain operations: [`repositories`] (create, find, delete, settings, tags and
//! policies), [`images`] (what a push records, lookups by tag or digest, deletes, the
//! blobs images keep), and [`auth`] (the registry's authorization tokens). The registry's
//! data plane and ECR's API both call these; blob bytes never pass through them.

pub mod auth;
pub mod images;
pub mod lifecycle;
pub mod repositories;

/// At most this many attempts of one compare-and-swap before giving up as contended.
const ATTEMPTS: usize = 16;

/// The registry's `host:port` as image references name it (every `repositoryUri` starts
/// with it), from the configured endpoint; `None` when no registry is served.
pub fn registry_host(state: &crate::State) -> Option<&str> {
    let endpoint = state.config().registry_endpoint.as_deref()?;
    Some(
        endpoint
            .split_once("://")
            .map_or(endpoint, |(_, rest)| rest)
            .trim_end_matches('/'),
    )
}
