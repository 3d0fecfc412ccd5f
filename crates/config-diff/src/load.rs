//! Loading one environment: compose files (anchors and `<<:` merge keys resolved, `x-*`
//! extension fields dropped, variables interpolated, `extends` applied, files merged by
//! compose's override rules, profiles applied) plus env files, or an EnvironmentConfiguration
//! description naming those. The result is normalised by [`crate::model`].

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::rc::Rc;

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::interpolate::{self, UnsetVariable, Variables};
use crate::model::{self, EnvEntry, Environment};
use crate::value::{json_scalar_text, scalar_text, string_list};

/// What one side of a comparison is made of.
#[derive(Debug, Clone, Default)]
pub struct Side {
    pub name: String,
    pub compose_files: Vec<PathBuf>,
    pub env_files: Vec<PathBuf>,
    /// Inline variables (from a description), applied after the env files.
    pub variables: BTreeMap<String, String>,
    /// Active profiles; empty means `COMPOSE_PROFILES` from the variables decides.
    pub profiles: Vec<String>,
    /// Also read variables from this process's environment (compose does; off by default so
    /// that a report does not depend on the shell it ran in).
    pub inherit_env: bool,
    /// The description file this side came from, if any.
    pub description: Option<PathBuf>,
    /// `${VAR:?err}` on an unset variable is reported as unset instead of failing.
    pub lenient: bool,
}

/// The seed's EnvironmentConfiguration: a named environment described by its files.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Description {
    kind: String,
    name: String,
    #[serde(default)]
    #[allow(dead_code)]
    description: Option<String>,
    compose_files: Vec<String>,
    #[serde(default)]
    env_files: Vec<String>,
    #[serde(default)]
    variables: BTreeMap<String, serde_norway::Value>,
    #[serde(default)]
    profiles: Vec<String>,
}

pub const DESCRIPTION_KIND: &str = "EnvironmentConfiguration";

impl Side {
    pub fn compose(files: Vec<PathBuf>, env_files: Vec<PathBuf>) -> Self {
        let name = files
            .first()
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        Self {
            name,
            compose_files: files,
            env_files,
            ..Self::default()
        }
    }

    /// A path given on the command line: an EnvironmentConfiguration description when its
    /// `kind` says so, otherwise a compose file.
    pub fn from_path(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::read(path, e))?;
        // A compose file is parsed later anyway, so parsing it here too would double the work
        // on large files: only a file that names the kind somewhere (in whatever YAML or JSON
        // spelling) can be a description.
        if !text.contains(DESCRIPTION_KIND) {
            return Ok(Self::compose(vec![path.to_path_buf()], Vec::new()));
        }
        let value: serde_norway::Value =
            serde_norway::from_str(&text).map_err(|e| Error::yaml(path, &e))?;
        let is_description = value
            .get("kind")
            .and_then(|k| k.as_str())
            .is_some_and(|k| k == DESCRIPTION_KIND);
        if !is_description {
            return Ok(Self::compose(vec![path.to_path_buf()], Vec::new()));
        }
        let desc: Description = serde_norway::from_value(value).map_err(|e| {
            Error::invalid(
                path,
                format!("not a valid {DESCRIPTION_KIND}: {e}; see crates/config-diff/README.md"),
            )
        })?;
        debug_assert_eq!(desc.kind, DESCRIPTION_KIND);
        if desc.compose_files.is_empty() {
            return Err(Error::invalid(
                path,
                "compose_files is empty; list at least one compose file",
            ));
        }
        let dir = path.parent().unwrap_or(Path::new(""));
        let mut variables = BTreeMap::new();
        for (k, v) in desc.variables {
            let value = scalar_text(&v).ok_or_else(|| {
                Error::invalid(
                    path,
                    format!("variables.{k} must be a string, number or bool"),
                )
            })?;
            variables.insert(k, value);
        }
        Ok(Self {
            name: desc.name,
            compose_files: desc.compose_files.iter().map(|f| dir.join(f)).collect(),
            env_files: desc.env_files.iter().map(|f| dir.join(f)).collect(),
            variables,
            profiles: desc.profiles,
            inherit_env: false,
            description: Some(path.to_path_buf()),
            lenient: false,
        })
    }

    pub fn variables(&self) -> Result<Variables> {
        let mut vars = Variables::default();
        vars.lenient = self.lenient;
        if self.inherit_env {
            for (k, v) in std::env::vars() {
                vars.set(&k, &v, "process environment");
            }
        }
        for file in &self.env_files {
            let bundle = devenv_core::bundle::Bundle::read(file)
                .map_err(|e| Error::invalid(file, devenv_core::redact::error_chain(&e)))?;
            // Env files hold credentials: make sure no output path can print them.
            bundle.register_secrets();
            let source = file.display().to_string();
            for (k, v) in bundle.iter() {
                vars.set(k, v, &source);
            }
        }
        let source = self
            .description
            .as_ref()
            .map_or_else(|| "variables".to_string(), |p| p.display().to_string());
        for (k, v) in &self.variables {
            if devenv_core::redact::is_secret_key(k) {
                devenv_core::redact::register(v);
            }
            vars.set(k, v, &source);
        }
        Ok(vars)
    }

    pub fn load(&self) -> Result<Environment> {
        let vars = self.variables()?;
        let mut loader = Loader {
            vars: &vars,
            unset: BTreeSet::new(),
            extends_files: BTreeMap::new(),
        };
        let mut merged = ComposeFile::default();
        for file in &self.compose_files {
            let parsed = loader.file(file)?;
            merged.merge(parsed);
        }
        let profiles: BTreeSet<String> = if self.profiles.is_empty() {
            vars.get("COMPOSE_PROFILES")
                .map(|v| {
                    v.value
                        .split(',')
                        .map(str::trim)
                        .filter(|p| !p.is_empty())
                        .map(String::from)
                        .collect()
                })
                .unwrap_or_default()
        } else {
            self.profiles.iter().cloned().collect()
        };
        let mut env = Environment {
            name: self.name.clone(),
            files: self
                .compose_files
                .iter()
                .map(|p| p.display().to_string())
                .collect(),
            env_files: self
                .env_files
                .iter()
                .map(|p| p.display().to_string())
                .collect(),
            profiles: profiles.iter().cloned().collect(),
            ..Environment::default()
        };
        for (name, raw) in merged.services {
            let service_profiles = string_list(raw.fields.get("profiles"));
            // `*` switches every profile on (used to check every image a file names).
            let active = service_profiles.is_empty()
                || profiles.contains("*")
                || service_profiles.iter().any(|p| profiles.contains(p));
            if !active {
                env.inactive_services.insert(name, service_profiles);
                continue;
            }
            let mut environment = raw.env;
            for (key, entry) in environment.iter_mut() {
                // `KEY:` without a value passes the variable through from the environment.
                if entry.value.is_none()
                    && let Some(v) = vars.get(key)
                {
                    entry.value = Some(v.value.clone());
                    entry.source = v.source.clone();
                }
            }
            let service = model::normalise_service(&name, raw.fields, environment, &raw.file)?;
            env.services.insert(name, service);
        }
        env.networks = merged.networks;
        env.volumes = merged.volumes;
        env.unset_variables = loader.unset.into_iter().collect();
        Ok(env)
    }
}

/// One service as read from the files, before normalisation.
#[derive(Debug, Clone, Default)]
struct RawService {
    fields: Map<String, Value>,
    env: BTreeMap<String, EnvEntry>,
    /// The file that defined the service last (for messages).
    file: String,
}

#[derive(Debug, Clone, Default)]
struct ComposeFile {
    services: BTreeMap<String, RawService>,
    networks: BTreeMap<String, Value>,
    volumes: BTreeMap<String, Value>,
}

impl ComposeFile {
    /// Compose's override rules: a later file's service merges into the earlier one.
    fn merge(&mut self, later: ComposeFile) {
        for (name, svc) in later.services {
            match self.services.get_mut(&name) {
                Some(base) => merge_service(base, svc),
                None => {
                    self.services.insert(name, svc);
                }
            }
        }
        for (k, v) in later.networks {
            merge_top(&mut self.networks, k, v);
        }
        for (k, v) in later.volumes {
            merge_top(&mut self.volumes, k, v);
        }
    }
}

fn merge_top(map: &mut BTreeMap<String, Value>, key: String, value: Value) {
    match map.get_mut(&key) {
        Some(existing) => merge_value(existing, value),
        None => {
            map.insert(key, value);
        }
    }
}

/// Fields whose sequences compose appends (unique) instead of replacing.
const APPENDED: &[&str] = &[
    "ports",
    "expose",
    "dns",
    "dns_search",
    "tmpfs",
    "extra_hosts",
    "cap_add",
    "cap_drop",
    "external_links",
    "security_opt",
    "env_file",
];
/// Fields whose sequences are merged by the container path they mount.
const BY_TARGET: &[&str] = &["volumes", "devices"];

fn merge_service(base: &mut RawService, later: RawService) {
    for (key, value) in later.fields {
        let slot = base.fields.get_mut(&key);
        match (slot, value) {
            (Some(Value::Array(old)), Value::Array(new)) if APPENDED.contains(&key.as_str()) => {
                for item in new {
                    if !old.contains(&item) {
                        old.push(item);
                    }
                }
            }
            (Some(Value::Array(old)), Value::Array(new)) if BY_TARGET.contains(&key.as_str()) => {
                for item in new {
                    let target = model::mount_target(&item);
                    match old
                        .iter_mut()
                        .find(|o| target.is_some() && model::mount_target(o) == target)
                    {
                        Some(slot) => *slot = item,
                        None => old.push(item),
                    }
                }
            }
            (Some(old), new) => merge_value(old, new),
            (None, new) => {
                base.fields.insert(key, new);
            }
        }
    }
    for (k, v) in later.env {
        base.env.insert(k, v);
    }
    base.file = later.file;
}

/// Mappings merge key by key; anything else is replaced by the later value.
fn merge_value(old: &mut Value, new: Value) {
    match (old, new) {
        (Value::Object(o), Value::Object(n)) => {
            for (k, v) in n {
                match o.get_mut(&k) {
                    Some(slot) => merge_value(slot, v),
                    None => {
                        o.insert(k, v);
                    }
                }
            }
        }
        (slot, new) => *slot = new,
    }
}

struct Loader<'a> {
    vars: &'a Variables,
    unset: BTreeSet<UnsetVariable>,
    /// Files read for `extends: {file: …}` (many services may extend from one file; shared,
    /// not copied, per lookup).
    extends_files: BTreeMap<PathBuf, Rc<Map<String, Value>>>,
}

impl Loader<'_> {
    fn file(&mut self, path: &Path) -> Result<ComposeFile> {
        let mut stack = Vec::new();
        self.file_inner(path, &mut stack)
    }

    fn file_inner(
        &mut self,
        path: &Path,
        stack: &mut Vec<(PathBuf, String)>,
    ) -> Result<ComposeFile> {
        let mut raw = self.interpolated(path)?;
        let mut out = ComposeFile::default();
        let services = match raw.remove("services") {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(m)) => m,
            Some(_) => return Err(Error::invalid(path, "`services` must be a mapping")),
        };
        // Only services taking part in `extends` (as extender or same-file base) need their raw
        // definition kept for lookups; every other one is moved straight into preparation.
        let bases: BTreeSet<&str> = services
            .values()
            .filter_map(|d| match d.get("extends") {
                Some(Value::String(s)) => Some(s.as_str()),
                Some(Value::Object(m)) if !m.contains_key("file") => {
                    m.get("service").and_then(Value::as_str)
                }
                _ => None,
            })
            .collect();
        let lookup: Map<String, Value> = services
            .iter()
            .filter(|(k, d)| bases.contains(k.as_str()) || d.get("extends").is_some())
            .map(|(k, d)| (k.clone(), d.clone()))
            .collect();
        for (name, def) in services {
            let svc = match def {
                Value::Object(mut d) if !lookup.contains_key(&name) => {
                    d.retain(|k, _| !k.starts_with("x-"));
                    self.prepare(path, &name, d)?
                }
                _ => self.resolve_service(path, &lookup, &name, stack)?,
            };
            out.services.insert(name, svc);
        }
        for (section, target) in [
            ("networks", &mut out.networks),
            ("volumes", &mut out.volumes),
        ] {
            if let Some(Value::Object(m)) = raw.get(section) {
                for (k, v) in m {
                    if !k.starts_with("x-") {
                        target.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        Ok(out)
    }

    /// One service of `path`, with `extends` applied (recursively, cycles refused).
    fn resolve_service(
        &mut self,
        path: &Path,
        services: &Map<String, Value>,
        name: &str,
        stack: &mut Vec<(PathBuf, String)>,
    ) -> Result<RawService> {
        let key = (path.to_path_buf(), name.to_string());
        if stack.contains(&key) {
            let chain: Vec<String> = stack
                .iter()
                .chain(std::iter::once(&key))
                .map(|(_, s)| s.clone())
                .collect();
            return Err(Error::invalid(
                path,
                format!("`extends` cycle: {}; break the loop", chain.join(" → ")),
            ));
        }
        let Some(Value::Object(def)) = services.get(name) else {
            return Err(Error::invalid(
                path,
                format!("service `{name}` is not defined (or is not a mapping)"),
            ));
        };
        let mut def = def.clone();
        def.retain(|k, _| !k.starts_with("x-"));
        let extends = def.remove("extends");
        let own = self.prepare(path, name, def)?;
        let Some(extends) = extends else {
            return Ok(own);
        };
        let (base_name, base_file) = match &extends {
            Value::String(s) => (s.clone(), None),
            Value::Object(m) => (
                m.get("service")
                    .and_then(Value::as_str)
                    .ok_or_else(|| {
                        Error::invalid(path, format!("service `{name}`: extends needs `service`"))
                    })?
                    .to_string(),
                m.get("file").and_then(Value::as_str).map(String::from),
            ),
            _ => {
                return Err(Error::invalid(
                    path,
                    format!("service `{name}`: extends must be a name or a mapping"),
                ));
            }
        };
        stack.push(key);
        let mut base = match base_file {
            None => self.resolve_service(path, services, &base_name, stack)?,
            Some(file) => {
                let other = path.parent().unwrap_or(Path::new("")).join(file);
                if !self.extends_files.contains_key(&other) {
                    let mut raw = self.interpolated(&other)?;
                    let services = match raw.remove("services") {
                        Some(Value::Object(m)) => m,
                        _ => Map::new(),
                    };
                    self.extends_files.insert(other.clone(), Rc::new(services));
                }
                let other_services = Rc::clone(&self.extends_files[&other]);
                self.resolve_service(&other, &other_services, &base_name, stack)?
            }
        };
        stack.pop();
        // `depends_on` is not inherited through extends (compose rule).
        base.fields.remove("depends_on");
        merge_service(&mut base, own);
        Ok(base)
    }

    /// Splits a service's environment off its fields (each value tagged with its file) and
    /// turns list forms that compose merges by key into mappings.
    fn prepare(
        &mut self,
        path: &Path,
        name: &str,
        mut def: Map<String, Value>,
    ) -> Result<RawService> {
        let file = path.display().to_string();
        let mut env = BTreeMap::new();
        if let Some(env_files) = def.remove("env_file") {
            for (env_path, required) in env_file_entries(&env_files) {
                let full = path.parent().unwrap_or(Path::new("")).join(&env_path);
                match devenv_core::bundle::Bundle::read_optional(&full) {
                    Ok(Some(bundle)) => {
                        bundle.register_secrets();
                        for (k, v) in bundle.iter() {
                            env.insert(
                                k.to_string(),
                                EnvEntry::new(k, Some(v.to_string()), full.display().to_string()),
                            );
                        }
                    }
                    Ok(None) if !required => {}
                    Ok(None) => {
                        return Err(Error::invalid(
                            path,
                            format!(
                                "service `{name}`: env_file {} does not exist; create it or mark it `required: false`",
                                full.display()
                            ),
                        ));
                    }
                    Err(e) => {
                        return Err(Error::invalid(&full, devenv_core::redact::error_chain(&e)));
                    }
                }
            }
        }
        match def.remove("environment") {
            None | Some(Value::Null) => {}
            Some(Value::Object(m)) => {
                for (k, v) in m {
                    let value = json_scalar_text(&v);
                    env.insert(k.clone(), EnvEntry::new(&k, value, file.clone()));
                }
            }
            Some(Value::Array(items)) => {
                for item in items {
                    let text = json_scalar_text(&item).unwrap_or_default();
                    let (k, v) = match text.split_once('=') {
                        Some((k, v)) => (k.to_string(), Some(v.to_string())),
                        None => (text.clone(), None),
                    };
                    env.insert(k.clone(), EnvEntry::new(&k, v, file.clone()));
                }
            }
            Some(_) => {
                return Err(Error::invalid(
                    path,
                    format!("service `{name}`: environment must be a mapping or a list"),
                ));
            }
        }
        for key in ["depends_on", "networks", "labels", "annotations", "sysctls"] {
            if let Some(Value::Array(items)) = def.get(key) {
                let mut m = Map::new();
                for item in items {
                    let text = json_scalar_text(item).unwrap_or_default();
                    let (k, v) = match (key, text.split_once('=')) {
                        ("depends_on", _) => (
                            text.clone(),
                            serde_json::json!({"condition": "service_started"}),
                        ),
                        ("networks", _) => (text.clone(), Value::Null),
                        (_, Some((k, v))) => (k.to_string(), Value::String(v.to_string())),
                        (_, None) => (text.clone(), Value::String(String::new())),
                    };
                    m.insert(k, v);
                }
                def.insert(key.to_string(), Value::Object(m));
            }
        }
        Ok(RawService {
            fields: def,
            env,
            file,
        })
    }

    /// Reads, parses, resolves merge keys, drops `x-*` and interpolates one compose file.
    fn interpolated(&mut self, path: &Path) -> Result<Map<String, Value>> {
        let started = std::time::Instant::now();
        let text = std::fs::read_to_string(path).map_err(|e| Error::read(path, e))?;
        let mut yaml: serde_norway::Value =
            serde_norway::from_str(&text).map_err(|e| Error::yaml(path, &e))?;
        tracing::debug!(file = %path.display(), ms = started.elapsed().as_secs_f64() * 1e3, "parsed");
        apply_merges(&mut yaml).map_err(|e| Error::yaml(path, &e))?;
        tracing::debug!(file = %path.display(), ms = started.elapsed().as_secs_f64() * 1e3, "merge keys resolved");
        let serde_norway::Value::Mapping(mut top) = yaml else {
            if yaml.is_null() {
                return Ok(Map::new());
            }
            return Err(Error::invalid(
                path,
                "a compose file must be a mapping at the top level",
            ));
        };
        top.retain(|k, _| !k.as_str().is_some_and(|k| k.starts_with("x-")));
        let mut value = serde_norway::Value::Mapping(top);
        let display = path.display().to_string();
        let mut unset = Vec::new();
        interpolate_tree(&mut value, self.vars, &mut unset).map_err(|missing| {
            Error::RequiredVariable {
                path: path.to_path_buf(),
                name: missing.name,
                message: missing.message,
            }
        })?;
        for name in unset {
            self.unset.insert(UnsetVariable {
                name,
                file: display.clone(),
            });
        }
        tracing::debug!(file = %path.display(), ms = started.elapsed().as_secs_f64() * 1e3, "interpolated");
        match into_json(value).map_err(|m| Error::invalid(path, m))? {
            Value::Object(m) => Ok(m),
            _ => Err(Error::invalid(path, "a compose file must be a mapping")),
        }
    }
}

/// Moves a YAML tree into JSON values (strings are moved, not copied: on large files this
/// halves the allocations of loading). Keys must be scalars; tags are dropped.
fn into_json(value: serde_norway::Value) -> std::result::Result<Value, String> {
    use serde_norway::Value as Y;
    Ok(match value {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(b),
        Y::Number(n) => {
            if let Some(u) = n.as_u64() {
                Value::from(u)
            } else if let Some(i) = n.as_i64() {
                Value::from(i)
            } else {
                n.as_f64()
                    .and_then(serde_json::Number::from_f64)
                    .map_or(Value::Null, Value::Number)
            }
        }
        Y::String(s) => Value::String(s),
        Y::Sequence(items) => Value::Array(
            items
                .into_iter()
                .map(into_json)
                .collect::<std::result::Result<_, _>>()?,
        ),
        Y::Mapping(m) => {
            let mut out = Map::with_capacity(m.len());
            for (k, v) in m {
                let key = match k {
                    Y::String(s) => s,
                    Y::Number(n) => n.to_string(),
                    Y::Bool(b) => b.to_string(),
                    other => {
                        return Err(format!(
                            "unsupported mapping key {other:?}; keys must be strings"
                        ));
                    }
                };
                out.insert(key, into_json(v)?);
            }
            Value::Object(out)
        }
        Y::Tagged(t) => into_json(t.value)?,
    })
}

/// Resolves `<<:` merge keys everywhere. A mapping pulled in by a merge may carry its own
/// `<<:` (anchors built from anchors), so this repeats until none is left.
pub fn apply_merges(
    value: &mut serde_norway::Value,
) -> std::result::Result<(), serde_norway::Error> {
    // Depth of anchor chains in real files is small; the bound only stops a pathological file.
    for _ in 0..64 {
        value.apply_merge()?;
        if !has_merge_key(value) {
            break;
        }
    }
    Ok(())
}

fn has_merge_key(value: &serde_norway::Value) -> bool {
    match value {
        serde_norway::Value::Mapping(m) => m.contains_key("<<") || m.values().any(has_merge_key),
        serde_norway::Value::Sequence(s) => s.iter().any(has_merge_key),
        serde_norway::Value::Tagged(t) => has_merge_key(&t.value),
        _ => false,
    }
}

fn interpolate_tree(
    value: &mut serde_norway::Value,
    vars: &Variables,
    unset: &mut Vec<String>,
) -> std::result::Result<(), interpolate::RequiredMissing> {
    match value {
        serde_norway::Value::String(s) if s.contains('$') => {
            *s = interpolate::interpolate(s, vars, unset)?;
        }
        serde_norway::Value::Mapping(m) => {
            for v in m.values_mut() {
                interpolate_tree(v, vars, unset)?;
            }
        }
        serde_norway::Value::Sequence(items) => {
            for v in items {
                interpolate_tree(v, vars, unset)?;
            }
        }
        serde_norway::Value::Tagged(t) => interpolate_tree(&mut t.value, vars, unset)?,
        _ => {}
    }
    Ok(())
}

fn env_file_entries(value: &Value) -> Vec<(String, bool)> {
    let one = |v: &Value| match v {
        Value::String(s) => Some((s.clone(), true)),
        Value::Object(m) => Some((
            m.get("path")?.as_str()?.to_string(),
            m.get("required").and_then(Value::as_bool).unwrap_or(true),
        )),
        _ => None,
    };
    match value {
        Value::Array(items) => items.iter().filter_map(one).collect(),
        other => one(other).into_iter().collect(),
    }
}
