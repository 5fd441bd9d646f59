//! `flotilla backup`: a consistent copy of the running instance's store, taken by the
//! server while it serves (root key, found as `flotilla env` finds it); `flotilla
//! restore`: such a copy loaded into a new data directory or an empty etcd, with no
//! server running on it. The format is `flotilla_server::backup`'s.

use std::path::PathBuf;

use anyhow::{bail, Context as _};
use flotilla_server::backup::{self, Backup, BACKUP, SIGNING_NAME, TARGET_PREFIX};

use crate::env;
use crate::server::StoreArgs;

#[derive(clap::Args, Debug)]
pub struct BackupArgs {
    /// The file to write (`-` for standard output). Written whole, then renamed into
    /// place: a failed backup leaves no partial file.
    #[arg(long, short)]
    out: PathBuf,
    /// Data directory of the running instance (for its endpoint and credentials).
    #[arg(long, env = "FLOTILLA_DATA_DIR", default_value_os_t = crate::default_data_dir())]
    data_dir: PathBuf,
}

#[derive(clap::Args, Debug)]
pub struct RestoreArgs {
    /// The backup to restore (written by `flotilla backup`).
    #[arg(long)]
    from: PathBuf,
    /// The data directory a server will run on (with `--store sqlite`, the default, its
    /// `state.db` is made there; it must not hold a store yet).
    #[arg(long, env = "FLOTILLA_DATA_DIR", default_value_os_t = crate::default_data_dir())]
    data_dir: PathBuf,
    #[command(flatten)]
    storage: StoreArgs,
}

pub fn run_backup(args: BackupArgs) -> anyhow::Result<()> {
    crate::server::runtime()?.block_on(async {
        let client = env::admin_client(&args.data_dir, SIGNING_NAME, TARGET_PREFIX)?;
        let taken: Backup = client
            .call(BACKUP, &serde_json::json!({}))
            .await
            .context("taking the backup")?;
        let bytes = serde_json::to_vec(&taken)?;
        if args.out.as_os_str() == "-" {
            use std::io::Write as _;
            std::io::stdout().write_all(&bytes)?;
        } else {
            crate::server::write_atomically(&args.out, &bytes)?;
        }
        eprintln!(
            "backup of revision {} ({} keys, {} bytes) written to {}",
            taken.revision,
            taken.entries.len(),
            bytes.len(),
            args.out.display()
        );
        Ok(())
    })
}

pub fn run_restore(args: RestoreArgs) -> anyhow::Result<()> {
    if args.storage.store == "memory" {
        bail!("a memory store lives only inside its server: restore into sqlite or etcd");
    }
    let bytes =
        std::fs::read(&args.from).with_context(|| format!("reading {}", args.from.display()))?;
    let read =
        backup::decode(&bytes).with_context(|| format!("reading {}", args.from.display()))?;
    if args.storage.store == "sqlite" {
        std::fs::create_dir_all(&args.data_dir)
            .with_context(|| format!("creating {}", args.data_dir.display()))?;
    }
    let config = args.storage.config(&args.data_dir)?;
    crate::server::runtime()?.block_on(async {
        let store = flotilla_server::open_store(&config)
            .await
            .context("opening the store to restore into")?;
        let loaded = backup::restore(&*store, &read).await;
        store.close().await;
        let revision = loaded.context("restoring")?;
        eprintln!(
            "restored {} keys of revision {} (taken {}); the store is at revision {revision}",
            read.entries.len(),
            read.revision,
            read.taken_at
        );
        Ok(())
    })
}
