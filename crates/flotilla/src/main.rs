//! The `flotilla` binary: argument parsing and wiring only. Each subcommand lives in its
//! own module; the pieces it wires together live in the library crates.
#![forbid(unsafe_code)]

mod agent;
mod backup;
mod bench;
mod cli;
mod credentials;
mod env;
mod registry;
mod server;
mod token;

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// mimalloc rather than the system's allocator: the load balancer's requests allocate and
/// free many small buffers across threads, which it does with less CPU (see BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// A self-hosted container orchestrator that speaks the AWS ECS APIs.
#[derive(Parser)]
#[command(name = "flotilla", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Everything on this machine: the server with its embedded store, a `default` cluster
    /// and an agent running its tasks on the local Docker Engine.
    Up(server::UpArgs),
    /// The control plane: every AWS API on one port, backed by the store.
    Server(server::ServerArgs),
    /// The agent: register this host with a server and run its tasks on Docker Engine.
    Agent(agent::AgentArgs),
    /// Print `export` lines that point the AWS CLI and SDKs at the running Flotilla.
    Env {
        /// Data directory of the running instance.
        #[arg(long, env = "FLOTILLA_DATA_DIR", default_value_os_t = default_data_dir())]
        data_dir: PathBuf,
    },
    /// Join tokens for agents: `flotilla token create --cluster C` prints one to pass to
    /// `flotilla agent --join-token`.
    #[command(subcommand)]
    Token(token::TokenCommand),
    /// The image registry: `flotilla registry gc` collects its garbage now.
    #[command(subcommand)]
    Registry(registry::RegistryCommand),
    /// Clusters, services (desired, running, pending, rollout) and instances (free CPU and
    /// memory, agent) at a glance.
    Status(cli::status::StatusArgs),
    /// Tasks with their status, health, host, ports and age (`--all` for stopped ones).
    Ps(cli::ps::PsArgs),
    /// A service's events, oldest first (`-f` to follow).
    Events(cli::events::EventsArgs),
    /// Deploy new images or variables to a service and follow the rollout until it is
    /// stable, failed or rolled back (exit code 0 only when stable).
    Deploy(cli::deploy::DeployArgs),
    /// The lines of a service's or a task's containers that log with awslogs (`-f` to
    /// follow).
    Logs(cli::logs::LogsArgs),
    /// Run a command in a running task's container through its agent (`-t` for a
    /// terminal, `-i` to send standard input); exits with the command's status.
    Exec(cli::exec::ExecArgs),
    /// Print a completion script for a shell: `source <(flotilla completions bash)`.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Write a consistent copy of the running instance's store (every resource, the
    /// registry's metadata; not the registry's blobs or the secrets key) to a file.
    Backup(backup::BackupArgs),
    /// Load a backup into a new data directory or an empty etcd, then start a server on it.
    Restore(backup::RestoreArgs),
    /// Benchmarks that drive a real server (see BENCHMARKS.md).
    #[command(subcommand)]
    Bench(bench::BenchCommand),
    /// Print the operations of one AWS service (`ecs`, `ecr`, `elbv2`, `ec2`, `acm`,
    /// `route53`, `servicediscovery`, `cloudwatch`, `logs`, `application-autoscaling`,
    /// `iam`, `secretsmanager` or `ssm`) this build implements, one per line.
    #[command(hide = true)]
    Operations {
        #[arg(default_value = "ecs")]
        service: String,
    },
}

/// `$FLOTILLA_DATA_DIR`, else `$XDG_DATA_HOME/flotilla`, else `~/.local/share/flotilla`.
pub fn default_data_dir() -> PathBuf {
    if let Some(xdg) = std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(xdg).join("flotilla");
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."));
    home.join(".local/share/flotilla")
}

/// The default API address.
pub fn default_api_addr() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 4566))
}

/// The default registry address: loopback, which Docker treats as an insecure registry
/// without any daemon configuration.
pub fn default_registry_addr() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 4567))
}

/// Errors end the process with status 1 and one line (`Error: what: why`), never a
/// backtrace, whatever `RUST_BACKTRACE` says: they are messages for people.
fn main() {
    if let Err(e) = run(Cli::parse()) {
        eprintln!("Error: {e:#}");
        std::process::exit(1);
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Env { data_dir } => env::print(&data_dir),
        Command::Operations { service } => {
            let ops = flotilla_server::operations(&service).ok_or_else(|| {
                anyhow::anyhow!(
                    "unknown service '{service}': ecs, ecr, elbv2, ec2, acm, route53, servicediscovery, cloudwatch, logs, application-autoscaling, iam, secretsmanager or ssm"
                )
            })?;
            for op in ops {
                println!("{op}");
            }
            Ok(())
        }
        Command::Up(args) => server::run_up(args),
        Command::Server(args) => server::run_server(args),
        Command::Agent(args) => agent::run(args),
        Command::Backup(args) => backup::run_backup(args),
        Command::Restore(args) => backup::run_restore(args),
        Command::Bench(cmd) => bench::run(cmd),
        Command::Token(cmd) => token::run(cmd),
        Command::Registry(cmd) => registry::run(cmd),
        Command::Logs(args) => cli::logs::run(args),
        Command::Exec(args) => std::process::exit(cli::exec::run(args)?),
        Command::Status(args) => cli::status::run(args),
        Command::Ps(args) => cli::ps::run(args),
        Command::Events(args) => cli::events::run(args),
        Command::Deploy(args) => std::process::exit(cli::deploy::run(args)?),
        Command::Completions { shell } => {
            use clap::CommandFactory as _;
            let mut command = Cli::command();
            clap_complete::generate(shell, &mut command, "flotilla", &mut std::io::stdout());
            Ok(())
        }
    }
}
