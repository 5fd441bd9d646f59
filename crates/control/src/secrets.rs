//! Secrets Manager's secrets and SSM Parameter Store's parameters, encrypted at rest, and
//! what a starting task's `valueFrom` resolves to.
//!
//! - [`crypto`]: the server's secrets key (a file the operator gives, or `secrets.key` in
//!   the data directory) and sealing and opening values with it (AES-256-GCM).
//! - [`manager`]: Secrets Manager's operations (create, read a version's value, put a new
//!   version, update, describe, list, delete with a recovery window, restore, tags), with
//!   [`SecretsError`](manager::SecretsError); [`manager::reap`] removes secrets whose
//!   deletion date passed (run by `controllers::secrets`; until then, lookups already treat
//!   them as gone).
//! - [`parameters`]: SSM's parameter operations, with [`SsmError`](parameters::SsmError).
//! - [`resolve`]: one function the agent protocol calls when a container starts, turning
//!   a `valueFrom` into its value, and the ARN a permission check names.
//!
//! One record per secret at `keys::secret(region, name)` and per parameter at
//! `keys::parameter(region, name)`, each written with compare-and-swap. Secret values and
//! SecureStrings are stored sealed only; plaintext lives in memory for the length of a
//! request and its types print their length, never their content.

pub mod crypto;
pub mod manager;
pub mod parameters;
pub mod resolve;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use flotilla_model::secrets::parameter::ParameterRecord;
use flotilla_model::secrets::secret::SecretRecord;
use flotilla_store::view::View;
use flotilla_store::{Revision, Store, StoreError};

use crate::keys;

pub use crypto::SecretsKey;

/// At most this many attempts of one compare-and-swap before giving up as contended.
const ATTEMPTS: usize = 16;

/// The live secrets and parameters of this process.
pub struct Views {
    pub secrets: View<SecretRecord>,
    pub parameters: View<ParameterRecord>,
}

impl Views {
    pub(crate) async fn start(store: &Arc<dyn Store>) -> Result<Views, StoreError> {
        use crate::state::decoder as d;
        Ok(Views {
            secrets: View::start(store.clone(), keys::SECRETS.as_bytes().to_vec(), d).await?,
            parameters: View::start(store.clone(), keys::PARAMETERS.as_bytes().to_vec(), d).await?,
        })
    }

    pub(crate) async fn wait_for(&self, rev: Revision) -> Result<(), StoreError> {
        let (a, b) = tokio::join!(self.secrets.wait_for(rev), self.parameters.wait_for(rev));
        a.and(b)
    }
}
