//! `devenv summary [--bundle PATH]`: every service of the bundle with its URL, passwords masked.

use std::path::PathBuf;

use devenv_core::exit;
use devenv_core::output::{self, Failure};
use devenv_core::paths::Workspace;

pub fn run(ws: &Workspace, bundle: Option<PathBuf>) -> Result<u8, Failure> {
    let path = match bundle {
        Some(path) => path,
        None => ws.bundle_path(super::mode::current()?),
    };
    let bundle = devenv_core::bundle::Bundle::read(&path).map_err(|e| {
        Failure::new(
            exit::USAGE,
            format!("{e} — run `make secrets-sync` (or `make up`)"),
        )
    })?;
    bundle.register_secrets();
    for line in summary_lines(&bundle, &path) {
        output::println_redacted(&line);
    }
    Ok(exit::OK)
}

/// One line per service the bundle describes (profiles' services only when their keys are
/// there), URLs with their passwords masked: the redactor runs over every line as well.
fn summary_lines(bundle: &devenv_core::bundle::Bundle, path: &std::path::Path) -> Vec<String> {
    use devenv_core::redact::mask_url;
    let get = |k: &str| bundle.get(k).unwrap_or("");
    let mut rows: Vec<(&str, String)> = Vec::new();
    let mut add = |name: &'static str, keys: &[&str], text: String| {
        if keys
            .iter()
            .all(|k| bundle.get(k).is_some_and(|v| !v.is_empty()))
        {
            rows.push((name, text));
        }
    };
    add("postgres", &["DATABASE_URL"], mask_url(get("DATABASE_URL")));
    add("redis", &["REDIS_URL"], mask_url(get("REDIS_URL")));
    add(
        "nats",
        &["NATS_URL"],
        format!(
            "{} (user {}; monitor http://127.0.0.1:{})",
            mask_url(get("NATS_URL")),
            get("NATS_USER"),
            get("NATS_MONITOR_PORT")
        ),
    );
    add(
        "s3",
        &["S3_ENDPOINT"],
        format!(
            "{} (bucket {}, access key {})",
            get("S3_ENDPOINT"),
            get("S3_BUCKET"),
            get("S3_ACCESS_KEY")
        ),
    );
    add(
        "mock-inference",
        &["MOCK_INFERENCE_URL"],
        format!(
            "{} (model {})",
            get("MOCK_INFERENCE_URL"),
            get("MOCK_INFERENCE_MODEL")
        ),
    );
    add(
        "rabbitmq",
        &["RABBITMQ_URL"],
        format!(
            "{} (management {})",
            mask_url(get("RABBITMQ_URL")),
            mask_url(get("RABBITMQ_MANAGEMENT_URL"))
        ),
    );
    add(
        "vault",
        &["VAULT_ADDR"],
        format!("{} (role {})", get("VAULT_ADDR"), get("VAULT_ROLE_ID")),
    );
    rows.push((
        "credentials",
        format!("{} (mode 0600, git-ignored)", path.display()),
    ));
    rows.into_iter()
        .map(|(name, text)| format!("  {name:<15} {text}"))
        .collect()
}
