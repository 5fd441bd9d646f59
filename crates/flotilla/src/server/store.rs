//! The `--store` option: which backend a server (or `flotilla restore`) opens, and the
//! etcd options that go with an `etcd://` URL.

use std::path::{Path, PathBuf};

use anyhow::bail;
#[cfg(feature = "etcd")]
use anyhow::Context as _;
use flotilla_server::StoreConfig;

/// Which store, and how to reach etcd.
#[derive(clap::Args, Debug, Clone)]
pub struct StoreArgs {
    /// State store: `sqlite` (embedded, in the data directory), `memory` (lost on exit),
    /// or `etcd://HOST:PORT[,HOST:PORT...][/PREFIX]` (builds with the `etcd` feature).
    #[arg(long, env = "FLOTILLA_STORE", default_value = "sqlite")]
    pub store: String,
    /// CA certificate (PEM) that signed etcd's: connect to etcd with TLS.
    #[arg(long, env = "FLOTILLA_ETCD_CA_FILE")]
    pub etcd_ca_file: Option<PathBuf>,
    /// Client certificate (PEM) for etcd's `--client-cert-auth`, with --etcd-key-file.
    #[arg(long, env = "FLOTILLA_ETCD_CERT_FILE")]
    pub etcd_cert_file: Option<PathBuf>,
    /// The client certificate's private key (PEM).
    #[arg(long, env = "FLOTILLA_ETCD_KEY_FILE")]
    pub etcd_key_file: Option<PathBuf>,
}

impl StoreArgs {
    /// The store these arguments name, for the data directory `data_dir`.
    pub fn config(&self, data_dir: &Path) -> anyhow::Result<StoreConfig> {
        match self.store.as_str() {
            // A server has opened a store in this directory before (it notes the store's
            // identity next to it): that store must be there.
            "sqlite" => Ok(StoreConfig::Sqlite {
                path: data_dir.join("state.db"),
                expect_existing: store_id_file(data_dir).exists(),
            }),
            "memory" => Ok(StoreConfig::Memory),
            other if other.starts_with("etcd://") => self.etcd_config(other),
            other => bail!("unknown store '{other}': use sqlite, memory or etcd://HOST:PORT"),
        }
    }

    #[cfg(feature = "etcd")]
    fn etcd_config(&self, url: &str) -> anyhow::Result<StoreConfig> {
        let mut options =
            flotilla_server::EtcdOptions::from_url(url).map_err(anyhow::Error::msg)?;
        let read = |path: &PathBuf| {
            std::fs::read(path).with_context(|| format!("reading {}", path.display()))
        };
        let identity = match (&self.etcd_cert_file, &self.etcd_key_file) {
            (Some(cert), Some(key)) => Some((read(cert)?, read(key)?)),
            (None, None) => None,
            _ => bail!("--etcd-cert-file and --etcd-key-file go together"),
        };
        options.tls = match (&self.etcd_ca_file, identity) {
            (Some(ca), identity) => Some(flotilla_server::EtcdTls {
                ca: read(ca)?,
                identity,
            }),
            (None, Some(_)) => bail!("a client certificate for etcd needs --etcd-ca-file (TLS)"),
            (None, None) => None,
        };
        Ok(StoreConfig::Etcd(options))
    }

    #[cfg(not(feature = "etcd"))]
    fn etcd_config(&self, _: &str) -> anyhow::Result<StoreConfig> {
        bail!(
            "this flotilla was built without the etcd store: build it with \
             `cargo build --release --features etcd` (needs protoc, Debian's protobuf-compiler)"
        )
    }
}

/// Where the server notes the identity of the sqlite store it opened.
pub(super) fn store_id_file(data_dir: &Path) -> PathBuf {
    data_dir.join("store-id")
}
