//! The comparison: two normalised environments → the seed's ConfigurationDiffReport. Services
//! are keyed by name, ports by container port, volumes by container path; every difference
//! is graded by a rule and checked against the baseline.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::Value;

use crate::image::{self, ImageRef};
use crate::model::{Environment, Healthcheck, Service, Volume};
use crate::rules::{Baseline, ImpactLevel, RuleSet, Severity};

/// What secret values are shown as.
pub const REDACTED: &str = "<redacted>";
/// What a variable declared without a value (and set nowhere) is shown as.
pub const UNSET: &str = "(unset)";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OverallStatus {
    Identical,
    MinorDifferences,
    MajorDifferences,
    Incompatible,
}

impl OverallStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            OverallStatus::Identical => "identical",
            OverallStatus::MinorDifferences => "minor_differences",
            OverallStatus::MajorDifferences => "major_differences",
            OverallStatus::Incompatible => "incompatible",
        }
    }

    fn from_worst(worst: Option<Severity>) -> Self {
        match worst {
            None => OverallStatus::Identical,
            Some(Severity::Minor) => OverallStatus::MinorDifferences,
            Some(Severity::Major) => OverallStatus::MajorDifferences,
            Some(Severity::Incompatible) => OverallStatus::Incompatible,
        }
    }

    /// The worst severity this status stands for (for `--fail-on`).
    pub fn severity(self) -> Option<Severity> {
        match self {
            OverallStatus::Identical => None,
            OverallStatus::MinorDifferences => Some(Severity::Minor),
            OverallStatus::MajorDifferences => Some(Severity::Major),
            OverallStatus::Incompatible => Some(Severity::Incompatible),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ServiceStatus {
    Identical,
    Different,
    MissingInSource,
    MissingInTarget,
}

impl ServiceStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ServiceStatus::Identical => "identical",
            ServiceStatus::Different => "different",
            ServiceStatus::MissingInSource => "missing_in_source",
            ServiceStatus::MissingInTarget => "missing_in_target",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DiffType {
    ValueChanged,
    MissingInSource,
    MissingInTarget,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Difference {
    pub field_path: String,
    pub source_value: Option<String>,
    pub target_value: Option<String>,
    #[serde(rename = "type")]
    pub kind: DiffType,
    pub severity: Severity,
    pub impact_description: String,
    pub auto_fixable: bool,
    pub rule_id: String,
    pub impact_level: ImpactLevel,
    pub recommendation: String,
    pub accepted: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accepted_reason: Option<String>,
    /// For environment variables: the file each side's value came from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_origin: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_origin: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServiceDiff {
    pub service: String,
    pub status: ServiceStatus,
    pub differences: Vec<Difference>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Summary {
    pub services_total: usize,
    pub services_identical: usize,
    pub services_different: usize,
    pub services_missing_in_source: usize,
    pub services_missing_in_target: usize,
    pub differences_total: usize,
    pub minor: usize,
    pub major: usize,
    pub incompatible: usize,
    /// Differences the baseline expects; not counted in minor/major/incompatible.
    pub accepted: usize,
    pub auto_fixable: usize,
}

/// One difference before grading.
struct Raw {
    rule: &'static str,
    field: String,
    source: Option<String>,
    target: Option<String>,
    kind: DiffType,
    origins: (Option<String>, Option<String>),
}

fn raw(rule: &'static str, field: impl Into<String>, s: Option<String>, t: Option<String>) -> Raw {
    let kind = match (&s, &t) {
        (None, Some(_)) => DiffType::MissingInSource,
        (Some(_), None) => DiffType::MissingInTarget,
        _ => DiffType::ValueChanged,
    };
    Raw {
        rule,
        field: field.into(),
        source: s,
        target: t,
        kind,
        origins: (None, None),
    }
}

/// Compares every service of `source` with the same-named service of `target`.
pub fn compare(
    source: &Environment,
    target: &Environment,
    rules: &RuleSet,
    baseline: &Baseline,
) -> (Vec<ServiceDiff>, Summary, OverallStatus) {
    let names: BTreeSet<&String> = source
        .services
        .keys()
        .chain(target.services.keys())
        .collect();
    let mut diffs = Vec::with_capacity(names.len());
    let mut summary = Summary::default();
    let mut worst: Option<Severity> = None;
    for name in names {
        let (status, raws) = match (source.services.get(name), target.services.get(name)) {
            (Some(s), Some(t)) => {
                let raws = compare_service(s, t);
                let status = if raws.is_empty() {
                    ServiceStatus::Identical
                } else {
                    ServiceStatus::Different
                };
                (status, raws)
            }
            (None, Some(_)) => (
                ServiceStatus::MissingInSource,
                vec![raw(
                    "service.missing_in_source",
                    "service",
                    None,
                    Some(name.clone()),
                )],
            ),
            (Some(_), None) => (
                ServiceStatus::MissingInTarget,
                vec![raw(
                    "service.missing_in_target",
                    "service",
                    Some(name.clone()),
                    None,
                )],
            ),
            (None, None) => unreachable!("name comes from one of the maps"),
        };
        let mut differences = Vec::with_capacity(raws.len());
        for r in raws {
            let rule = rules.grade(r.rule, name, &r.field);
            let Some(severity) = rule.severity else {
                continue; // switched off by the rules file
            };
            let accepted_reason = baseline
                .accepts(&rule.id, name, &r.field)
                .or_else(|| baseline.accepts(r.rule, name, &r.field))
                .map(String::from);
            let accepted = accepted_reason.is_some();
            summary.differences_total += 1;
            if accepted {
                summary.accepted += 1;
            } else {
                match severity {
                    Severity::Minor => summary.minor += 1,
                    Severity::Major => summary.major += 1,
                    Severity::Incompatible => summary.incompatible += 1,
                }
                worst = worst.max(Some(severity));
            }
            if rule.auto_fixable {
                summary.auto_fixable += 1;
            }
            differences.push(Difference {
                field_path: r.field,
                source_value: r.source.map(|v| devenv_core::redact::redact(&v)),
                target_value: r.target.map(|v| devenv_core::redact::redact(&v)),
                kind: r.kind,
                severity,
                impact_description: rule.impact_description.clone(),
                auto_fixable: rule.auto_fixable,
                rule_id: rule.id.clone(),
                impact_level: rule.impact_level,
                recommendation: rule.recommendation.clone(),
                accepted,
                accepted_reason,
                source_origin: r.origins.0,
                target_origin: r.origins.1,
            });
        }
        let status = if status == ServiceStatus::Different && differences.is_empty() {
            ServiceStatus::Identical
        } else {
            status
        };
        summary.services_total += 1;
        match status {
            ServiceStatus::Identical => summary.services_identical += 1,
            ServiceStatus::Different => summary.services_different += 1,
            ServiceStatus::MissingInSource => summary.services_missing_in_source += 1,
            ServiceStatus::MissingInTarget => summary.services_missing_in_target += 1,
        }
        diffs.push(ServiceDiff {
            service: name.clone(),
            status,
            differences,
        });
    }
    (diffs, summary, OverallStatus::from_worst(worst))
}

fn compare_service(s: &Service, t: &Service) -> Vec<Raw> {
    let mut out = Vec::new();
    compare_image(s.image.as_ref(), t.image.as_ref(), &mut out);

    for key in union(&s.environment, &t.environment) {
        let (a, b) = (s.environment.get(key), t.environment.get(key));
        let field = format!("environment.{key}");
        let shown = |e: &crate::model::EnvEntry| match &e.value {
            None => UNSET.to_string(),
            Some(_) if e.secret => REDACTED.to_string(),
            Some(v) => v.clone(),
        };
        let origins = (a.map(|e| e.source.clone()), b.map(|e| e.source.clone()));
        let diff = match (a, b) {
            (Some(a), Some(b)) if a.value != b.value => {
                let rule = if a.secret || b.secret {
                    "env.secret_changed"
                } else {
                    "env.value_changed"
                };
                raw(rule, field, Some(shown(a)), Some(shown(b)))
            }
            (Some(_), Some(_)) => continue,
            (a, b) => raw("env.missing", field, a.map(shown), b.map(shown)),
        };
        out.push(Raw { origins, ..diff });
    }

    for key in union(&s.ports, &t.ports) {
        let field = format!("ports[{key}]");
        let show = |p: &crate::model::Port| {
            let host = match (&p.host_ip, &p.published) {
                (Some(ip), Some(pb)) => format!("{ip}:{pb}:"),
                (None, Some(pb)) => format!("{pb}:"),
                (Some(ip), None) => format!("{ip}::"),
                (None, None) => String::new(),
            };
            format!("{host}{}/{}", p.target, p.protocol)
        };
        match (s.ports.get(key), t.ports.get(key)) {
            (Some(a), Some(b)) if a != b => out.push(raw(
                "port.published_changed",
                format!("{field}.published"),
                Some(show(a)),
                Some(show(b)),
            )),
            (Some(a), None) => out.push(raw("port.removed", field, Some(show(a)), None)),
            (None, Some(b)) => out.push(raw("port.added", field, None, Some(show(b)))),
            _ => {}
        }
    }

    for key in union(&s.volumes, &t.volumes) {
        let field = format!("volumes[{key}]");
        let show = |v: &Volume| {
            format!(
                "{}:{}{}",
                v.source.as_deref().unwrap_or("(anonymous)"),
                v.target,
                if v.read_only { ":ro" } else { "" }
            )
        };
        match (s.volumes.get(key), t.volumes.get(key)) {
            (Some(a), Some(b)) if a != b => {
                out.push(raw("volume.changed", field, Some(show(a)), Some(show(b))));
            }
            (Some(a), None) => out.push(raw("volume.removed", field, Some(show(a)), None)),
            (None, Some(b)) => out.push(raw("volume.added", field, None, Some(show(b)))),
            _ => {}
        }
    }

    for net in s.networks.union(&t.networks) {
        let field = format!("networks.{net}");
        match (s.networks.contains(net), t.networks.contains(net)) {
            (true, false) => out.push(raw("network.removed", field, Some(net.clone()), None)),
            (false, true) => out.push(raw("network.added", field, None, Some(net.clone()))),
            _ => {}
        }
    }

    compare_healthcheck(s.healthcheck.as_ref(), t.healthcheck.as_ref(), &mut out);

    for dep in union(&s.depends_on, &t.depends_on) {
        let field = format!("depends_on.{dep}");
        match (s.depends_on.get(dep), t.depends_on.get(dep)) {
            (Some(a), Some(b)) if a != b => out.push(raw(
                "depends_on.changed",
                format!("{field}.condition"),
                Some(a.condition.clone()),
                Some(b.condition.clone()),
            )),
            (Some(a), None) => {
                out.push(raw(
                    "depends_on.missing",
                    field,
                    Some(a.condition.clone()),
                    None,
                ));
            }
            (None, Some(b)) => {
                out.push(raw(
                    "depends_on.missing",
                    field,
                    None,
                    Some(b.condition.clone()),
                ));
            }
            _ => {}
        }
    }

    for (field, a, b) in [
        ("command", &s.command, &t.command),
        ("entrypoint", &s.entrypoint, &t.entrypoint),
    ] {
        if a != b {
            out.push(raw(
                "command.changed",
                field,
                a.as_ref().map(|w| join_words(w)),
                b.as_ref().map(|w| join_words(w)),
            ));
        }
    }
    if s.profiles != t.profiles {
        out.push(raw(
            "field.changed",
            "profiles",
            Some(s.profiles.join(",")),
            Some(t.profiles.join(",")),
        ));
    }
    for key in union(&s.other, &t.other) {
        compare_json(key, s.other.get(key), t.other.get(key), &mut out);
    }
    out
}

fn compare_image(s: Option<&ImageRef>, t: Option<&ImageRef>, out: &mut Vec<Raw>) {
    let (a, b) = match (s, t) {
        (None, None) => return,
        (Some(a), Some(b)) => (a, b),
        (a, b) => {
            out.push(raw(
                "image.missing",
                "image",
                a.map(ImageRef::display),
                b.map(ImageRef::display),
            ));
            return;
        }
    };
    if a.repository != b.repository {
        out.push(raw(
            "image.repository_changed",
            "image.repository",
            Some(a.display()),
            Some(b.display()),
        ));
        return;
    }
    if a.tag != b.tag {
        let versions = (
            a.tag.as_deref().and_then(image::tag_version),
            b.tag.as_deref().and_then(image::tag_version),
        );
        let rule = match versions {
            (Some(x), Some(y)) if x.first() != y.first() => "image.major_version_changed",
            _ => "image.tag_changed",
        };
        out.push(raw(rule, "image.tag", a.tag.clone(), b.tag.clone()));
    }
    if a.digest != b.digest {
        // A digest on one side only is still a value change of the image, not a missing field.
        out.push(Raw {
            kind: DiffType::ValueChanged,
            ..raw(
                "image.digest_changed",
                "image.digest",
                Some(a.digest.clone().unwrap_or_else(|| "(none)".into())),
                Some(b.digest.clone().unwrap_or_else(|| "(none)".into())),
            )
        });
    }
}

fn compare_healthcheck(s: Option<&Healthcheck>, t: Option<&Healthcheck>, out: &mut Vec<Raw>) {
    let (a, b) = match (s.filter(|h| !h.disabled), t.filter(|h| !h.disabled)) {
        (None, None) => return,
        (Some(a), Some(b)) => (a, b),
        (a, b) => {
            let show = |h: &Healthcheck| join_words(&h.test);
            out.push(raw(
                "healthcheck.missing",
                "healthcheck",
                a.map(show),
                b.map(show),
            ));
            return;
        }
    };
    if a.test != b.test {
        out.push(raw(
            "healthcheck.test_changed",
            "healthcheck.test",
            Some(join_words(&a.test)),
            Some(join_words(&b.test)),
        ));
    }
    for (field, x, y) in [
        ("interval", &a.interval, &b.interval),
        ("timeout", &a.timeout, &b.timeout),
        ("start_period", &a.start_period, &b.start_period),
        ("start_interval", &a.start_interval, &b.start_interval),
    ] {
        if x != y {
            out.push(raw(
                "healthcheck.timing_changed",
                format!("healthcheck.{field}"),
                Some(x.clone()),
                Some(y.clone()),
            ));
        }
    }
    if a.retries != b.retries {
        out.push(raw(
            "healthcheck.timing_changed",
            "healthcheck.retries",
            Some(a.retries.to_string()),
            Some(b.retries.to_string()),
        ));
    }
}

/// Mappings are compared key by key (dotted paths); anything else as a whole.
fn compare_json(path: &str, a: Option<&Value>, b: Option<&Value>, out: &mut Vec<Raw>) {
    match (a, b) {
        (Some(Value::Object(x)), Some(Value::Object(y))) => {
            let keys: BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            for k in keys {
                compare_json(&format!("{path}.{k}"), x.get(k), y.get(k), out);
            }
        }
        (Some(x), Some(y)) if x != y => {
            out.push(raw(
                "field.changed",
                path,
                Some(show_json(x)),
                Some(show_json(y)),
            ));
        }
        (Some(_), Some(_)) | (None, None) => {}
        (x, y) => out.push(raw(
            "field.missing",
            path,
            x.map(show_json),
            y.map(show_json),
        )),
    }
}

fn show_json(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn union<'a, V>(a: &'a BTreeMap<String, V>, b: &'a BTreeMap<String, V>) -> BTreeSet<&'a String> {
    a.keys().chain(b.keys()).collect()
}

/// Words joined for display, quoting the ones a shell would split.
pub fn join_words(words: &[String]) -> String {
    words
        .iter()
        .map(|w| {
            if w.is_empty() || w.contains(char::is_whitespace) || w.contains(['"', '\'']) {
                format!("{w:?}")
            } else {
                w.clone()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Dependency, EnvEntry, Port};
    use proptest::prelude::*;

    fn arb_service() -> impl Strategy<Value = Service> {
        (
            prop::option::of((
                "(postgres|redis|nats|ghcr.io/x/y)",
                "(7|15|15.8|2.10-alpine|latest)",
            )),
            prop::collection::btree_map(
                "[A-Z]{1,3}(_PASSWORD)?",
                prop::option::of("[a-z0-9]{0,6}"),
                0..4,
            ),
            prop::collection::btree_set(1u32..6, 0..3),
            prop::collection::btree_set("/data|/etc/x|/var/lib/y", 0..3),
            prop::option::of(("(10s|30s|1m)", 1u64..5)),
            prop::collection::btree_map("(db|cache)", "(service_started|service_healthy)", 0..2),
            prop::collection::btree_set("(default|ai-aas-dev-net)", 0..2),
            prop::option::of(prop::collection::vec("[a-z]{1,4}", 0..3)),
            prop::option::of("(always|unless-stopped)"),
        )
            .prop_map(
                |(img, env, ports, vols, hc, deps, nets, cmd, restart)| Service {
                    image: img.map(|(r, t)| ImageRef::parse(&format!("{r}:{t}"))),
                    environment: env
                        .into_iter()
                        .map(|(k, v)| {
                            let e = EnvEntry::new(&k, v, "f".into());
                            (k, e)
                        })
                        .collect(),
                    ports: ports
                        .into_iter()
                        .map(|p| {
                            (
                                format!("{p}/tcp"),
                                Port {
                                    target: p,
                                    protocol: "tcp".into(),
                                    published: Some(p.to_string()),
                                    host_ip: None,
                                },
                            )
                        })
                        .collect(),
                    volumes: vols
                        .into_iter()
                        .map(|t| {
                            (
                                t.clone(),
                                Volume {
                                    target: t,
                                    kind: "volume".into(),
                                    source: Some("v".into()),
                                    read_only: false,
                                },
                            )
                        })
                        .collect(),
                    healthcheck: hc.map(|(i, r)| Healthcheck {
                        test: vec!["CMD".into(), "true".into()],
                        disabled: false,
                        interval: i,
                        timeout: "5s".into(),
                        start_period: "0s".into(),
                        start_interval: "5s".into(),
                        retries: r,
                    }),
                    depends_on: deps
                        .into_iter()
                        .map(|(k, c)| {
                            (
                                k,
                                Dependency {
                                    condition: c,
                                    restart: false,
                                    required: true,
                                },
                            )
                        })
                        .collect(),
                    networks: nets,
                    command: cmd,
                    other: restart
                        .map(|r| ("restart".to_string(), Value::String(r)))
                        .into_iter()
                        .collect(),
                    ..Service::default()
                },
            )
    }

    fn arb_env() -> impl Strategy<Value = Environment> {
        prop::collection::btree_map("(postgres|redis|nats|minio|mock)", arb_service(), 0..5)
            .prop_map(|services| Environment {
                services,
                ..Environment::default()
            })
    }

    fn swap(kind: DiffType) -> DiffType {
        match kind {
            DiffType::MissingInSource => DiffType::MissingInTarget,
            DiffType::MissingInTarget => DiffType::MissingInSource,
            DiffType::ValueChanged => DiffType::ValueChanged,
        }
    }

    proptest! {
        #[test]
        fn an_environment_is_identical_to_itself(env in arb_env()) {
            let (diffs, summary, overall) =
                compare(&env, &env, &RuleSet::default(), &Baseline::default());
            prop_assert_eq!(overall, OverallStatus::Identical);
            prop_assert_eq!(summary.differences_total, 0);
            prop_assert!(diffs
                .iter()
                .all(|d| d.status == ServiceStatus::Identical && d.differences.is_empty()));
        }

        #[test]
        fn swapping_sides_swaps_missing(a in arb_env(), b in arb_env()) {
            let rules = RuleSet::default();
            let (ab, sab, _) = compare(&a, &b, &rules, &Baseline::default());
            let (ba, sba, _) = compare(&b, &a, &rules, &Baseline::default());
            prop_assert_eq!(sab.services_missing_in_source, sba.services_missing_in_target);
            prop_assert_eq!(sab.services_missing_in_target, sba.services_missing_in_source);
            prop_assert_eq!(sab.differences_total, sba.differences_total);
            prop_assert_eq!(ab.len(), ba.len());
            for (x, y) in ab.iter().zip(&ba) {
                prop_assert_eq!(&x.service, &y.service);
                let swapped = match x.status {
                    ServiceStatus::MissingInSource => ServiceStatus::MissingInTarget,
                    ServiceStatus::MissingInTarget => ServiceStatus::MissingInSource,
                    other => other,
                };
                prop_assert_eq!(swapped, y.status);
                prop_assert_eq!(x.differences.len(), y.differences.len());
                for (dx, dy) in x.differences.iter().zip(&y.differences) {
                    prop_assert_eq!(&dx.field_path, &dy.field_path);
                    prop_assert_eq!(swap(dx.kind), dy.kind);
                    prop_assert_eq!(&dx.source_value, &dy.target_value);
                    prop_assert_eq!(&dx.target_value, &dy.source_value);
                    prop_assert_eq!(&dx.source_origin, &dy.target_origin);
                }
            }
        }
    }

    #[test]
    fn secrets_are_compared_but_never_shown() {
        let mut a = Service::default();
        let mut b = Service::default();
        a.environment.insert(
            "DB_PASSWORD".into(),
            EnvEntry::new("DB_PASSWORD", Some("first-secret-value".into()), "a".into()),
        );
        b.environment.insert(
            "DB_PASSWORD".into(),
            EnvEntry::new(
                "DB_PASSWORD",
                Some("second-secret-value".into()),
                "b".into(),
            ),
        );
        let raws = compare_service(&a, &b);
        assert_eq!(raws.len(), 1);
        assert_eq!(raws[0].rule, "env.secret_changed");
        assert_eq!(raws[0].source.as_deref(), Some(REDACTED));
        assert_eq!(raws[0].target.as_deref(), Some(REDACTED));
        b.environment.insert(
            "DB_PASSWORD".into(),
            EnvEntry::new("DB_PASSWORD", Some("first-secret-value".into()), "b".into()),
        );
        assert!(
            compare_service(&a, &b).is_empty(),
            "equal secrets hash equal"
        );
    }
}
