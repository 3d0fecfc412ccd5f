//! Grading: the default rule set (one id per kind of difference), a rules file that overrides
//! or refines it, and a baseline of expected differences that are reported as accepted.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Minor,
    Major,
    Incompatible,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Minor => "minor",
            Severity::Major => "major",
            Severity::Incompatible => "incompatible",
        }
    }
}

impl std::str::FromStr for Severity {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "minor" => Ok(Severity::Minor),
            "major" => Ok(Severity::Major),
            "incompatible" => Ok(Severity::Incompatible),
            other => Err(format!(
                "`{other}` is not a severity: use minor, major or incompatible"
            )),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ImpactLevel {
    Low,
    Medium,
    High,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rule {
    pub id: String,
    /// `None`: the rules file switched this rule off (its differences are not reported).
    pub severity: Option<Severity>,
    pub impact_level: ImpactLevel,
    pub auto_fixable: bool,
    pub impact_description: String,
    pub recommendation: String,
    /// For refinements from a rules file: which differences they apply to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub matcher: Option<Matcher>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Matcher {
    /// A built-in rule id (glob).
    #[serde(default)]
    pub rule: Option<String>,
    /// Service name (glob).
    #[serde(default)]
    pub service: Option<String>,
    /// Field path (glob), e.g. `environment.*_HOST`, `ports[*].published`.
    #[serde(default)]
    pub field: Option<String>,
}

impl Matcher {
    pub fn matches(&self, rule: &str, service: &str, field: &str) -> bool {
        let ok = |pat: &Option<String>, text: &str| pat.as_deref().is_none_or(|p| glob(p, text));
        ok(&self.rule, rule) && ok(&self.service, service) && ok(&self.field, field)
    }
}

use ImpactLevel::{High, Low, Medium};
use Severity::{Incompatible, Major, Minor};

/// (id, severity, impact, auto_fixable, impact, recommendation)
const DEFAULTS: &[(&str, Severity, ImpactLevel, bool, &str, &str)] = &[
    (
        "service.missing_in_source",
        Major,
        High,
        false,
        "the target runs a service the source does not: code that needs it works in one environment only",
        "add the service to the source environment",
    ),
    (
        "service.missing_in_target",
        Minor,
        Low,
        false,
        "the source runs a service the target does not",
        "remove the service from the source, or add it to the target",
    ),
    (
        "image.missing",
        Major,
        High,
        false,
        "one side names no image (built locally or missing): the software that runs is not comparable",
        "name the same image on both sides",
    ),
    (
        "image.repository_changed",
        Major,
        High,
        false,
        "a different image repository is different software (a fork, a vendor build or another product)",
        "use the target's image repository",
    ),
    (
        "image.major_version_changed",
        Major,
        High,
        true,
        "a major version change breaks protocols, on-disk formats or behaviour",
        "use the target's major version",
    ),
    (
        "image.tag_changed",
        Minor,
        Low,
        true,
        "a minor, patch or variant tag change: compatible, but not byte-identical",
        "align the tag with the target",
    ),
    (
        "image.digest_changed",
        Minor,
        Low,
        true,
        "the same tag can point at different builds unless both sides pin the same digest",
        "pin the digest from dev/IMAGE_DIGESTS on both sides",
    ),
    (
        "env.missing",
        Major,
        High,
        true,
        "a variable set on one side only changes how the service starts or behaves",
        "declare the variable on both sides",
    ),
    (
        "env.value_changed",
        Minor,
        Medium,
        true,
        "the variable has a different value",
        "align the value with the target, or accept it in the baseline",
    ),
    (
        "env.secret_changed",
        Minor,
        Low,
        false,
        "a credential differs (compared by hash; the values are never shown)",
        "expected between environments: accept it in the baseline",
    ),
    (
        "port.removed",
        Incompatible,
        High,
        false,
        "a port the source exposes is gone in the target: clients of that port cannot connect",
        "expose the same container port in the target",
    ),
    (
        "port.added",
        Minor,
        Low,
        false,
        "the target exposes a container port the source does not",
        "expose it in the source too if anything uses it",
    ),
    (
        "port.published_changed",
        Minor,
        Low,
        true,
        "the container port is published on a different host port or address",
        "use the host port the bundle says (DEVENV_<SERVICE>_PORT), or accept it in the baseline",
    ),
    (
        "volume.removed",
        Incompatible,
        High,
        false,
        "a container path the source mounts is not mounted in the target: its data or config is missing",
        "mount the same container path in the target",
    ),
    (
        "volume.added",
        Minor,
        Medium,
        false,
        "the target mounts a container path the source does not",
        "mount it in the source too if the service reads it",
    ),
    (
        "volume.changed",
        Minor,
        Medium,
        true,
        "the same container path is mounted from a different source, type or mode",
        "align the mount with the target",
    ),
    (
        "network.removed",
        Incompatible,
        High,
        false,
        "a network the source joins is gone in the target: peers on it cannot reach the service",
        "join the same network in the target",
    ),
    (
        "network.added",
        Minor,
        Low,
        false,
        "the target joins a network the source does not",
        "join it in the source too if peers use it",
    ),
    (
        "healthcheck.missing",
        Major,
        High,
        true,
        "without a healthcheck, readiness waits and `condition: service_healthy` cannot work on that side",
        "add the target's healthcheck",
    ),
    (
        "healthcheck.test_changed",
        Minor,
        Low,
        true,
        "the healthcheck probes differently",
        "use the same probe on both sides",
    ),
    (
        "healthcheck.timing_changed",
        Minor,
        Low,
        true,
        "healthcheck timing differs: readiness is detected sooner or later",
        "align interval, timeout, retries and start period",
    ),
    (
        "depends_on.missing",
        Major,
        Medium,
        true,
        "start order differs: a dependency is declared on one side only",
        "declare the same dependency on both sides",
    ),
    (
        "depends_on.changed",
        Major,
        Medium,
        true,
        "the dependency waits for a different condition",
        "use the same condition on both sides",
    ),
    (
        "command.changed",
        Minor,
        Medium,
        true,
        "the container starts with a different command or entrypoint",
        "align the command with the target",
    ),
    (
        "field.changed",
        Minor,
        Low,
        true,
        "a setting differs",
        "align the setting with the target, or accept it in the baseline",
    ),
    (
        "field.missing",
        Minor,
        Low,
        true,
        "a setting is present on one side only",
        "set it on both sides, or accept it in the baseline",
    ),
];

#[derive(Debug, Clone)]
pub struct RuleSet {
    pub rules: Vec<Rule>,
    /// Refinements from a rules file, tried in order before the built-in rule.
    pub refinements: Vec<Rule>,
    pub source: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RulesFile {
    #[serde(default)]
    #[allow(dead_code)]
    version: Option<u32>,
    #[serde(default)]
    rules: Vec<RuleOverride>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleOverride {
    id: String,
    #[serde(default, rename = "match")]
    matcher: Option<Matcher>,
    /// minor | major | incompatible | ignore
    #[serde(default)]
    severity: Option<String>,
    #[serde(default)]
    impact_level: Option<ImpactLevel>,
    #[serde(default)]
    auto_fixable: Option<bool>,
    #[serde(default)]
    impact_description: Option<String>,
    #[serde(default)]
    recommendation: Option<String>,
}

impl Default for RuleSet {
    fn default() -> Self {
        let rules = DEFAULTS
            .iter()
            .map(|(id, sev, impact, fix, desc, rec)| Rule {
                id: (*id).to_string(),
                severity: Some(*sev),
                impact_level: *impact,
                auto_fixable: *fix,
                impact_description: (*desc).to_string(),
                recommendation: (*rec).to_string(),
                matcher: None,
            })
            .collect();
        Self {
            rules,
            refinements: Vec::new(),
            source: None,
        }
    }
}

impl RuleSet {
    pub fn builtin(&self, id: &str) -> &Rule {
        self.rules
            .iter()
            .find(|r| r.id == id)
            .expect("every rule id used by the differ is in DEFAULTS")
    }

    /// The rule grading a difference: the first matching refinement, else the built-in one.
    pub fn grade(&self, rule_id: &str, service: &str, field: &str) -> &Rule {
        self.refinements
            .iter()
            .find(|r| {
                r.matcher
                    .as_ref()
                    .is_some_and(|m| m.matches(rule_id, service, field))
            })
            .unwrap_or_else(|| self.builtin(rule_id))
    }

    /// The defaults with a rules file applied.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::read(path, e))?;
        let file: RulesFile = serde_norway::from_str(&text).map_err(|e| {
            if e.location().is_some() && !e.to_string().contains("unknown field") {
                Error::yaml(path, &e)
            } else {
                Error::invalid(
                    path,
                    format!("{e}; see crates/config-diff/README.md (Rules)"),
                )
            }
        })?;
        let mut set = Self {
            source: Some(path.display().to_string()),
            ..Self::default()
        };
        for o in file.rules {
            let severity = match o.severity.as_deref() {
                None => None,
                Some("ignore") => Some(None),
                Some(s) => Some(Some(s.parse::<Severity>().map_err(|m| {
                    Error::invalid(path, format!("rule {}: {m} (or ignore)", o.id))
                })?)),
            };
            let apply = |rule: &mut Rule| {
                if let Some(s) = severity {
                    rule.severity = s;
                }
                if let Some(i) = o.impact_level {
                    rule.impact_level = i;
                }
                if let Some(f) = o.auto_fixable {
                    rule.auto_fixable = f;
                }
                if let Some(d) = &o.impact_description {
                    rule.impact_description = d.clone();
                }
                if let Some(r) = &o.recommendation {
                    rule.recommendation = r.clone();
                }
            };
            match (&o.matcher, set.rules.iter_mut().find(|r| r.id == o.id)) {
                (None, Some(rule)) => apply(rule),
                (None, None) => {
                    return Err(Error::invalid(
                        path,
                        format!(
                            "rule `{}` is not a built-in rule; to add one, give it a `match:` (see crates/config-diff/README.md)",
                            o.id
                        ),
                    ));
                }
                (Some(m), _) => {
                    let base_id = m.rule.clone().unwrap_or_default();
                    let base = set
                        .rules
                        .iter()
                        .find(|r| !base_id.contains('*') && r.id == base_id)
                        .cloned()
                        .unwrap_or_else(|| Rule {
                            id: String::new(),
                            severity: Some(Minor),
                            impact_level: Low,
                            auto_fixable: false,
                            impact_description: String::new(),
                            recommendation: String::new(),
                            matcher: None,
                        });
                    let mut rule = Rule {
                        id: o.id.clone(),
                        matcher: Some(m.clone()),
                        ..base
                    };
                    apply(&mut rule);
                    set.refinements.push(rule);
                }
            }
        }
        Ok(set)
    }
}

/// Expected differences, reported as accepted and left out of the overall status.
#[derive(Debug, Clone, Default)]
pub struct Baseline {
    pub entries: Vec<BaselineEntry>,
    pub source: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BaselineEntry {
    #[serde(flatten)]
    pub matcher: Matcher,
    pub reason: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BaselineFile {
    #[serde(default)]
    #[allow(dead_code)]
    version: Option<u32>,
    #[serde(default)]
    accepted: Vec<BaselineEntry>,
}

impl Baseline {
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::read(path, e))?;
        let file: BaselineFile = serde_norway::from_str(&text).map_err(|e| {
            Error::invalid(
                path,
                format!("{e}; see crates/config-diff/README.md (Baseline)"),
            )
        })?;
        Ok(Self {
            entries: file.accepted,
            source: Some(path.display().to_string()),
        })
    }

    /// The reason a difference is expected, if the baseline lists it.
    pub fn accepts(&self, rule: &str, service: &str, field: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|e| e.matcher.matches(rule, service, field))
            .map(|e| e.reason.as_str())
    }
}

/// `*` matches any run of characters (including `.` and `/`); everything else is literal.
pub fn glob(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ti < t.len() {
        if pi < p.len() && p[pi] != '*' && p[pi] == t[ti] {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob("environment.*_HOST", "environment.POSTGRES_HOST"));
        assert!(glob("*", ""));
        assert!(glob("ports[*].published", "ports[5432/tcp].published"));
        assert!(!glob("environment.*_HOST", "environment.POSTGRES_HOSTNAME"));
        assert!(glob("a*b*c", "a-b-b-c"));
    }

    /// Writes `yaml` as the rules file at `path` and loads it.
    fn load_rules(path: &Path, yaml: &str) -> Result<RuleSet> {
        std::fs::write(path, yaml).unwrap();
        RuleSet::load(path)
    }

    #[test]
    fn rules_file_overrides_and_refines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rules.yaml");
        let set = load_rules(
            &path,
            "rules:\n  - id: env.value_changed\n    severity: major\n  - id: hosts\n    match: {rule: env.value_changed, field: 'environment.*_HOST'}\n    severity: ignore\n",
        )
        .unwrap();
        assert_eq!(
            set.grade("env.value_changed", "x", "environment.A")
                .severity,
            Some(Major)
        );
        let refined = set.grade("env.value_changed", "x", "environment.DB_HOST");
        assert_eq!((refined.id.as_str(), refined.severity), ("hosts", None));
        assert!(
            load_rules(&path, "rules:\n  - id: nope\n    severity: major\n")
                .unwrap_err()
                .to_string()
                .contains("not a built-in rule")
        );
    }
}
