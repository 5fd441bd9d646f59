//! Security groups enforced on the host: each awsvpc task's rules as an nftables table
//! inside the task's own network namespace (the one its pause container holds).
//!
//! Why the task's namespace rather than the host's: every packet to or from the task
//! crosses that namespace's `input` and `output` hooks whatever path it took — from a
//! task on the same bridge (bridged, never routed by the host), routed in from a task on
//! another host, or from a process on the host such as the load balancer. A filter in the
//! host's namespace would need a `forward` rule for routed traffic, `br_netfilter` or a
//! `bridge`-family table for bridged traffic and `output` rules for the host's own
//! connections, all interleaved with Docker's iptables rules there. In the namespace the
//! table is the task's alone: it is created with the task, goes away with the namespace,
//! and needs no per-task names. The rules live in the kernel, not in the agent, so an
//! agent restart leaves them enforced with no gap; the restarted agent compares
//! [`applied`] with the fingerprint of what it would render and re-applies on a
//! difference (re-applying is harmless either way).
//!
//! The limit of this choice: a task granted `NET_ADMIN` (linuxParameters) could flush
//! its own table. It cannot loosen any other task's ingress, which is enforced in that
//! task's namespace.
//!
//! Parts: `render` (the pure script), `exec` (running tools in a namespace), [`Keeper`]
//! (which tasks enforce what, kept in step with the poll answers). The calls here block;
//! run them on `spawn_blocking` ([`Keeper`] does).

pub(crate) mod exec;
mod keeper;
mod render;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};

use flotilla_model::firewall::RuleError;

pub(crate) use exec::{locate, run, write_sysctl, IP, IPTABLES, NFT};
pub use exec::{NetNs, ToolError};
pub use keeper::Keeper;
pub use render::{removal, render, HostServices, Ruleset, ECS_CREDENTIALS, TABLE};

/// Why enforcing a task's security groups failed.
#[derive(Debug, thiserror::Error)]
pub enum FirewallError {
    /// A rule or group id cannot be enforced as given (nothing was applied).
    #[error(transparent)]
    Rule(#[from] RuleError),
    /// Running `nft` in the namespace failed: not installed, namespace gone, or nft
    /// refused the script (its own message; the previous table then stays in force).
    #[error(transparent)]
    Tool(#[from] ToolError),
    /// The namespace is the agent's own (say, a pause container on the host network):
    /// a task's rules there would filter the whole host.
    #[error("refusing to apply a task's rules to the host's own network namespace ({})", .0.display())]
    HostNamespace(PathBuf),
}

/// Replace the task's table with `script` (from [`render`]) in one transaction.
/// Refuses the agent's own namespace.
pub fn apply(netns: &NetNs, script: &str) -> Result<(), FirewallError> {
    let own = Path::new("/proc/self/ns/net");
    match netns {
        NetNs::Current => return Err(FirewallError::HostNamespace(own.to_path_buf())),
        NetNs::Path(path) if same_file(path, own) => {
            return Err(FirewallError::HostNamespace(path.clone()))
        }
        NetNs::Path(_) => {}
    }
    run(netns, NFT, &["-f", "-"], Some(script))?;
    Ok(())
}

/// Whether two paths name the same file (namespace files compare by device and inode).
fn same_file(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

/// Remove the task's table, if any; what is left of the namespace then allows everything.
pub fn remove(netns: &NetNs) -> Result<(), FirewallError> {
    run(netns, NFT, &["-f", "-"], Some(&removal()))?;
    Ok(())
}

/// The fingerprint ([`Ruleset::fingerprint`]) of the table the namespace enforces, or
/// `None` when it has no Flotilla table (or one without a fingerprint).
pub fn applied(netns: &NetNs) -> Result<Option<String>, FirewallError> {
    let args = ["list", "table", "inet", "flotilla"];
    match run(netns, NFT, &args, None) {
        Ok(output) => Ok(render::listed_fingerprint(&String::from_utf8_lossy(
            &output.stdout,
        ))),
        Err(ToolError::Failed { ref stderr, .. }) if stderr.contains("No such file") => Ok(None),
        Err(e) => Err(e.into()),
    }
}
