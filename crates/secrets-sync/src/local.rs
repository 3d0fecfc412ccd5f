//! Local mode without Vault: credentials generated once per workspace and kept in
//! `.devenv/credentials.env` (0600, ignored), so the bundle can be deleted and rebuilt without
//! locking the user out of data that was initialised with the old passwords.

use std::path::PathBuf;

use devenv_core::bundle::{Bundle, BundleError};
use devenv_core::credentials;
use devenv_core::paths::{Mode, Workspace};
use devenv_core::stack::{self, PortAssignment, PortDefaults, PortName};

/// The credential keys the generator owns. Everything else in the bundle is derived.
pub const GENERATED: &[&str] = &[
    "POSTGRES_PASSWORD",
    "REDIS_PASSWORD",
    "NATS_PASSWORD",
    "S3_ACCESS_KEY",
    "S3_SECRET_KEY",
    "RABBITMQ_PASSWORD",
];

/// The optional profile a bundle key belongs to: its keys are in the bundle only while the
/// profile is in effect, whatever else (the mapping, Vault) provides them.
pub fn profile_of_key(key: &str) -> Option<&'static str> {
    if key.starts_with("RABBITMQ_") && !key.ends_with("_PORT") {
        Some("rabbitmq")
    } else if key.starts_with("VAULT_") && !key.ends_with("_PORT") {
        Some("vault")
    } else {
        None
    }
}

/// The RabbitMQ user the rabbitmq profile creates (in place of `guest`, which it never has).
pub const RABBITMQ_USER: &str = "devenv";

pub fn credentials_path(ws: &Workspace) -> PathBuf {
    ws.state_dir().join("credentials.env")
}

/// Loads the workspace's credentials, generating (and persisting) whatever is missing.
pub fn load_or_create_credentials(ws: &Workspace) -> Result<Bundle, BundleError> {
    let path = credentials_path(ws);
    let mut creds = Bundle::read_optional(&path)?.unwrap_or_default();
    let mut changed = false;
    for key in GENERATED {
        if creds.get(key).is_none_or(str::is_empty) {
            let value = if *key == "S3_ACCESS_KEY" {
                // An identifier, not a secret (DESIGN): short, lowercase, recognisable.
                format!("devenv-{}", credentials::generate(10).to_lowercase())
            } else {
                credentials::generate(credentials::PASSWORD_LEN)
            };
            creds.set(*key, value);
            changed = true;
        }
    }
    creds.register_secrets();
    if changed {
        creds.write(
            &path,
            "devenv local credentials: generated once per workspace, kept stable.\nDelete only together with .devenv/data (make reset keeps it).",
        )?;
    }
    Ok(creds)
}

/// Everything that decides the local bundle.
pub struct LocalInputs<'a> {
    pub workspace: &'a Workspace,
    /// Written as DEVENV_MODE: remote mode without Vault also uses the generator.
    pub mode: Mode,
    pub defaults: &'a PortDefaults,
    pub previous: Option<&'a Bundle>,
    pub strict_ports: bool,
    pub model: String,
    /// The optional profiles in effect (`PROFILES=`): each adds its service's bundle keys.
    pub profiles: &'a [String],
}

pub struct LocalOutcome {
    pub bundle: Bundle,
    pub ports: Vec<PortAssignment>,
}

/// Builds the local bundle: stable credentials + resolved ports + derived URLs.
pub fn build(inputs: &LocalInputs<'_>, creds: &Bundle) -> Result<LocalOutcome, stack::StackError> {
    let ws = inputs.workspace;
    let previous_ports = inputs
        .previous
        .map(stack::ports_in_bundle)
        .unwrap_or_default();
    let env = |k: &str| std::env::var(k).ok();
    let requests = stack::requested_ports(inputs.defaults, &previous_ports, &env)?;
    let ports = stack::resolve_ports(&requests, inputs.strict_ports, &|name, holder| {
        stack::held_by_workspace(ws, name, holder)
    })?;
    let port = |name: PortName| {
        ports
            .iter()
            .find(|a| a.name == name.key())
            .map(|a| a.port)
            .expect("every port name is resolved")
    };
    let cred = |k: &str| creds.get(k).unwrap_or_default().to_string();
    let host = "127.0.0.1";
    let (pg_user, pg_db) = ("devenv", "devenv");

    let mut b = Bundle::new();
    b.set("DEVENV_WORKSPACE", ws.name());
    b.set("DEVENV_MODE", inputs.mode.as_str());
    b.set("DEVENV_GENERATED_AT", devenv_core::ids::now_rfc3339());
    b.set("DEVENV_SOURCE", "local-generator");
    b.set("POSTGRES_HOST", host);
    b.set("POSTGRES_PORT", port(PortName::Postgres).to_string());
    b.set("POSTGRES_USER", pg_user);
    b.set("POSTGRES_PASSWORD", cred("POSTGRES_PASSWORD"));
    b.set("POSTGRES_DB", pg_db);
    let loopback_url = "a loopback URL with a numeric port always parses";
    b.set(
        "DATABASE_URL",
        devenv_core::bundle::database_url(
            pg_user,
            &cred("POSTGRES_PASSWORD"),
            host,
            &port(PortName::Postgres).to_string(),
            pg_db,
        )
        .expect(loopback_url),
    );
    b.set("REDIS_HOST", host);
    b.set("REDIS_PORT", port(PortName::Redis).to_string());
    b.set("REDIS_PASSWORD", cred("REDIS_PASSWORD"));
    b.set(
        "REDIS_URL",
        devenv_core::bundle::redis_url(
            &cred("REDIS_PASSWORD"),
            host,
            &port(PortName::Redis).to_string(),
        )
        .expect(loopback_url),
    );
    b.set(
        "NATS_URL",
        format!("nats://{host}:{}", port(PortName::Nats)),
    );
    b.set("NATS_USER", "devenv");
    b.set("NATS_PASSWORD", cred("NATS_PASSWORD"));
    b.set(
        "S3_ENDPOINT",
        format!("http://{host}:{}", port(PortName::S3)),
    );
    b.set("S3_REGION", "us-east-1");
    b.set("S3_ACCESS_KEY", cred("S3_ACCESS_KEY"));
    b.set("S3_SECRET_KEY", cred("S3_SECRET_KEY"));
    b.set("S3_BUCKET", "devenv");
    b.set(
        "MOCK_INFERENCE_URL",
        format!("http://{host}:{}", port(PortName::MockInference)),
    );
    b.set("MOCK_INFERENCE_MODEL", inputs.model.as_str());
    if inputs.profiles.iter().any(|p| p == "rabbitmq") {
        let password = cred("RABBITMQ_PASSWORD");
        b.set(
            "RABBITMQ_URL",
            devenv_core::bundle::amqp_url(
                RABBITMQ_USER,
                &password,
                host,
                &port(PortName::Rabbitmq).to_string(),
            )
            .expect(loopback_url),
        );
        b.set(
            "RABBITMQ_MANAGEMENT_URL",
            format!("http://{host}:{}/", port(PortName::RabbitmqManagement)),
        );
        b.set("RABBITMQ_USER", RABBITMQ_USER);
        b.set("RABBITMQ_PASSWORD", password);
    }
    for name in PortName::ALL {
        b.set(name.bundle_key(), port(name).to_string());
    }
    Ok(LocalOutcome { bundle: b, ports })
}
