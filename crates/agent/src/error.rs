//! The errors [`crate::run`] can end with. Everything else (a failed poll, a failed
//! report, a runtime hiccup) is retried inside the agent and only logged.

use flotilla_aws::client::CallError;

use crate::checkpoint::CheckpointError;

/// Why the agent stopped before its shutdown signal.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// The checkpoint in the data directory could not be read or written.
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    /// The server refused to register the instance for a reason retrying cannot fix
    /// (unknown cluster, bad credentials).
    #[error("container instance registration refused: {0}")]
    Register(CallError),
    /// The agent has no identity the server accepts: its key was revoked and it has no
    /// join token, or its join token was refused.
    #[error("agent identity: {0}")]
    Identity(String),
    /// The configuration cannot work (e.g. a malformed awsvpc subnet).
    #[error("invalid agent configuration: {0}")]
    Config(String),
}
