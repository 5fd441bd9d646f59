//! `flotilla registry gc`: run the registry's garbage collector now (it also runs on a
//! schedule), with the administrator's root key, found as `flotilla env` finds it.

use std::path::PathBuf;

use anyhow::Context as _;
use flotilla_server::registry_admin::{COLLECT_GARBAGE, SIGNING_NAME, TARGET_PREFIX};
use serde_json::{json, Value};

use crate::env;

#[derive(clap::Subcommand, Debug)]
pub enum RegistryCommand {
    /// Remove blobs no image refers to (older than the grace period) and abandoned
    /// uploads; print what was removed.
    Gc {
        /// Keep unreferenced blobs written or seen within this many seconds (default: the
        /// server's, one hour). 0 removes every unreferenced blob, which can fail a push
        /// in progress.
        #[arg(long)]
        grace_seconds: Option<u64>,
        /// Data directory of the running instance (for its endpoint and credentials).
        #[arg(long, env = "FLOTILLA_DATA_DIR", default_value_os_t = crate::default_data_dir())]
        data_dir: PathBuf,
    },
}

pub fn run(cmd: RegistryCommand) -> anyhow::Result<()> {
    let RegistryCommand::Gc {
        grace_seconds,
        data_dir,
    } = cmd;
    crate::server::runtime()?.block_on(async {
        let client = env::admin_client(&data_dir, SIGNING_NAME, TARGET_PREFIX)?;
        let out: Value = client
            .call(COLLECT_GARBAGE, &json!({ "graceSeconds": grace_seconds }))
            .await
            .context("collecting the registry's garbage")?;
        println!("{}", serde_json::to_string_pretty(&out)?);
        Ok(())
    })
}
