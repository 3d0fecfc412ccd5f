//! The rabbitmq probe against a real RabbitMQ broker (devenv_testkit::RabbitMq, started the way
//! `scripts/dev/native.sh` starts the rabbitmq profile): the AMQP 0-9-1 handshake up to
//! `Connection.Tune` with the bundle's user, and the management API's `/api/overview`.
//! `classes.rs` (`rabbitmq_handshake_classes`) covers what other servers on the port produce.

mod common;

use std::path::{Path, PathBuf};

use common::*;
use devenv_core::bundle::Bundle;
use devenv_testkit::RabbitMq;
use serde_json::Value;

/// A bundle with only the rabbitmq profile's keys, written to `dir/name`.
fn rabbit_bundle(dir: &Path, name: &str, url: &str, management: &str) -> PathBuf {
    let mut bundle = Bundle::new();
    bundle.set("RABBITMQ_URL", url);
    bundle.set("RABBITMQ_MANAGEMENT_URL", management);
    write_bundle(dir, name, &bundle)
}

/// `dev-status --json --only rabbitmq` on `env`: (exit code, the rabbitmq entry, whole output).
fn probe(dir: &Path, env: &Path) -> (i32, Value, String) {
    let (code, doc, stderr) = run_json(
        dev_status(dir)
            .args(["--only", "rabbitmq", "--threshold-ms", "5000", "--env-file"])
            .arg(env),
    );
    assert_valid(&doc, "status.schema.json");
    let entry = component(&doc, "rabbitmq").clone();
    (code, entry, format!("{doc}\n{stderr}"))
}

fn message(entry: &Value) -> &str {
    entry["message"].as_str().unwrap_or_default()
}

#[test]
fn a_real_broker_is_healthy_for_its_user_and_auth_for_any_other() {
    let rabbit = RabbitMq::start();
    let dir = tempfile::tempdir().unwrap();

    let env = rabbit_bundle(
        dir.path(),
        "ok.env",
        &rabbit.url(),
        &rabbit.management_url(),
    );
    let (code, entry, out) = probe(dir.path(), &env);
    assert_eq!(code, 0, "{out}\n{}", rabbit.log());
    assert_eq!(entry["state"], "healthy", "{entry}");
    assert_eq!(entry["class"], Value::Null);
    let text = message(&entry);
    assert!(
        text.contains("AMQP handshake ok as `devenv`") && text.contains("management API ok"),
        "{text}"
    );
    assert_eq!(
        entry["endpoint"],
        format!("amqp://devenv:***@127.0.0.1:{}/%2F", rabbit.amqp_port)
    );
    assert!(
        !out.contains(&rabbit.password),
        "the password leaked: {out}"
    );
    let human = dev_status(dir.path())
        // The management API can take over the default 2 s on a busy machine.
        .args([
            "--human",
            "--only",
            "rabbitmq",
            "--threshold-ms",
            "5000",
            "--env-file",
        ])
        .arg(&env)
        .output()
        .unwrap();
    assert_eq!(human.status.code(), Some(0));
    let table = String::from_utf8_lossy(&human.stdout);
    assert!(
        table.contains("rabbitmq") && table.contains("healthy"),
        "{table}"
    );
    assert!(!table.contains(&rabbit.password), "{table}");

    // A wrong password: the broker answers Connection.Close 403 → auth, the password (neither
    // the wrong one nor the right one) never printed.
    let wrong = "wrong-rabbit-password-4711";
    let url = rabbit.url().replace(&rabbit.password, wrong);
    let env = rabbit_bundle(dir.path(), "wrong.env", &url, &rabbit.management_url());
    let (code, entry, out) = probe(dir.path(), &env);
    assert_eq!(code, 1, "{out}");
    assert_eq!(entry["state"], "unhealthy", "{entry}");
    assert_eq!(entry["class"], "auth", "{entry}");
    let text = message(&entry);
    assert!(
        text.contains("rejected the credentials of `devenv`")
            && text.contains("ACCESS_REFUSED")
            && text.contains("make secrets-sync"),
        "{text}"
    );
    assert!(!out.contains(wrong), "the wrong password leaked: {out}");
    assert!(
        !out.contains(&rabbit.password),
        "the password leaked: {out}"
    );

    // `guest` does not exist on the stack's broker (default_user is set): refused like any
    // unknown user.
    let url = format!("amqp://guest:guest@127.0.0.1:{}/%2F", rabbit.amqp_port);
    let env = rabbit_bundle(dir.path(), "guest.env", &url, &rabbit.management_url());
    let (code, entry, out) = probe(dir.path(), &env);
    assert_eq!(code, 1, "{out}");
    assert_eq!(entry["class"], "auth", "{entry}");
    // (The user name is masked too here: it equals the password, `guest`.)
    assert!(message(&entry).contains("ACCESS_REFUSED"), "{entry}");

    // AMQP answers but the management API is not where the bundle says: unhealthy, and the
    // message is about RABBITMQ_MANAGEMENT_URL's port, not the AMQP one.
    let closed = closed_port();
    let management = format!("http://127.0.0.1:{closed}/");
    let env = rabbit_bundle(dir.path(), "mgmt.env", &rabbit.url(), &management);
    let (code, entry, out) = probe(dir.path(), &env);
    assert_eq!(code, 1, "{out}");
    assert_eq!(entry["state"], "unhealthy", "{entry}");
    assert_eq!(entry["class"], "refused", "{entry}");
    let text = message(&entry);
    assert!(
        text.contains(&format!("connection refused on 127.0.0.1:{closed}")),
        "{text}"
    );
    assert!(
        !out.contains(&rabbit.password),
        "the password leaked: {out}"
    );

    // The management URL pointing at the AMQP listener: not an HTTP answer → not healthy.
    let management = format!("http://127.0.0.1:{}/", rabbit.amqp_port);
    let env = rabbit_bundle(dir.path(), "amqp-as-mgmt.env", &rabbit.url(), &management);
    let (code, entry, out) = probe(dir.path(), &env);
    assert_eq!(code, 1, "{out}");
    assert_eq!(entry["state"], "unhealthy", "{entry}");
    assert!(
        !out.contains(&rabbit.password),
        "the password leaked: {out}"
    );
}

#[test]
fn a_stopped_broker_is_refused() {
    let mut rabbit = RabbitMq::start();
    let dir = tempfile::tempdir().unwrap();
    let env = rabbit_bundle(
        dir.path(),
        ".env.local",
        &rabbit.url(),
        &rabbit.management_url(),
    );
    let (code, entry, out) = probe(dir.path(), &env);
    assert_eq!(code, 0, "{out}");
    assert_eq!(entry["state"], "healthy", "{entry}");

    rabbit.stop();
    let (code, entry, out) = probe(dir.path(), &env);
    assert_eq!(code, 1, "{out}");
    assert_eq!(entry["state"], "unhealthy", "{entry}");
    assert_eq!(entry["class"], "refused", "{entry}");
    let text = message(&entry);
    assert!(
        text.contains(&format!(
            "connection refused on 127.0.0.1:{}",
            rabbit.amqp_port
        )) && text.contains("make up"),
        "{text}"
    );
    assert!(
        !out.contains(&rabbit.password),
        "the password leaked: {out}"
    );
}
