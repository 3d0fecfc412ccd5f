//! The stack model: which services exist, their default ports (`configs/ports.yaml`),
//! `DEVENV_<NAME>_PORT` overrides, and port resolution with conflict detection.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use crate::bundle::Bundle;
use crate::exit::{self, ExitCoded};
use crate::netproc::{self, Holder};

/// Environment variable that turns a taken port into an error instead of a reassignment.
pub const STRICT_PORTS_ENV: &str = "DEVENV_STRICT_PORTS";

/// A port the stack needs. Names are the keys of `configs/ports.yaml`; the override variable
/// is `DEVENV_<NAME>_PORT` upper-cased (`mock_inference` → `DEVENV_MOCK_INFERENCE_PORT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PortName {
    Postgres,
    Redis,
    Nats,
    NatsMonitor,
    S3,
    S3Console,
    MockInference,
    Rabbitmq,
    RabbitmqManagement,
    /// Erlang distribution (inter-node and CLI tool traffic) of the native RabbitMQ node.
    RabbitmqDist,
    /// The Erlang port mapper the native RabbitMQ node registers with (its own, not 4369's).
    RabbitmqEpmd,
    Vault,
    /// OpenBao's cluster listener (its raft storage requires one, even with a single node).
    VaultCluster,
}

impl PortName {
    pub const ALL: [PortName; 13] = [
        PortName::Postgres,
        PortName::Redis,
        PortName::Nats,
        PortName::NatsMonitor,
        PortName::S3,
        PortName::S3Console,
        PortName::MockInference,
        PortName::Rabbitmq,
        PortName::RabbitmqManagement,
        PortName::RabbitmqDist,
        PortName::RabbitmqEpmd,
        PortName::Vault,
        PortName::VaultCluster,
    ];

    pub fn key(self) -> &'static str {
        match self {
            PortName::Postgres => "postgres",
            PortName::Redis => "redis",
            PortName::Nats => "nats",
            PortName::NatsMonitor => "nats_monitor",
            PortName::S3 => "s3",
            PortName::S3Console => "s3_console",
            PortName::MockInference => "mock_inference",
            PortName::Rabbitmq => "rabbitmq",
            PortName::RabbitmqManagement => "rabbitmq_management",
            PortName::RabbitmqDist => "rabbitmq_dist",
            PortName::RabbitmqEpmd => "rabbitmq_epmd",
            PortName::Vault => "vault",
            PortName::VaultCluster => "vault_cluster",
        }
    }

    pub fn from_key(key: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.key() == key)
    }

    pub fn env_var(self) -> String {
        format!("DEVENV_{}_PORT", self.key().to_ascii_uppercase())
    }

    /// The service a port belongs to (its pid file is `.devenv/run/<service>.pid`).
    pub fn service(self) -> &'static str {
        match self {
            PortName::Postgres => "postgres",
            PortName::Redis => "redis",
            PortName::Nats | PortName::NatsMonitor => "nats",
            PortName::S3 | PortName::S3Console => "s3",
            PortName::MockInference => "mock_inference",
            PortName::Rabbitmq | PortName::RabbitmqManagement | PortName::RabbitmqDist => {
                "rabbitmq"
            }
            // Its own process (native.sh starts it before the node), with its own pid file.
            PortName::RabbitmqEpmd => "rabbitmq_epmd",
            PortName::Vault | PortName::VaultCluster => "vault",
        }
    }

    /// The bundle key that records this port. Beyond DESIGN's POSTGRES_PORT / REDIS_PORT the
    /// bundle records every port, so scripts and compose read them from one file and later
    /// runs keep the same ports ([`ports_in_bundle`]).
    pub fn bundle_key(self) -> &'static str {
        match self {
            PortName::Postgres => "POSTGRES_PORT",
            PortName::Redis => "REDIS_PORT",
            PortName::Nats => "NATS_PORT",
            PortName::NatsMonitor => "NATS_MONITOR_PORT",
            PortName::S3 => "S3_PORT",
            PortName::S3Console => "S3_CONSOLE_PORT",
            PortName::MockInference => "MOCK_INFERENCE_PORT",
            PortName::Rabbitmq => "RABBITMQ_PORT",
            PortName::RabbitmqManagement => "RABBITMQ_MANAGEMENT_PORT",
            PortName::RabbitmqDist => "RABBITMQ_DIST_PORT",
            PortName::RabbitmqEpmd => "RABBITMQ_EPMD_PORT",
            PortName::Vault => "VAULT_PORT",
            PortName::VaultCluster => "VAULT_CLUSTER_PORT",
        }
    }

    /// Ports every `make up` starts; the others belong to optional profiles.
    pub fn is_core(self) -> bool {
        self.profile().is_none()
    }

    /// The optional profile (`PROFILES=`) whose service owns this port, if any.
    pub fn profile(self) -> Option<&'static str> {
        match self.service() {
            "rabbitmq" | "rabbitmq_epmd" => Some("rabbitmq"),
            "vault" => Some("vault"),
            _ => None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StackError {
    #[error("cannot read {path}: {source} — restore it with `git checkout -- configs/ports.yaml`")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}:{line}:{column}: {message} — fix the YAML (expected `name: port` pairs)")]
    Malformed {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{path}: unknown port name `{name}` — known names: {known}")]
    UnknownName {
        path: PathBuf,
        name: String,
        known: String,
    },
    #[error("{path}: `{name}` is missing — add `{name}: <port>`")]
    Missing { path: PathBuf, name: String },
    #[error("{var}={value} is not a port number (1-65535) — unset it or give a number")]
    BadOverride { var: String, value: String },
    #[error(
        "port {port} for {name} is taken by {holder} — stop that process, set {var} to another port, or unset {STRICT_PORTS_ENV} to pick the next free port automatically"
    )]
    PortTaken {
        name: &'static str,
        port: u16,
        holder: Holder,
        var: String,
    },
    #[error("no free port for {name} between {from} and 65535 — free a port or set {var}")]
    Exhausted {
        name: &'static str,
        from: u16,
        var: String,
    },
}

impl ExitCoded for StackError {
    fn exit_code(&self) -> u8 {
        exit::USAGE
    }
}

/// Default ports, as read from `configs/ports.yaml`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortDefaults {
    pub ports: BTreeMap<PortName, u16>,
}

impl PortDefaults {
    pub fn load(path: &Path) -> Result<Self, StackError> {
        let text = std::fs::read_to_string(path).map_err(|source| StackError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(&text, path)
    }

    pub fn parse(text: &str, path: &Path) -> Result<Self, StackError> {
        let raw: BTreeMap<String, u16> = serde_norway::from_str(text).map_err(|e| {
            let (line, column, message) = crate::yaml::error_location(&e);
            StackError::Malformed {
                path: path.to_path_buf(),
                line,
                column,
                message,
            }
        })?;
        let mut ports = BTreeMap::new();
        for (name, port) in raw {
            let key = PortName::from_key(&name).ok_or_else(|| StackError::UnknownName {
                path: path.to_path_buf(),
                name: name.clone(),
                known: PortName::ALL.map(|p| p.key()).join(", "),
            })?;
            if port == 0 {
                return Err(StackError::Malformed {
                    path: path.to_path_buf(),
                    line: line_of(text, &name),
                    column: 1,
                    message: format!("`{name}` must be a port between 1 and 65535"),
                });
            }
            ports.insert(key, port);
        }
        for name in PortName::ALL {
            if !ports.contains_key(&name) {
                return Err(StackError::Missing {
                    path: path.to_path_buf(),
                    name: name.key().to_string(),
                });
            }
        }
        Ok(Self { ports })
    }

    pub fn get(&self, name: PortName) -> u16 {
        self.ports[&name]
    }
}

fn line_of(text: &str, key: &str) -> usize {
    text.lines()
        .position(|l| l.trim_start().starts_with(&format!("{key}:")))
        .map(|i| i + 1)
        .unwrap_or(1)
}

/// How a port was decided.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PortAssignment {
    pub name: &'static str,
    pub port: u16,
    /// The port asked for (override, earlier bundle, or default).
    pub requested: u16,
    /// Set when `requested` was taken and `port` is the next free one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub taken_by: Option<Holder>,
}

/// Where a requested port comes from, strongest first.
pub struct PortRequest {
    pub name: PortName,
    pub port: u16,
    /// True when the user asked for this port (`DEVENV_<NAME>_PORT`) rather than inheriting it.
    pub explicit: bool,
}

/// The ports an earlier bundle recorded, so a reassigned port stays put across runs.
pub fn ports_in_bundle(bundle: &Bundle) -> BTreeMap<PortName, u16> {
    PortName::ALL
        .into_iter()
        .filter_map(|name| Some((name, bundle.get(name.bundle_key())?.parse().ok()?)))
        .collect()
}

/// Computes the requested port of each name: `DEVENV_<NAME>_PORT`, else the port an earlier
/// bundle recorded (stability across runs), else the default.
pub fn requested_ports(
    defaults: &PortDefaults,
    previous: &BTreeMap<PortName, u16>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<PortRequest>, StackError> {
    let mut out = Vec::new();
    for name in PortName::ALL {
        let var = name.env_var();
        if let Some(value) = env(&var).filter(|v| !v.is_empty()) {
            let port = value
                .trim()
                .parse::<u16>()
                .ok()
                .filter(|p| *p != 0)
                .ok_or_else(|| StackError::BadOverride {
                    var: var.clone(),
                    value: value.clone(),
                })?;
            out.push(PortRequest {
                name,
                port,
                explicit: true,
            });
        } else {
            let port = previous
                .get(&name)
                .copied()
                .unwrap_or_else(|| defaults.get(name));
            out.push(PortRequest {
                name,
                port,
                explicit: false,
            });
        }
    }
    Ok(out)
}

/// Decides the final ports. A requested port is kept when it is free or held by one of the
/// workspace's own services (`is_ours`); otherwise, in strict mode or for an explicit
/// override it is an error naming the holder, else the next free port is taken.
pub fn resolve_ports(
    requests: &[PortRequest],
    strict: bool,
    is_ours: &dyn Fn(PortName, &Holder) -> bool,
) -> Result<Vec<PortAssignment>, StackError> {
    let mut used: HashSet<u16> = HashSet::new();
    let mut out = Vec::new();
    for req in requests {
        let holder = netproc::port_holder(req.port).filter(|h| !is_ours(req.name, h));
        let clash = used.contains(&req.port);
        if holder.is_none() && !clash {
            used.insert(req.port);
            out.push(PortAssignment {
                name: req.name.key(),
                port: req.port,
                requested: req.port,
                taken_by: None,
            });
            continue;
        }
        let holder = holder.unwrap_or(Holder {
            pid: Some(std::process::id()),
            command: Some("devenv itself (already assigned to another service)".to_string()),
            cmdline: None,
        });
        if strict {
            return Err(StackError::PortTaken {
                name: req.name.key(),
                port: req.port,
                holder,
                var: req.name.env_var(),
            });
        }
        let next = (req.port.saturating_add(1)..=u16::MAX)
            .find(|p| !used.contains(p) && !netproc::port_in_use(*p))
            .ok_or_else(|| StackError::Exhausted {
                name: req.name.key(),
                from: req.port,
                var: req.name.env_var(),
            })?;
        used.insert(next);
        out.push(PortAssignment {
            name: req.name.key(),
            port: next,
            requested: req.port,
            taken_by: Some(holder),
        });
    }
    Ok(out)
}

/// True when a port's holder is this workspace's own service: its pid is recorded in
/// `.devenv/run/<service>.pid`, or its command line points into this workspace's `.devenv/`
/// (a service restarted outside the scripts). Such a port is in use, but not a conflict.
pub fn held_by_workspace(ws: &crate::paths::Workspace, name: PortName, holder: &Holder) -> bool {
    let recorded = holder.pid.is_some_and(|pid| {
        ws.own_pids()
            .iter()
            .any(|(svc, p)| *p == pid && svc == name.service())
    });
    let state_dir = ws.state_dir();
    recorded
        || holder
            .cmdline
            .as_deref()
            .is_some_and(|cmd| cmd.contains(state_dir.to_string_lossy().as_ref()))
}

/// True when `DEVENV_STRICT_PORTS` is set to a true value.
pub fn strict_ports_from_env() -> bool {
    matches!(
        std::env::var(STRICT_PORTS_ENV).as_deref(),
        Ok("1") | Ok("true") | Ok("yes")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "postgres: 5432\nredis: 6379\nnats: 4222\nnats_monitor: 8222\ns3: 9000\ns3_console: 9001\nmock_inference: 8000\nrabbitmq: 5672\nrabbitmq_management: 15672\nrabbitmq_dist: 25672\nrabbitmq_epmd: 4369\nvault: 8200\nvault_cluster: 8201\n";

    #[test]
    fn parses_defaults() {
        let d = PortDefaults::parse(GOOD, Path::new("ports.yaml")).unwrap();
        assert_eq!(d.get(PortName::NatsMonitor), 8222);
        assert_eq!(
            PortName::MockInference.env_var(),
            "DEVENV_MOCK_INFERENCE_PORT"
        );
    }

    #[test]
    fn malformed_yaml_names_file_and_line() {
        let bad = "postgres: 5432\nredis: [6379\nnats: 4222\n";
        let err = PortDefaults::parse(bad, Path::new("configs/ports.yaml")).unwrap_err();
        let msg = err.to_string();
        assert!(msg.starts_with("configs/ports.yaml:"), "{msg}");
        assert!(
            matches!(err, StackError::Malformed { line, .. } if line >= 2),
            "{msg}"
        );
        let wrong_type = "postgres: five\n";
        let err = PortDefaults::parse(wrong_type, Path::new("p.yaml")).unwrap_err();
        assert!(err.to_string().starts_with("p.yaml:1:"), "{err}");
        let typo = GOOD.replace("redis:", "rediss:");
        let err = PortDefaults::parse(&typo, Path::new("p.yaml")).unwrap_err();
        assert!(err.to_string().contains("rediss"), "{err}");
    }

    #[test]
    fn taken_port_moves_to_next_free_unless_strict() {
        let listener = std::net::TcpListener::bind(("127.0.0.1", 0)).unwrap();
        let port = listener.local_addr().unwrap().port();
        let req = [PortRequest {
            name: PortName::Redis,
            port,
            explicit: false,
        }];
        let got = resolve_ports(&req, false, &|_, _| false).unwrap();
        assert_ne!(got[0].port, port);
        assert!(got[0].port > port);
        let holder = got[0].taken_by.as_ref().unwrap();
        assert_eq!(holder.pid, Some(std::process::id()));

        let err = resolve_ports(&req, true, &|_, _| false).unwrap_err();
        assert!(
            err.to_string()
                .contains(&format!("port {port} for redis is taken by")),
            "{err}"
        );
        // Our own service holding the port is not a conflict.
        let got = resolve_ports(&req, true, &|_, _| true).unwrap();
        assert_eq!(got[0].port, port);
    }

    #[test]
    fn every_port_round_trips_through_a_bundle() {
        let mut b = Bundle::new();
        for (i, name) in PortName::ALL.into_iter().enumerate() {
            b.set(name.bundle_key(), (20_000 + i).to_string());
        }
        b.set("NATS_PORT", "not-a-port");
        let ports = ports_in_bundle(&b);
        assert_eq!(ports.len(), PortName::ALL.len() - 1);
        assert_eq!(ports[&PortName::Postgres], 20_000);
        assert!(!ports.contains_key(&PortName::Nats));
    }

    #[test]
    fn overrides_beat_previous_and_defaults() {
        let d = PortDefaults::parse(GOOD, Path::new("p")).unwrap();
        let mut prev = BTreeMap::new();
        prev.insert(PortName::Redis, 6390);
        let env = |k: &str| (k == "DEVENV_POSTGRES_PORT").then(|| "6000".to_string());
        let reqs = requested_ports(&d, &prev, &env).unwrap();
        let get = |n: PortName| reqs.iter().find(|r| r.name == n).unwrap();
        assert_eq!(get(PortName::Postgres).port, 6000);
        assert!(get(PortName::Postgres).explicit);
        assert_eq!(get(PortName::Redis).port, 6390);
        assert_eq!(get(PortName::Nats).port, 4222);
        let bad = |k: &str| (k == "DEVENV_NATS_PORT").then(|| "x".to_string());
        assert!(requested_ports(&d, &prev, &bad).is_err());
    }
}
