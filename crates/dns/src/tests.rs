//! End-to-end tests: the plane on real loopback sockets, driven by hand-made
//! configurations, queried with real DNS messages over UDP and TCP.

mod answers;
pub(crate) mod fixtures;
mod forwarding;
mod harness;
mod routing;
mod transport;

use std::sync::{Arc, RwLock};
use std::time::Duration;

use flotilla_model::dns::DnsConfig;
use tokio::sync::Semaphore;

use crate::forward::Forwarding;
use crate::handler::Handler;
use crate::{table, Options, Shared};

/// A handler answering `config` with the default options and no forwarders, no sockets.
pub(crate) fn handler_for(config: &DnsConfig) -> Handler {
    let options = Options::default();
    Handler {
        shared: Arc::new(Shared {
            table: RwLock::new(Arc::new(table::compile(config))),
            forwarding: Forwarding {
                servers: Vec::new(),
                allow: options.forward_allow,
                timeout: Duration::from_millis(100),
                slots: Arc::new(Semaphore::new(1)),
            },
            max_udp_payload: options.max_udp_payload,
        }),
    }
}
