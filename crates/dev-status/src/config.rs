//! From the bundle, the optional health config file and the flags to the list of components.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::str::FromStr as _;
use std::sync::Arc;
use std::time::Duration;

use devenv_core::bundle::{Bundle, BundleError};
use devenv_core::exit::{self, ExitCoded};
use devenv_core::redact::mask_url;
use serde::Deserialize;
use sqlx::ConnectOptions as _;

use crate::probe::{self, Component, Ctx, Plan, Target};

/// Answers slower than this are `degraded` unless configured otherwise.
pub const DEFAULT_THRESHOLD: Duration = Duration::from_millis(2000);

/// The built-in components, in report order.
pub const BUILTIN: [&str; 7] = [
    "postgres",
    "redis",
    "nats",
    "s3",
    "mock_inference",
    "rabbitmq",
    "vault",
];

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{} does not exist — run `make secrets-sync` (or `make up`) to create it, or pass --env-file", path.display())]
    MissingBundle { path: PathBuf },
    #[error(transparent)]
    Bundle(#[from] BundleError),
    #[error("cannot read {}: {source} — fix the path given with --config", path.display())]
    HealthRead {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}:{line}:{column}: {message} — fix the YAML (see crates/dev-status/README.md for the format)", path.display())]
    HealthParse {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{}: check `{name}`: {message}", path.display())]
    BadCheck {
        path: PathBuf,
        name: String,
        message: String,
    },
    #[error("unknown component `{name}` in --{flag} — known: {known}")]
    UnknownComponent {
        flag: &'static str,
        name: String,
        known: String,
    },
}

impl ExitCoded for ConfigError {
    fn exit_code(&self) -> u8 {
        match self {
            ConfigError::Bundle(e) => e.exit_code(),
            _ => exit::USAGE,
        }
    }
}

/// `configs/health.yaml`: per-component limits and extra HTTP checks (the seed's HealthEndpoint).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthFile {
    #[serde(default)]
    pub components: BTreeMap<String, Limits>,
    #[serde(default)]
    pub checks: Vec<HttpCheck>,
}

#[derive(Debug, Default, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    pub threshold_ms: Option<u64>,
    pub timeout_ms: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpCheck {
    pub name: String,
    /// May use `${VAR}` from the bundle or the environment.
    pub url: String,
    #[serde(default = "default_method")]
    pub method: String,
    /// Default: any 2xx.
    pub expect_status: Option<u16>,
    /// A regular expression the body must match.
    pub body_pattern: Option<String>,
    pub timeout_ms: Option<u64>,
    pub threshold_ms: Option<u64>,
}

fn default_method() -> String {
    "GET".to_string()
}

impl HealthFile {
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::HealthRead {
            path: path.to_path_buf(),
            source,
        })?;
        if text.trim().is_empty() {
            return Ok(Self::default());
        }
        serde_norway::from_str(&text).map_err(|e| {
            let (line, column, message) = devenv_core::yaml::error_location(&e);
            ConfigError::HealthParse {
                path: path.to_path_buf(),
                line,
                column,
                message,
            }
        })
    }
}

/// Everything a run needs to know.
pub struct Inputs {
    pub env_file: PathBuf,
    pub bundle: Bundle,
    pub health: HealthFile,
    pub health_path: Option<PathBuf>,
}

impl Inputs {
    /// Reads the bundle (registering its secrets with the redactor) and the health file.
    pub fn load(env_file: PathBuf, health_path: Option<PathBuf>) -> Result<Self, ConfigError> {
        let bundle =
            Bundle::read_optional(&env_file)?.ok_or_else(|| ConfigError::MissingBundle {
                path: env_file.clone(),
            })?;
        bundle.register_secrets();
        devenv_core::bundle_expiry::warn_if_expired(&bundle, &env_file);
        let health = match &health_path {
            Some(p) => HealthFile::load(p)?,
            None => HealthFile::default(),
        };
        Ok(Self {
            env_file,
            bundle,
            health,
            health_path,
        })
    }

    fn get(&self, key: &str) -> Option<String> {
        self.bundle
            .get(key)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    }

    fn missing(&self, keys: &[&str]) -> Option<String> {
        let missing: Vec<&str> = keys
            .iter()
            .copied()
            .filter(|k| self.get(k).is_none())
            .collect();
        (!missing.is_empty()).then(|| {
            format!(
                "{} missing from {} — run `make secrets-sync`",
                missing.join(", "),
                self.env_file.display()
            )
        })
    }

    fn ctx(
        &self,
        component: &str,
        service: &'static str,
        host: &str,
        port: u16,
        keys: &str,
    ) -> Ctx {
        Ctx {
            component: component.to_string(),
            service,
            host: host.to_string(),
            port,
            keys: keys.to_string(),
            env_file: self.env_file.display().to_string(),
        }
    }

    /// Every component the flags select, with its plan and limits.
    pub fn components(&self, flags: &Selection) -> Result<Vec<Component>, ConfigError> {
        let mut names: Vec<String> = BUILTIN.iter().map(|s| s.to_string()).collect();
        names.extend(self.health.checks.iter().map(|c| c.name.clone()));
        for (flag, list) in [("only", &flags.only), ("skip", &flags.skip)] {
            for name in list.iter() {
                if !names.contains(name) {
                    return Err(ConfigError::UnknownComponent {
                        flag,
                        name: name.clone(),
                        known: names.join(", "),
                    });
                }
            }
        }
        let wanted = |name: &str| {
            (flags.only.is_empty() || flags.only.iter().any(|n| n == name))
                && !flags.skip.iter().any(|n| n == name)
        };
        let mut out = Vec::new();
        for name in BUILTIN {
            if !wanted(name) {
                continue;
            }
            let (ctx, endpoint, plan) = match name {
                "postgres" => self.postgres(),
                "redis" => self.redis(),
                "nats" => self.nats(),
                "s3" => self.s3(),
                "mock_inference" => self.mock_inference(),
                "vault" => self.vault(),
                _ => self.rabbitmq(),
            };
            let limits = self
                .health
                .components
                .get(name)
                .copied()
                .unwrap_or_default();
            out.push(finish(name, ctx, endpoint, plan, limits, flags));
        }
        for check in &self.health.checks {
            if !wanted(&check.name) {
                continue;
            }
            let (ctx, endpoint, plan) = self.http_check(check)?;
            let limits = Limits {
                threshold_ms: check.threshold_ms,
                timeout_ms: check.timeout_ms,
            };
            out.push(finish(&check.name, ctx, endpoint, plan, limits, flags));
        }
        Ok(out)
    }

    fn postgres(&self) -> (Ctx, Option<String>, Plan) {
        let keys = "DATABASE_URL/POSTGRES_*";
        let fallback = self.ctx("postgres", "postgres", "", 0, keys);
        let (options, endpoint) = if let Some(url) = self.get("DATABASE_URL") {
            match sqlx::postgres::PgConnectOptions::from_str(&url) {
                Ok(o) => (o, mask_url(&url)),
                Err(e) => {
                    return (
                        fallback,
                        None,
                        self.not_a("DATABASE_URL", &format!("a PostgreSQL URL ({e})")),
                    );
                }
            }
        } else {
            let required = [
                "POSTGRES_HOST",
                "POSTGRES_PORT",
                "POSTGRES_USER",
                "POSTGRES_PASSWORD",
                "POSTGRES_DB",
            ];
            if let Some(why) = self.missing(&required) {
                return (fallback, None, Plan::Misconfigured(why));
            }
            let Some(port) = self.port("POSTGRES_PORT") else {
                return (fallback, None, self.not_a("POSTGRES_PORT", "a port number"));
            };
            let host = self.get("POSTGRES_HOST").unwrap_or_default();
            let user = self.get("POSTGRES_USER").unwrap_or_default();
            let db = self.get("POSTGRES_DB").unwrap_or_default();
            let options = sqlx::postgres::PgConnectOptions::new()
                .host(&host)
                .port(port)
                .username(&user)
                .password(&self.get("POSTGRES_PASSWORD").unwrap_or_default())
                .database(&db);
            (options, format!("postgres://{user}@{host}:{port}/{db}"))
        };
        let options = options
            .application_name("dev-status")
            .disable_statement_logging();
        let ctx = self.ctx(
            "postgres",
            "postgres",
            options.get_host(),
            options.get_port(),
            keys,
        );
        let target = Target::Postgres(probe::postgres::Target { options });
        (ctx, Some(endpoint), Plan::Probe(Arc::new(target)))
    }

    fn redis(&self) -> (Ctx, Option<String>, Plan) {
        let keys = "REDIS_URL/REDIS_*";
        let fallback = self.ctx("redis", "redis", "", 0, keys);
        let url = match self.get("REDIS_URL") {
            Some(url) => url,
            None => {
                if let Some(why) = self.missing(&["REDIS_HOST", "REDIS_PORT", "REDIS_PASSWORD"]) {
                    return (fallback, None, Plan::Misconfigured(why));
                }
                let url = devenv_core::bundle::redis_url(
                    &self.get("REDIS_PASSWORD").unwrap_or_default(),
                    &self.get("REDIS_HOST").unwrap_or_default(),
                    &self.get("REDIS_PORT").unwrap_or_default(),
                );
                let Some(url) = url else {
                    return (
                        fallback,
                        None,
                        self.not_a("REDIS_HOST/REDIS_PORT", "a host and port"),
                    );
                };
                url
            }
        };
        let parsed = url::Url::parse(&url).ok();
        let info = redis::IntoConnectionInfo::into_connection_info(url.as_str());
        match (parsed, info) {
            (Some(parsed), Ok(info)) => {
                let host = parsed
                    .host_str()
                    .unwrap_or("127.0.0.1")
                    .trim_matches(['[', ']'])
                    .to_string();
                let port = parsed.port().unwrap_or(6379);
                let ctx = self.ctx("redis", "redis", &host, port, keys);
                let target = Target::Redis(probe::redis::Target { info });
                (ctx, Some(mask_url(&url)), Plan::Probe(Arc::new(target)))
            }
            (_, Err(e)) => (
                fallback,
                None,
                self.not_a("REDIS_URL", &format!("a Redis URL ({e})")),
            ),
            (None, _) => (fallback, None, self.not_a("REDIS_URL", "a URL")),
        }
    }

    fn nats(&self) -> (Ctx, Option<String>, Plan) {
        let keys = "NATS_URL/NATS_USER/NATS_PASSWORD";
        let fallback = self.ctx("nats", "nats", "", 0, keys);
        if let Some(why) = self.missing(&["NATS_URL", "NATS_USER", "NATS_PASSWORD"]) {
            return (fallback, None, Plan::Misconfigured(why));
        }
        let url = self.get("NATS_URL").unwrap_or_default();
        let Some((host, port)) = host_port(&url, 4222) else {
            return (fallback, None, self.not_a("NATS_URL", "a nats:// URL"));
        };
        let ctx = self.ctx("nats", "nats", &host, port, keys);
        let target = Target::Nats(probe::nats::Target {
            url: url.clone(),
            user: self.get("NATS_USER").unwrap_or_default(),
            password: self.get("NATS_PASSWORD").unwrap_or_default(),
        });
        (ctx, Some(mask_url(&url)), Plan::Probe(Arc::new(target)))
    }

    fn s3(&self) -> (Ctx, Option<String>, Plan) {
        let keys = "S3_ENDPOINT/S3_*";
        let fallback = self.ctx("s3", "s3", "", 0, keys);
        if let Some(why) =
            self.missing(&["S3_ENDPOINT", "S3_ACCESS_KEY", "S3_SECRET_KEY", "S3_BUCKET"])
        {
            return (fallback, None, Plan::Misconfigured(why));
        }
        let endpoint = self.get("S3_ENDPOINT").unwrap_or_default();
        let Some((host, port)) = host_port(&endpoint, 0).filter(|(_, p)| *p != 0) else {
            return (
                fallback,
                None,
                self.not_a("S3_ENDPOINT", "an http(s):// URL"),
            );
        };
        let bucket = self.get("S3_BUCKET").unwrap_or_default();
        let ctx = self.ctx("s3", "s3", &host, port, keys);
        let target = Target::S3(probe::s3::Target {
            endpoint: endpoint.clone(),
            region: self
                .get("S3_REGION")
                .unwrap_or_else(|| "us-east-1".to_string()),
            access_key: self.get("S3_ACCESS_KEY").unwrap_or_default(),
            secret_key: self.get("S3_SECRET_KEY").unwrap_or_default(),
            bucket: bucket.clone(),
        });
        let shown = format!("{}/{bucket}", mask_url(endpoint.trim_end_matches('/')));
        (ctx, Some(shown), Plan::Probe(Arc::new(target)))
    }

    fn mock_inference(&self) -> (Ctx, Option<String>, Plan) {
        let keys = "MOCK_INFERENCE_URL";
        let fallback = self.ctx("mock_inference", "mock_inference", "", 0, keys);
        let Some(url) = self.get("MOCK_INFERENCE_URL") else {
            return skipped(fallback, "MOCK_INFERENCE_URL is not set (optional)");
        };
        match (reqwest::Url::parse(&url), host_port(&url, 0)) {
            (Ok(base), Some((host, port))) if port != 0 => {
                let ctx = self.ctx("mock_inference", "mock_inference", &host, port, keys);
                let target = Target::MockInference(probe::mock_inference::Target {
                    base,
                    model: self.get("MOCK_INFERENCE_MODEL"),
                });
                (ctx, Some(mask_url(&url)), Plan::Probe(Arc::new(target)))
            }
            _ => (
                fallback,
                None,
                self.not_a("MOCK_INFERENCE_URL", "an http:// URL"),
            ),
        }
    }

    fn vault(&self) -> (Ctx, Option<String>, Plan) {
        let keys = "VAULT_ADDR";
        let fallback = self.ctx("vault", "vault", "", 0, keys);
        let Some(url) = self.get("VAULT_ADDR") else {
            return skipped(
                fallback,
                "VAULT_ADDR is not set (optional: the vault profile)",
            );
        };
        match (reqwest::Url::parse(&url), host_port(&url, 8200)) {
            (Ok(base), Some((host, port))) if matches!(base.scheme(), "http" | "https") => {
                let ctx = self.ctx("vault", "vault", &host, port, keys);
                let target = Target::Vault(probe::vault::Target { base });
                (ctx, Some(mask_url(&url)), Plan::Probe(Arc::new(target)))
            }
            _ => (
                fallback,
                None,
                self.not_a("VAULT_ADDR", "an http:// or https:// URL"),
            ),
        }
    }

    fn rabbitmq(&self) -> (Ctx, Option<String>, Plan) {
        let keys = "RABBITMQ_URL";
        let fallback = self.ctx("rabbitmq", "rabbitmq", "", 0, keys);
        let Some(url) = self.get("RABBITMQ_URL") else {
            let why = "RABBITMQ_URL is not set (optional: the rabbitmq profile)";
            return skipped(fallback, why);
        };
        let bad = |why: &str| {
            Plan::Misconfigured(format!(
                "RABBITMQ_URL in {} {why} — expected amqp://user:password@host:5672/vhost",
                self.env_file.display()
            ))
        };
        let Ok(parsed) = url::Url::parse(&url) else {
            return (fallback, None, bad("is not a URL"));
        };
        if parsed.scheme() != "amqp" {
            return (fallback, None, bad("must use amqp://"));
        }
        let Some((host, port)) = host_port(&url, 5672) else {
            return (fallback, None, bad("has no host"));
        };
        let decode = |s: &str| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8_lossy()
                .into_owned()
        };
        let user = if parsed.username().is_empty() {
            "guest".to_string()
        } else {
            decode(parsed.username())
        };
        let password = parsed.password().map_or("guest".to_string(), decode);
        let management_url = self.get("RABBITMQ_MANAGEMENT_URL").unwrap_or_else(|| {
            let port = std::env::var("DEVENV_RABBITMQ_MANAGEMENT_PORT")
                .unwrap_or_else(|_| "15672".to_string());
            format!("http://{host}:{port}/")
        });
        let Ok(management) = reqwest::Url::parse(&management_url) else {
            return (
                fallback,
                None,
                Plan::Misconfigured(format!(
                    "RABBITMQ_MANAGEMENT_URL in {} is not a URL",
                    self.env_file.display()
                )),
            );
        };
        let ctx = self.ctx("rabbitmq", "rabbitmq", &host, port, keys);
        let target = Target::Rabbitmq(probe::rabbitmq::Target {
            user,
            password,
            management,
        });
        (ctx, Some(mask_url(&url)), Plan::Probe(Arc::new(target)))
    }

    fn http_check(&self, check: &HttpCheck) -> Result<(Ctx, Option<String>, Plan), ConfigError> {
        let path = self.health_path.clone().unwrap_or_default();
        let bad = |message: String| ConfigError::BadCheck {
            path: path.clone(),
            name: check.name.clone(),
            message,
        };
        if BUILTIN.contains(&check.name.as_str()) {
            return Err(bad(
                "the name is taken by a built-in component — rename it".to_string()
            ));
        }
        let url = self.expand(&check.url).map_err(|var| {
            bad(format!(
                "`${{{var}}}` is neither in the bundle nor in the environment — set it or fix `url`"
            ))
        })?;
        let parsed =
            reqwest::Url::parse(&url).map_err(|e| bad(format!("`url` is not a URL ({e})")))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(bad("`url` must be http:// or https://".to_string()));
        }
        let method = reqwest::Method::from_bytes(check.method.to_ascii_uppercase().as_bytes())
            .map_err(|_| bad(format!("`method` {} is not an HTTP method", check.method)))?;
        let body_pattern = check
            .body_pattern
            .as_deref()
            .map(regex::Regex::new)
            .transpose()
            .map_err(|e| bad(format!("`body_pattern` is not a regular expression ({e})")))?;
        let host = parsed
            .host_str()
            .unwrap_or_default()
            .trim_matches(['[', ']'])
            .to_string();
        let port = parsed.port_or_known_default().unwrap_or(80);
        let ctx = Ctx {
            component: check.name.clone(),
            service: "http",
            host,
            port,
            keys: format!("`{}` in {}", check.name, path.display()),
            env_file: path.display().to_string(),
        };
        let target = Target::Http(probe::http::Target {
            url: parsed,
            method,
            expect_status: check.expect_status,
            body_pattern,
        });
        Ok((ctx, Some(mask_url(&url)), Plan::Probe(Arc::new(target))))
    }

    /// Expands `${VAR}` from the bundle, then the environment; `Err(var)` names a missing one.
    fn expand(&self, text: &str) -> Result<String, String> {
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let end = after.find('}').ok_or_else(|| after.to_string())?;
            let var = &after[..end];
            let value = match self.get(var) {
                Some(v) => v,
                None => {
                    let v = std::env::var(var).map_err(|_| var.to_string())?;
                    // Bundle secrets are registered on load; a value from the environment is
                    // registered here by the same rule, before the URL reaches any message.
                    devenv_core::redact::register_bundle([(var, v.as_str())]);
                    v
                }
            };
            out.push_str(&value);
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }

    fn port(&self, key: &str) -> Option<u16> {
        self.get(key)?.trim().parse().ok().filter(|p| *p != 0)
    }

    /// A bundle value that is present but unusable, and the fix.
    fn not_a(&self, key: &str, what: &str) -> Plan {
        Plan::Misconfigured(format!(
            "{key} in {} is not {what} — run `make secrets-sync`",
            self.env_file.display()
        ))
    }
}

/// Selection and limits from the flags.
#[derive(Debug, Default, Clone)]
pub struct Selection {
    pub only: Vec<String>,
    pub skip: Vec<String>,
    pub threshold_ms: Option<u64>,
    pub timeout_ms: Option<u64>,
}

fn finish(
    name: &str,
    ctx: Ctx,
    endpoint: Option<String>,
    plan: Plan,
    limits: Limits,
    flags: &Selection,
) -> Component {
    let threshold = flags
        .threshold_ms
        .or(limits.threshold_ms)
        .map_or(DEFAULT_THRESHOLD, Duration::from_millis);
    let timeout = flags
        .timeout_ms
        .or(limits.timeout_ms)
        .map_or(threshold, Duration::from_millis)
        .max(Duration::from_millis(1));
    Component {
        name: name.to_string(),
        ctx,
        endpoint,
        threshold,
        timeout,
        plan,
    }
}

/// Host and port of a URL (`default_port` when the URL has none and the scheme has no default).
fn host_port(url: &str, default_port: u16) -> Option<(String, u16)> {
    let parsed = url::Url::parse(url).ok()?;
    let host = parsed.host_str()?.trim_matches(['[', ']']).to_string();
    if host.is_empty() {
        return None;
    }
    let port = parsed.port_or_known_default().unwrap_or(default_port);
    Some((host, port))
}

/// An optional component that is not configured: skipped, with the reason.
fn skipped(ctx: Ctx, why: &str) -> (Ctx, Option<String>, Plan) {
    (ctx, None, Plan::Skipped(why.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs(text: &str, health: &str) -> Inputs {
        let env_file = PathBuf::from("/ws/.env.local");
        Inputs {
            bundle: Bundle::parse(text, &env_file).unwrap(),
            env_file,
            health: serde_norway::from_str(health).unwrap(),
            health_path: Some(PathBuf::from("/ws/configs/health.yaml")),
        }
    }

    /// The components of a bundle `text` with no health config and no flags.
    fn components(text: &str) -> Vec<Component> {
        inputs(text, "{}")
            .components(&Selection::default())
            .unwrap()
    }

    fn plan_of<'a>(components: &'a [Component], name: &str) -> &'a Plan {
        &components.iter().find(|c| c.name == name).unwrap().plan
    }

    #[test]
    fn missing_keys_are_misconfigured_and_optional_ones_skipped() {
        let c = components("POSTGRES_HOST=127.0.0.1\nREDIS_URL=redis://:pw12@127.0.0.1:6379/0\n");
        match plan_of(&c, "postgres") {
            Plan::Misconfigured(why) => {
                assert!(
                    why.contains("POSTGRES_PORT")
                        && why.contains("/ws/.env.local")
                        && why.contains("make secrets-sync"),
                    "{why}"
                )
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(plan_of(&c, "redis"), Plan::Probe(_)));
        assert!(matches!(plan_of(&c, "mock_inference"), Plan::Skipped(_)));
        assert!(matches!(plan_of(&c, "rabbitmq"), Plan::Skipped(_)));
        let redis = c.iter().find(|c| c.name == "redis").unwrap();
        assert_eq!(
            redis.endpoint.as_deref(),
            Some("redis://:***@127.0.0.1:6379/0")
        );
        assert_eq!(
            (redis.ctx.host.as_str(), redis.ctx.port),
            ("127.0.0.1", 6379)
        );
    }

    #[test]
    fn limits_flags_beat_config_beat_defaults() {
        let i = inputs(
            "REDIS_URL=redis://:pw12@127.0.0.1:6379/0\n",
            "components:\n  redis: { threshold_ms: 300 }\n  nats: { threshold_ms: 100, timeout_ms: 900 }\n",
        );
        let c = i.components(&Selection::default()).unwrap();
        let get = |c: &[Component], n: &str| {
            let c = c.iter().find(|c| c.name == n).unwrap();
            (c.threshold.as_millis(), c.timeout.as_millis())
        };
        assert_eq!(get(&c, "postgres"), (2000, 2000));
        assert_eq!(get(&c, "redis"), (300, 300));
        assert_eq!(get(&c, "nats"), (100, 900));
        let flags = Selection {
            threshold_ms: Some(50),
            ..Selection::default()
        };
        let c = i.components(&flags).unwrap();
        assert_eq!(get(&c, "redis"), (50, 50));
        assert_eq!(get(&c, "nats"), (50, 900));
    }

    #[test]
    fn http_checks_expand_variables_and_reject_bad_entries() {
        let i = inputs(
            "API_PORT=8080\n",
            "checks:\n  - name: api\n    url: http://127.0.0.1:${API_PORT}/healthz\n    method: head\n",
        );
        let c = i
            .components(&Selection {
                only: vec!["api".into()],
                ..Selection::default()
            })
            .unwrap();
        assert_eq!(c.len(), 1);
        assert_eq!(
            c[0].endpoint.as_deref(),
            Some("http://127.0.0.1:8080/healthz")
        );
        assert_eq!(c[0].ctx.port, 8080);

        for (health, needle) in [
            (
                "checks:\n  - name: redis\n    url: http://x/\n",
                "taken by a built-in",
            ),
            (
                "checks:\n  - name: a\n    url: ftp://x/\n",
                "http:// or https://",
            ),
            (
                "checks:\n  - name: a\n    url: http://x/\n    body_pattern: '('\n",
                "regular expression",
            ),
            (
                "checks:\n  - name: a\n    url: http://${NOPE_NOT_SET_42}/\n",
                "NOPE_NOT_SET_42",
            ),
        ] {
            let err = inputs("", health)
                .components(&Selection::default())
                .unwrap_err();
            assert!(err.to_string().contains(needle), "{err}");
            assert_eq!(err.exit_code(), exit::USAGE);
        }
        let err = inputs("", "{}")
            .components(&Selection {
                skip: vec!["mysql".into()],
                ..Selection::default()
            })
            .unwrap_err();
        assert!(err.to_string().contains("--skip"), "{err}");
    }
}
