//! End-to-end tests: the plane on real loopback sockets, driven by hand-made
//! configurations, with small hyper backends behind it.

mod harness;
mod health;
mod routing;
mod tls;
mod traffic;
mod upstream;
