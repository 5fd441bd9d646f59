//! What the host offers, read from `/proc` and the standard library: CPU units (cores ×
//! 1024), memory in MiB, the TCP and UDP ports already in use, and the standard `ecs.*`
//! attributes. Parsing is pure (tested on sample text); reading the files is a thin shell.

use std::collections::BTreeSet;

use flotilla_model::container_instance::Capacity;

/// The host's capacity as ECS resources count it.
/// With `probe` false, only the reserved ports count as taken.
pub(crate) fn host_capacity(
    reserved_tcp: &[u16],
    exclude: &BTreeSet<u16>,
    probe: bool,
) -> Capacity {
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let memory = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| mem_total_mib(&s))
        .unwrap_or(0);
    let mut tcp: BTreeSet<u16> = reserved_tcp.iter().copied().collect();
    let mut udp = BTreeSet::new();
    let probed = |files: [&'static str; 2]| if probe { files.to_vec() } else { vec![] };
    for file in probed(["/proc/net/tcp", "/proc/net/tcp6"]) {
        if let Ok(text) = std::fs::read_to_string(file) {
            tcp.extend(ports_in_use(&text, Some("0A")));
        }
    }
    for file in probed(["/proc/net/udp", "/proc/net/udp6"]) {
        if let Ok(text) = std::fs::read_to_string(file) {
            udp.extend(ports_in_use(&text, None));
        }
    }
    // Ports our own (adopted) tasks hold are the tasks' resources, not the host's.
    tcp.retain(|p| !exclude.contains(p) || reserved_tcp.contains(p));
    udp.retain(|p| !exclude.contains(p));
    Capacity {
        cpu: cores as i64 * 1024,
        memory,
        tcp_ports: tcp,
        udp_ports: udp,
    }
}

/// `MemTotal` of `/proc/meminfo`, in MiB.
pub(crate) fn mem_total_mib(meminfo: &str) -> Option<i64> {
    let line = meminfo.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: i64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024)
}

/// Local ports of the sockets in a `/proc/net/{tcp,udp}[6]` table; with `state`, only
/// sockets in that state (`0A` is LISTEN).
pub(crate) fn ports_in_use(table: &str, state: Option<&str>) -> BTreeSet<u16> {
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let mut cols = line.split_whitespace();
            let local = cols.nth(1)?;
            let st = cols.nth(1)?;
            if state.is_some_and(|s| s != st) {
                return None;
            }
            let port = u16::from_str_radix(local.rsplit(':').next()?, 16).ok()?;
            (port != 0).then_some(port)
        })
        .collect()
}

/// The CPU architecture as ECS spells it (`x86_64`, `arm64`).
pub(crate) fn cpu_architecture() -> &'static str {
    match std::env::consts::ARCH {
        "aarch64" => "arm64",
        other => other,
    }
}

/// A name for this host, for the identity document.
pub(crate) fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_comes_from_mem_total() {
        let text = "MemTotal:       16314576 kB\nMemFree:         1234 kB\n";
        assert_eq!(mem_total_mib(text), Some(15932));
        assert_eq!(mem_total_mib("nothing"), None);
    }

    #[test]
    fn listening_tcp_ports_are_read_from_the_socket_table() {
        let tcp = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
   0: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1\n\
   1: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2 1\n\
   2: 0100007F:C350 0100007F:1F90 01 00000000:00000000 00:00000000 00000000     0        0 3 1\n";
        assert_eq!(ports_in_use(tcp, Some("0A")), BTreeSet::from([22, 8080]));
        let tcp6 = "  sl  local_address                         remote_address                        st\n\
   0: 00000000000000000000000000000000:0050 00000000000000000000000000000000:0000 0A 0 0 0\n";
        assert_eq!(ports_in_use(tcp6, Some("0A")), BTreeSet::from([80]));
        let udp = "  sl  local_address rem_address   st\n   0: 00000000:0044 00000000:0000 07 0\n";
        assert_eq!(ports_in_use(udp, None), BTreeSet::from([68]));
    }

    #[test]
    fn architecture_is_spelled_as_ecs_does() {
        assert!(
            ["x86_64", "arm64"].contains(&cpu_architecture())
                || !cfg!(any(target_arch = "x86_64", target_arch = "aarch64"))
        );
    }
}
