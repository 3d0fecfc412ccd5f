//! devenv-testkit: what every crate's tests share (a dev-dependency only, never in a binary).
//!
//! - [`ports`]: loopback ports for test servers that nothing else can take meanwhile.
//! - [`servers`]: real PostgreSQL, redis-server, nats-server and s3s-fs on free loopback ports.
//! - [`openbao`]: a real OpenBao (Vault's API) in dev mode, with helpers to set it up, or with
//!   persistent raft storage, uninitialised.
//! - [`rabbitmq`]: a real RabbitMQ broker with the management plugin.
//! - [`cmd`]: one command builder over the workspace's real binaries, with the environment
//!   cleared the same way for every crate.
//! - [`scratch`]: throwaway workspaces with `configs/ports.yaml` on free ports, built from the
//!   one list of port names ([`devenv_core::stack::PortName::ALL`]).
//! - [`schema`]: the one JSON-Schema check for the documents the binaries print.

pub mod cmd;
pub mod openbao;
pub mod ports;
pub mod rabbitmq;
pub mod schema;
pub mod scratch;
pub mod servers;

pub use cmd::{Cmd, Run};
pub use openbao::{BaoApi, BaoResponse, OpenBao, PersistentBao, RoleSpec};
pub use rabbitmq::RabbitMq;
pub use servers::*;
