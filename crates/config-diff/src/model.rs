//! The normalised environment every comparison and validation works on: long-form ports and
//! volumes keyed by container side, environment as a map with each value's source file,
//! canonical durations, images split into repository / tag / digest.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::{Map, Value};
use sha2::Digest as _;

use crate::duration;
use crate::error::{Error, Result};
use crate::image::ImageRef;
use crate::interpolate::UnsetVariable;
use crate::value::{json_scalar_text, string_list};

#[derive(Debug, Clone, Default, Serialize)]
pub struct Environment {
    pub name: String,
    pub files: Vec<String>,
    pub env_files: Vec<String>,
    pub profiles: Vec<String>,
    pub services: BTreeMap<String, Service>,
    /// Services switched off by profiles, with the profiles that would enable them.
    pub inactive_services: BTreeMap<String, Vec<String>>,
    pub networks: BTreeMap<String, Value>,
    pub volumes: BTreeMap<String, Value>,
    pub unset_variables: Vec<UnsetVariable>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Service {
    pub image: Option<ImageRef>,
    /// Keyed `target/protocol` (`5432/tcp`).
    pub ports: BTreeMap<String, Port>,
    /// Keyed by container path.
    pub volumes: BTreeMap<String, Volume>,
    pub environment: BTreeMap<String, EnvEntry>,
    pub healthcheck: Option<Healthcheck>,
    pub depends_on: BTreeMap<String, Dependency>,
    pub networks: BTreeSet<String>,
    pub command: Option<Vec<String>>,
    pub entrypoint: Option<Vec<String>>,
    pub profiles: Vec<String>,
    /// Every other field as written (after interpolation), durations normalised.
    pub other: BTreeMap<String, Value>,
    /// The file that defined the service last.
    #[serde(skip)]
    pub file: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Port {
    pub target: u32,
    pub protocol: String,
    pub published: Option<String>,
    pub host_ip: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Volume {
    pub target: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub source: Option<String>,
    pub read_only: bool,
}

/// One environment variable of a service. Values of secret-looking keys are kept only as a
/// hash: the report compares them and prints `<redacted>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EnvEntry {
    /// `None`: declared without a value and not set anywhere (passes nothing through).
    pub value: Option<String>,
    /// The file the value came from (compose file, env_file or env file).
    pub source: String,
    pub secret: bool,
}

impl EnvEntry {
    pub fn new(key: &str, value: Option<String>, source: String) -> Self {
        let secret = devenv_core::redact::is_secret_key(key);
        // Not registered with the redactor: values written in compose files (`sentry`,
        // `postgres`) would then mask every occurrence of common words. The value is
        // replaced by its hash here, so it cannot be printed; bundle secrets are registered
        // where env files are read.
        let value = match value {
            Some(v) if secret => Some(secret_digest(&v)),
            other => other,
        };
        Self {
            value,
            source,
            secret,
        }
    }
}

/// What a secret value is stored as: never the value, only something to compare.
pub fn secret_digest(value: &str) -> String {
    format!(
        "sha256:{}",
        hex::encode(sha2::Sha256::digest(value.as_bytes()))
    )
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Healthcheck {
    pub test: Vec<String>,
    pub disabled: bool,
    pub interval: String,
    pub timeout: String,
    pub start_period: String,
    pub start_interval: String,
    pub retries: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Dependency {
    pub condition: String,
    pub restart: bool,
    pub required: bool,
}

const DURATION_FIELDS: &[&str] = &["stop_grace_period"];

pub fn normalise_service(
    name: &str,
    mut fields: Map<String, Value>,
    environment: BTreeMap<String, EnvEntry>,
    file: &str,
) -> Result<Service> {
    let bad = |what: &str| Error::invalid(file, format!("service `{name}`: {what}"));
    let image = fields
        .remove("image")
        .and_then(|v| json_scalar_text(&v))
        .filter(|s| !s.is_empty())
        .map(|s| ImageRef::parse(&s));

    let mut ports = BTreeMap::new();
    if let Some(v) = fields.remove("ports") {
        let Value::Array(items) = v else {
            return Err(bad("ports must be a list"));
        };
        for item in &items {
            for port in parse_ports(item).ok_or_else(|| bad(&format!("cannot read port {item}")))? {
                let mut key = format!("{}/{}", port.target, port.protocol);
                if ports.contains_key(&key) {
                    key = format!(
                        "{key}@{}:{}",
                        port.host_ip.as_deref().unwrap_or(""),
                        port.published.as_deref().unwrap_or("")
                    );
                }
                ports.insert(key, port);
            }
        }
    }

    let mut volumes = BTreeMap::new();
    if let Some(v) = fields.remove("volumes") {
        let Value::Array(items) = v else {
            return Err(bad("volumes must be a list"));
        };
        for item in &items {
            let vol =
                parse_volume(item).ok_or_else(|| bad(&format!("cannot read volume {item}")))?;
            volumes.insert(vol.target.clone(), vol);
        }
    }

    let healthcheck = match fields.remove("healthcheck") {
        Some(Value::Object(m)) => Some(parse_healthcheck(&m)),
        Some(Value::Null) | None => None,
        Some(_) => return Err(bad("healthcheck must be a mapping")),
    };

    let mut depends_on = BTreeMap::new();
    match fields.remove("depends_on") {
        Some(Value::Object(m)) => {
            for (dep, spec) in m {
                let get_bool = |k: &str, d: bool| spec.get(k).and_then(Value::as_bool).unwrap_or(d);
                depends_on.insert(
                    dep,
                    Dependency {
                        condition: spec
                            .get("condition")
                            .and_then(Value::as_str)
                            .unwrap_or("service_started")
                            .to_string(),
                        restart: get_bool("restart", false),
                        required: get_bool("required", true),
                    },
                );
            }
        }
        None | Some(Value::Null) => {}
        Some(_) => return Err(bad("depends_on must be a list or a mapping")),
    }

    let network_mode = fields.contains_key("network_mode");
    let mut networks: BTreeSet<String> = match fields.remove("networks") {
        Some(Value::Object(m)) => m.keys().cloned().collect(),
        _ => BTreeSet::new(),
    };
    if networks.is_empty() && !network_mode {
        networks.insert("default".to_string());
    }

    let command = fields.remove("command").and_then(|v| command_words(&v));
    let entrypoint = fields.remove("entrypoint").and_then(|v| command_words(&v));
    let profiles = string_list(fields.remove("profiles").as_ref());

    let mut other = BTreeMap::new();
    for (k, mut v) in fields {
        if DURATION_FIELDS.contains(&k.as_str())
            && let Some(text) = json_scalar_text(&v)
        {
            v = Value::String(duration::normalise(&text));
        }
        other.insert(k, v);
    }
    Ok(Service {
        image,
        ports,
        volumes,
        environment,
        healthcheck,
        depends_on,
        networks,
        command,
        entrypoint,
        profiles,
        other,
        file: file.to_string(),
    })
}

/// Short (`[ip:][published:]target[/proto]`, ranges allowed) or long port syntax.
fn parse_ports(item: &Value) -> Option<Vec<Port>> {
    match item {
        Value::Number(n) => Some(vec![Port {
            target: u32::try_from(n.as_u64()?).ok()?,
            protocol: "tcp".into(),
            published: None,
            host_ip: None,
        }]),
        Value::String(s) => {
            let (spec, protocol) = match s.rsplit_once('/') {
                Some((spec, proto)) => (spec, proto.to_ascii_lowercase()),
                None => (s.as_str(), "tcp".to_string()),
            };
            // An IPv6 host address is bracketed: `[::1]:8080:80`.
            let (host_ip, rest) = match spec.strip_prefix('[') {
                Some(r) => {
                    let (ip, rest) = r.split_once(']')?;
                    (Some(ip.to_string()), rest.trim_start_matches(':'))
                }
                None => (None, spec),
            };
            let parts: Vec<&str> = rest.split(':').collect();
            let (host_ip, published, target) = match parts.as_slice() {
                [t] => (host_ip, None, *t),
                [p, t] => (host_ip, Some(*p), *t),
                [ip, p, t] => (Some(ip.to_string()), Some(*p), *t),
                _ => return None,
            };
            let published = published.filter(|p| !p.is_empty());
            let targets = range(target)?;
            let published_range = match published {
                Some(p) => Some(range(p)?),
                None => None,
            };
            let mut out = Vec::new();
            for (i, t) in targets.iter().enumerate() {
                let published = match &published_range {
                    Some(p) if p.len() == targets.len() => Some(p[i].to_string()),
                    // A published range larger than the target range: compose picks one.
                    Some(_) => published.map(String::from),
                    None => None,
                };
                out.push(Port {
                    target: *t,
                    protocol: protocol.clone(),
                    published,
                    host_ip: host_ip.clone(),
                });
            }
            Some(out)
        }
        Value::Object(m) => Some(vec![Port {
            target: json_scalar_text(m.get("target")?)?.parse().ok()?,
            protocol: m
                .get("protocol")
                .and_then(Value::as_str)
                .unwrap_or("tcp")
                .to_ascii_lowercase(),
            published: m
                .get("published")
                .and_then(json_scalar_text)
                .filter(|p| !p.is_empty()),
            host_ip: m.get("host_ip").and_then(json_scalar_text),
        }]),
        _ => None,
    }
}

fn range(text: &str) -> Option<Vec<u32>> {
    match text.split_once('-') {
        Some((a, b)) => {
            let (a, b): (u32, u32) = (a.trim().parse().ok()?, b.trim().parse().ok()?);
            // A range of thousands of ports is a typo, not a configuration.
            (a <= b && b - a < 1024).then(|| (a..=b).collect())
        }
        None => Some(vec![text.trim().parse().ok()?]),
    }
}

/// The container path a `volumes` / `devices` entry mounts, for merging and keying.
pub fn mount_target(item: &Value) -> Option<String> {
    parse_volume(item).map(|v| v.target)
}

fn parse_volume(item: &Value) -> Option<Volume> {
    match item {
        Value::String(s) => {
            let parts: Vec<&str> = s.split(':').collect();
            let (source, target, mode) = match parts.as_slice() {
                [t] => (None, *t, ""),
                [s, t] => (Some(*s), *t, ""),
                [s, t, m] => (Some(*s), *t, *m),
                _ => return None,
            };
            let kind = match source {
                None => "volume",
                Some(s) if s.starts_with(['/', '.', '~']) => "bind",
                Some(_) => "volume",
            };
            Some(Volume {
                target: normalise_path(target),
                kind: kind.to_string(),
                source: source.map(String::from),
                read_only: mode.split(',').any(|m| m == "ro"),
            })
        }
        Value::Object(m) => Some(Volume {
            target: normalise_path(m.get("target").and_then(Value::as_str)?),
            kind: m
                .get("type")
                .and_then(Value::as_str)
                .unwrap_or("volume")
                .to_string(),
            source: m.get("source").and_then(json_scalar_text),
            read_only: m.get("read_only").and_then(Value::as_bool).unwrap_or(false),
        }),
        _ => None,
    }
}

/// `/opt/sentry/` and `/opt/sentry` mount the same place.
fn normalise_path(path: &str) -> String {
    let trimmed = path.trim_end_matches('/');
    if trimmed.is_empty() && path.starts_with('/') {
        "/".to_string()
    } else {
        trimmed.to_string()
    }
}

/// Docker's defaults for fields a healthcheck leaves out, so "unset" equals "default".
fn parse_healthcheck(m: &Map<String, Value>) -> Healthcheck {
    let dur = |k: &str, default: &str| {
        m.get(k)
            .and_then(json_scalar_text)
            .map_or_else(|| duration::normalise(default), |t| duration::normalise(&t))
    };
    let test = match m.get("test") {
        Some(Value::String(s)) => vec!["CMD-SHELL".to_string(), s.clone()],
        Some(Value::Array(items)) => items.iter().filter_map(json_scalar_text).collect(),
        _ => Vec::new(),
    };
    let disabled = m.get("disable").and_then(Value::as_bool).unwrap_or(false)
        || test.first().is_some_and(|t| t == "NONE");
    Healthcheck {
        test,
        disabled,
        interval: dur("interval", "30s"),
        timeout: dur("timeout", "30s"),
        start_period: dur("start_period", "0s"),
        start_interval: dur("start_interval", "5s"),
        retries: m
            .get("retries")
            .and_then(json_scalar_text)
            .and_then(|r| r.trim().parse().ok())
            .unwrap_or(3),
    }
}

/// A command as the words the container receives: a string is split like a shell would
/// (compose does the same), so `run -c x` equals `["run", "-c", "x"]`.
fn command_words(v: &Value) -> Option<Vec<String>> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(shell_words(s)),
        Value::Array(items) => Some(items.iter().filter_map(json_scalar_text).collect()),
        other => Some(vec![other.to_string()]),
    }
}

/// POSIX-like word splitting: whitespace separates, quotes group, backslash escapes.
pub fn shell_words(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut in_word = false;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                for n in chars.by_ref() {
                    if n == '\'' {
                        break;
                    }
                    current.push(n);
                }
            }
            '"' => {
                in_word = true;
                while let Some(n) = chars.next() {
                    match n {
                        '"' => break,
                        '\\' => {
                            if let Some(e) = chars.next() {
                                current.push(e);
                            }
                        }
                        _ => current.push(n),
                    }
                }
            }
            '\\' => {
                in_word = true;
                if let Some(e) = chars.next() {
                    current.push(e);
                }
            }
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut current));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                current.push(c);
            }
        }
    }
    if in_word {
        words.push(current);
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ports_short_and_long_agree() {
        let short = parse_ports(&json!("127.0.0.1:5432:5432/tcp")).unwrap();
        let long =
            parse_ports(&json!({"target": 5432, "published": "5432", "host_ip": "127.0.0.1"}))
                .unwrap();
        assert_eq!(short, long);
        let ranged = parse_ports(&json!("8000-8001:9000-9001/udp")).unwrap();
        assert_eq!(ranged.len(), 2);
        assert_eq!(ranged[1].target, 9001);
        assert_eq!(ranged[1].published.as_deref(), Some("8001"));
        assert_eq!(parse_ports(&json!(5432)).unwrap()[0].published, None);
        assert!(parse_ports(&json!("a:b:c:d")).is_none());
    }

    #[test]
    fn volumes_short_and_long_agree() {
        let short = parse_volume(&json!("./nginx.conf:/etc/nginx/nginx.conf:ro")).unwrap();
        let long = parse_volume(&json!({"type": "bind", "source": "./nginx.conf", "target": "/etc/nginx/nginx.conf", "read_only": true})).unwrap();
        assert_eq!(short, long);
        assert_eq!(
            parse_volume(&json!("data:/var/lib/x/")).unwrap().target,
            "/var/lib/x"
        );
        assert_eq!(
            parse_volume(&json!("data:/var/lib/x")).unwrap().kind,
            "volume"
        );
    }

    #[test]
    fn words_split_like_a_shell() {
        assert_eq!(
            shell_words(r#"run -c "/etc/a b" 'x y' z\ w"#),
            vec!["run", "-c", "/etc/a b", "x y", "z w"]
        );
        assert_eq!(shell_words("  "), Vec::<String>::new());
    }

    #[test]
    fn secrets_are_stored_as_hashes() {
        let e = EnvEntry::new(
            "POSTGRES_PASSWORD",
            Some("hunter2hunter2".into()),
            "f".into(),
        );
        assert!(e.secret);
        assert_ne!(e.value.as_deref(), Some("hunter2hunter2"));
        assert!(e.value.unwrap().starts_with("sha256:"));
    }
}
