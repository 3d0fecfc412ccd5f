//! `config-diff validate`: one environment against the seed's rules.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::duration;
use crate::model::Environment;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub rule: &'static str,
    pub severity: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    pub message: String,
}

fn error(rule: &'static str, service: &str, message: String) -> Finding {
    Finding {
        rule,
        severity: "error",
        service: Some(service.to_string()),
        message,
    }
}

/// Image names (last path component) of the infrastructure services that must report
/// readiness: databases, caches, brokers, object stores and our inference mock.
const INFRASTRUCTURE: &[&str] = &[
    "postgres",
    "postgis",
    "timescaledb",
    "redis",
    "valkey",
    "nats",
    "minio",
    "rabbitmq",
    "mysql",
    "mariadb",
    "mongo",
    "cp-kafka",
    "kafka",
    "cp-zookeeper",
    "zookeeper",
    "clickhouse-server",
    "memcached",
    "elasticsearch",
    "opensearch",
    "pgbouncer",
    "etcd",
    "seaweedfs",
    "mock-inference",
];

pub fn is_infrastructure(name: &str, image_repository: Option<&str>) -> bool {
    let image_name = image_repository.and_then(|r| r.rsplit('/').next());
    INFRASTRUCTURE.contains(&name) || image_name.is_some_and(|n| INFRASTRUCTURE.contains(&n))
}

pub fn validate(env: &Environment) -> Vec<Finding> {
    let mut out = Vec::new();

    // Unique names: docker's DNS is case-insensitive, and container names are global.
    let mut lower: BTreeMap<String, &String> = BTreeMap::new();
    let mut containers: BTreeMap<String, &String> = BTreeMap::new();
    for (name, svc) in &env.services {
        if let Some(first) = lower.insert(name.to_ascii_lowercase(), name) {
            out.push(error(
                "unique_service_names",
                name,
                format!("service `{name}` and `{first}` differ only in case; rename one"),
            ));
        }
        if let Some(cn) = svc.other.get("container_name").and_then(|v| v.as_str())
            && let Some(first) = containers.insert(cn.to_string(), name)
        {
            out.push(error(
                "unique_service_names",
                name,
                format!(
                    "container_name `{cn}` is used by `{first}` too; container names must be unique"
                ),
            ));
        }
    }

    for (name, svc) in &env.services {
        for (dep, spec) in &svc.depends_on {
            match env.services.get(dep) {
                None if env.inactive_services.contains_key(dep) => {
                    if spec.required {
                        out.push(Finding {
                            rule: "dependency_defined",
                            severity: "warning",
                            service: Some(name.clone()),
                            message: format!(
                                "depends on `{dep}`, which is off (profiles {}); enable a profile or mark the dependency `required: false`",
                                env.inactive_services[dep].join(", ")
                            ),
                        });
                    }
                }
                None => out.push(error(
                    "dependency_defined",
                    name,
                    format!("depends on `{dep}`, which is not defined; define it or remove the dependency"),
                )),
                Some(d) => {
                    if spec.condition == "service_healthy"
                        && d.healthcheck.as_ref().is_none_or(|h| h.disabled)
                    {
                        out.push(error(
                            "healthy_needs_healthcheck",
                            name,
                            format!("waits for `{dep}` to be service_healthy, but `{dep}` has no healthcheck; add one to `{dep}` or use service_started"),
                        ));
                    }
                }
            }
        }

        let repository = svc.image.as_ref().map(|i| i.repository.as_str());
        if is_infrastructure(name, repository)
            && svc.healthcheck.as_ref().is_none_or(|h| h.disabled)
        {
            out.push(error(
                "infrastructure_healthcheck",
                name,
                "is an infrastructure service without a healthcheck; add one so readiness waits work".to_string(),
            ));
        }

        if let Some(h) = svc.healthcheck.as_ref().filter(|h| !h.disabled) {
            let (i, t) = (duration::parse(&h.interval), duration::parse(&h.timeout));
            if let (Some(i), Some(t)) = (i, t)
                && t > i
            {
                out.push(error(
                    "healthcheck_interval_ge_timeout",
                    name,
                    format!(
                        "healthcheck timeout {} is longer than its interval {}; make interval ≥ timeout",
                        h.timeout, h.interval
                    ),
                ));
            }
        }

        let mut paths: Vec<(&str, &str)> = svc
            .volumes
            .keys()
            .map(|t| ("volume target", t.as_str()))
            .collect();
        if let Some(wd) = svc.other.get("working_dir").and_then(|v| v.as_str()) {
            paths.push(("working_dir", wd));
        }
        for (what, path) in paths {
            if !path.starts_with('/') {
                out.push(error(
                    "absolute_container_paths",
                    name,
                    format!("{what} `{path}` is not an absolute container path; start it with /"),
                ));
            }
        }
    }

    for cycle in cycles(env) {
        out.push(Finding {
            rule: "no_dependency_cycles",
            severity: "error",
            service: cycle.first().cloned(),
            message: format!(
                "dependency cycle: {}; remove one of these depends_on",
                cycle.join(" → ")
            ),
        });
    }
    out
}

/// Every elementary cycle found by depth-first search, each reported once (rotated so it
/// starts at its smallest name), e.g. `["a", "b", "a"]`.
fn cycles(env: &Environment) -> Vec<Vec<String>> {
    let mut found = BTreeSet::new();
    let mut state: BTreeMap<&str, u8> = BTreeMap::new(); // 1 = on stack, 2 = done
    let mut stack: Vec<&str> = Vec::new();
    fn visit<'a>(
        env: &'a Environment,
        node: &'a str,
        state: &mut BTreeMap<&'a str, u8>,
        stack: &mut Vec<&'a str>,
        found: &mut BTreeSet<Vec<String>>,
    ) {
        state.insert(node, 1);
        stack.push(node);
        if let Some(svc) = env.services.get(node) {
            for dep in svc.depends_on.keys() {
                match state.get(dep.as_str()) {
                    Some(1) => {
                        let start = stack.iter().position(|n| n == dep).unwrap_or(0);
                        let mut cycle: Vec<String> =
                            stack[start..].iter().map(|s| s.to_string()).collect();
                        let min = cycle
                            .iter()
                            .enumerate()
                            .min_by_key(|(_, n)| *n)
                            .map_or(0, |(i, _)| i);
                        cycle.rotate_left(min);
                        let first = cycle[0].clone();
                        cycle.push(first);
                        found.insert(cycle);
                    }
                    Some(_) => {}
                    None if env.services.contains_key(dep) => visit(env, dep, state, stack, found),
                    None => {}
                }
            }
        }
        stack.pop();
        state.insert(node, 2);
    }
    for name in env.services.keys() {
        if !state.contains_key(name.as_str()) {
            visit(env, name, &mut state, &mut stack, &mut found);
        }
    }
    found.into_iter().collect()
}
