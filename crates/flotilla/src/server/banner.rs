//! What `flotilla server` and `flotilla up` print once they listen: the endpoint, the
//! credentials' source (never the secret), and where each data plane and the console are.

use std::net::SocketAddr;

use super::ServerArgs;
use crate::{credentials, default_data_dir};

pub(super) fn banner(
    args: &ServerArgs,
    (endpoint, console): (&str, Option<&str>),
    registry: &str,
    (dns, container_dns): (Option<SocketAddr>, Option<std::net::IpAddr>),
    pair: &credentials::KeyPair,
    (source, secrets_key): (&credentials::Source, &str),
    up: bool,
) {
    println!("Flotilla is listening on {endpoint}");
    println!("  data directory:  {}", args.data_dir.display());
    println!(
        "  account:         {}   region: {}",
        args.account_id, args.region
    );
    println!("  access key id:   {}", pair.access_key_id);
    match source {
        credentials::Source::Environment => {
            println!("  credentials:     from FLOTILLA_ACCESS_KEY_ID / FLOTILLA_SECRET_ACCESS_KEY")
        }
        credentials::Source::File(p) => println!("  credentials:     {}", p.display()),
        // The secret itself is never printed: output is often kept in logs.
        credentials::Source::Generated(p) => {
            println!("  credentials:     generated and saved to {}", p.display());
        }
    }
    if flotilla_aws::is_weak_secret(&pair.secret_access_key) {
        println!(
            "  WARNING:         the secret access key is {} characters long; AWS's are {} \
             random ones. Anyone who guesses it holds the account's root key: use a weak \
             secret only on a machine no one else reaches.",
            pair.secret_access_key.len(),
            flotilla_aws::SECRET_LEN
        );
    }
    println!("  secrets key:     {secrets_key}");
    println!("  image registry:  {registry}   (docker login {registry}, see docs/registry.md)");
    if let Some(url) = console {
        println!("  web console:     {url}   (sign in with an access key, see docs/console.md)");
    }
    if let Some(dns) = dns {
        println!(
            "  DNS server:      {dns}   (dig @{} -p {} NAME, see docs/dns.md)",
            dns.ip(),
            dns.port()
        );
    }
    if let Some(ip) = container_dns {
        let agents = if up {
            ""
        } else {
            "; run agents with --container-dns"
        };
        println!("  containers resolve through {ip}:53{agents}");
    }
    let offset = match args.lb_port_offset {
        0 => String::new(),
        n => format!(", each listener on its port + {n}"),
    };
    println!(
        "  load balancers:  listen on {}{offset}, one address each (see docs/load-balancing.md)",
        args.lb_node_bind.as_deref().unwrap_or(&args.lb_bind)
    );
    if up {
        println!("  cluster:         default, with an agent on this host (Docker Engine)");
    }
    let dir_flag = if args.data_dir == default_data_dir() {
        String::new()
    } else {
        format!(" --data-dir {}", args.data_dir.display())
    };
    println!("Point the AWS CLI and SDKs at it with:");
    println!("  eval \"$(flotilla env{dir_flag})\"");
    use std::io::Write;
    let _ = std::io::stdout().flush();
}
