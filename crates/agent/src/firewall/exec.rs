//! Running the host's networking tools (`nft`, `ip`) inside a network namespace.
//!
//! The agent enters a namespace with `nsenter --net=PATH PROGRAM` rather than calling
//! `setns(2)` on one of its own threads: the tools are separate programs anyway, the
//! agent keeps `#![forbid(unsafe_code)]`, and no thread of the agent's runtime is ever
//! left in a task's namespace by mistake. These calls block; async callers run them on
//! `spawn_blocking`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Output, Stdio};

/// Directories searched for a tool after `PATH` (an agent started by a service manager
/// may lack the `sbin` directories, where Debian installs `nft` and `ip`).
const SBIN: [&str; 2] = ["/usr/sbin", "/sbin"];

/// A network namespace the agent acts in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NetNs {
    /// The agent's own (the host's).
    Current,
    /// The namespace a file refers to: `/proc/PID/ns/net`, or `/run/netns/NAME` for one
    /// made with `ip netns add`.
    Path(PathBuf),
}

impl NetNs {
    /// The namespace of process `pid`: for a task, its pause container's process.
    pub fn of_pid(pid: u32) -> Self {
        NetNs::Path(PathBuf::from(format!("/proc/{pid}/ns/net")))
    }

    /// The namespace that `path` refers to.
    pub fn at(path: impl Into<PathBuf>) -> Self {
        NetNs::Path(path.into())
    }
}

/// A program and the Debian package that provides it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tool {
    pub name: &'static str,
    pub package: &'static str,
}

pub(crate) const NFT: Tool = Tool {
    name: "nft",
    package: "nftables",
};
pub(crate) const IP: Tool = Tool {
    name: "ip",
    package: "iproute2",
};
pub(crate) const IPTABLES: Tool = Tool {
    name: "iptables",
    package: "iptables",
};
const NSENTER: Tool = Tool {
    name: "nsenter",
    package: "util-linux",
};
const SH: Tool = Tool {
    name: "sh",
    package: "dash",
};

/// Why running a tool failed.
#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    /// The program is not installed.
    #[error(
        "`{tool}` not found in PATH, /usr/sbin or /sbin: install Debian's `{package}` package"
    )]
    Missing {
        /// The program.
        tool: &'static str,
        /// The Debian package that provides it.
        package: &'static str,
    },
    /// The network namespace does not exist (any more): its last process exited, e.g. the
    /// task's pause container stopped.
    #[error("network namespace {} does not exist", .0.display())]
    NamespaceGone(PathBuf),
    /// The program could not be started, fed or waited for.
    #[error("running `{tool}`: {source}")]
    Io {
        /// The program.
        tool: &'static str,
        /// What the system said.
        source: std::io::Error,
    },
    /// The program ran and failed; its standard error says why.
    #[error("`{tool}` failed ({status}): {stderr}")]
    Failed {
        /// The program.
        tool: &'static str,
        /// Its exit status.
        status: ExitStatus,
        /// Its standard error, trimmed.
        stderr: String,
    },
}

/// Where `tool` is installed: the first match in `PATH`, then in the `sbin` directories.
pub(crate) fn locate(tool: Tool) -> Result<PathBuf, ToolError> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(SBIN.iter().map(PathBuf::from))
        .map(|dir| dir.join(tool.name))
        .find(|candidate| candidate.is_file())
        .ok_or(ToolError::Missing {
            tool: tool.name,
            package: tool.package,
        })
}

/// Run `tool args...` in `netns` with `input` on its standard input; its output when it
/// exits with success.
pub(crate) fn run(
    netns: &NetNs,
    tool: Tool,
    args: &[&str],
    input: Option<&str>,
) -> Result<Output, ToolError> {
    let program = locate(tool)?;
    let mut command = match netns {
        NetNs::Current => Command::new(&program),
        NetNs::Path(path) => {
            if !path.exists() {
                return Err(ToolError::NamespaceGone(path.clone()));
            }
            let mut command = Command::new(locate(NSENTER)?);
            command
                .arg(format!("--net={}", path.display()))
                .arg(&program);
            command
        }
    };
    command
        .args(args)
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let io = |source| ToolError::Io {
        tool: tool.name,
        source,
    };
    let mut child = command.spawn().map_err(io)?;
    if let (Some(input), Some(mut stdin)) = (input, child.stdin.take()) {
        // Dropping `stdin` at the end of this block closes it, so the tool sees its end.
        // A tool that exits early (say, nsenter without its namespace) closes the pipe:
        // its status and standard error below say more than the broken pipe.
        match stdin.write_all(input.as_bytes()) {
            Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(io(e));
            }
            _ => {}
        }
    }
    let output = child.wait_with_output().map_err(io)?;
    if output.status.success() {
        Ok(output)
    } else {
        Err(ToolError::Failed {
            tool: tool.name,
            status: output.status,
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_string(),
        })
    }
}

/// Write `value` to the sysctl file `key` (a path under `/proc/sys/`) as seen from
/// `netns`. Network sysctls belong to the namespace of the process that opens them.
pub(crate) fn write_sysctl(netns: &NetNs, key: &Path, value: &str) -> Result<(), ToolError> {
    let path = Path::new("/proc/sys").join(key);
    match netns {
        NetNs::Current => std::fs::write(&path, value).map_err(|source| ToolError::Io {
            tool: "sysctl",
            source,
        }),
        NetNs::Path(_) => {
            // `sh -c` with the path and value as positional arguments, never spliced in.
            let path = path.to_string_lossy();
            let args: [&str; 5] = ["-c", "printf '%s' \"$2\" > \"$1\"", "sh", &path, value];
            run(netns, SH, &args, None).map(|_| ())
        }
    }
}
