//! Secrets Manager's secrets and SSM Parameter Store's parameters as stored, with the rules
//! AWS checks them by, and what a task definition's `valueFrom` names.
//!
//! - [`sealed`]: a value encrypted at rest (which key sealed it, the nonce, the AES-256-GCM
//!   ciphertext), read and written as bytes, and the plaintext types that never print
//!   their content. The encryption itself is `flotilla-control`'s: this crate does no I/O
//!   and holds no key.
//! - [`secret`]: Secrets Manager's secret records, versions and staging labels, names,
//!   ARNs and ListSecrets' filters.
//! - [`parameter`]: SSM's parameter records and versions, names and hierarchies, the
//!   `name:version` selector, ARNs and the `ParameterFilters` of DescribeParameters and
//!   GetParametersByPath.
//! - [`value_from`]: the one parser of an ECS `secrets[].valueFrom` (or
//!   `repositoryCredentials.credentialsParameter`).

pub mod parameter;
pub mod sealed;
pub mod secret;
pub mod value_from;
