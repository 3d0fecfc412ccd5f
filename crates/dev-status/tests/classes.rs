//! Every failure class, produced for real against real servers (issue 3, "Must hold"), and
//! the guarantee that one blackholed component cannot hold up the run.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::*;
use devenv_testkit::Stack;

fn class_of<'a>(doc: &'a serde_json::Value, name: &str) -> &'a str {
    let c = component(doc, name);
    assert_eq!(c["state"], "unhealthy", "{name}: {c}");
    c["class"]
        .as_str()
        .unwrap_or_else(|| panic!("{name} has no class: {c}"))
}

/// The stack's bundle with `changes` set, written to `dir/name`.
fn bundle_with(stack: &Stack, dir: &Path, name: &str, changes: &[(&str, String)]) -> PathBuf {
    let mut bundle = stack.bundle();
    for (key, value) in changes {
        bundle.set(*key, value.as_str());
    }
    write_bundle(dir, name, &bundle)
}

#[test]
fn every_class_for_real() {
    let stack = Stack::start();
    let dir = tempfile::tempdir().unwrap();
    let blackhole = Blackhole::start();

    // tls: TLS demanded of a plain PostgreSQL; protocol: an HTTP server (the NATS monitor)
    // where Redis is expected; timeout: a listener that accepts and never answers;
    // dns: a name under `.invalid`.
    let changes = [
        (
            "DATABASE_URL",
            format!("{}?sslmode=require", stack.postgres.url()),
        ),
        ("REDIS_URL", redis_url_at(&stack, stack.nats.monitor_port)),
        ("NATS_URL", format!("nats://127.0.0.1:{}", blackhole.port)),
        (
            "S3_ENDPOINT",
            format!("http://devenv-missing.invalid:{}", stack.s3.port),
        ),
    ];
    let env = bundle_with(&stack, dir.path(), "first.env", &changes);
    let (code, doc, stderr) = run_json(
        dev_status(dir.path())
            .args(["--threshold-ms", "700", "--env-file"])
            .arg(&env),
    );
    assert_eq!(code, 1, "{doc:#}\n{stderr}");
    assert_eq!(doc["overall"], "unhealthy");
    assert_eq!(class_of(&doc, "postgres"), "tls");
    assert_eq!(class_of(&doc, "redis"), "protocol");
    assert_eq!(class_of(&doc, "nats"), "timeout");
    assert_eq!(class_of(&doc, "s3"), "dns");
    let redis_message = component(&doc, "redis")["message"].as_str().unwrap();
    assert!(
        redis_message.contains("nats-server"),
        "names the holder of the port: {redis_message}"
    );
    assert!(
        component(&doc, "s3")["message"]
            .as_str()
            .unwrap()
            .contains("devenv-missing.invalid")
    );
    assert_no_secret(&stack, &format!("{doc}{stderr}"));
    assert_valid(&doc, "status.schema.json");

    // auth: wrong passwords for PostgreSQL, Redis, NATS and S3; refused: a closed port.
    let mut bundle = stack.bundle();
    let wrong = "wrong-password-1234";
    bundle.set(
        "DATABASE_URL",
        stack
            .postgres
            .url()
            .replace(&stack.postgres.password, wrong),
    );
    bundle.set(
        "REDIS_URL",
        format!("redis://:{wrong}@127.0.0.1:{}/0", stack.redis.port),
    );
    bundle.set("NATS_PASSWORD", wrong);
    bundle.set("S3_SECRET_KEY", wrong);
    bundle.set(
        "MOCK_INFERENCE_URL",
        format!("http://127.0.0.1:{}", closed_port()),
    );
    let env = write_bundle(dir.path(), "second.env", &bundle);
    let (code, doc, stderr) = run_json(dev_status(dir.path()).arg("--env-file").arg(&env));
    assert_eq!(code, 1, "{doc:#}\n{stderr}");
    for name in ["postgres", "redis", "nats", "s3"] {
        assert_eq!(class_of(&doc, name), "auth", "{name}: {doc:#}");
        let message = component(&doc, name)["message"].as_str().unwrap();
        assert!(message.contains("make secrets-sync"), "remedy in {message}");
        assert!(
            !message.contains(wrong),
            "the wrong password leaked: {message}"
        );
    }
    assert_eq!(class_of(&doc, "mock_inference"), "refused");
    assert!(
        stderr.is_empty(),
        "libraries log nothing of their own: {stderr}"
    );
    let refused = component(&doc, "mock_inference")["message"]
        .as_str()
        .unwrap();
    assert!(
        refused.contains("connection refused on 127.0.0.1:") && refused.contains("make up"),
        "{refused}"
    );
    assert!(
        !stderr.contains(wrong) && !doc.to_string().contains(wrong),
        "{stderr}"
    );
    assert_no_secret(&stack, &format!("{doc}{stderr}"));
    let out = dev_status(dir.path())
        .arg("--human")
        .arg("--env-file")
        .arg(&env)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let table = String::from_utf8(out.stdout).unwrap();
    insta::with_settings!({ filters => vec![
        (r"127\.0\.0\.1:\d+", "127.0.0.1:[PORT]"),
        (r"\b\d+ ms +", "[N] ms    "),
        (r"in \d+ ms", "in [N] ms"),
        (r"devenv[a-z0-9]{8}\b", "[ACCESS_KEY]"),
        (r"/tmp/\S+", "[TMP]"),
    ]}, {
        insta::assert_snapshot!("auth_and_refused_table", table);
    });

    // misconfigured: the bucket does not exist; a missing key is a configuration error (exit 2).
    let mut bundle = stack.bundle();
    bundle.set("S3_BUCKET", "no-such-bucket");
    bundle.remove("NATS_USER");
    let env = write_bundle(dir.path(), "third.env", &bundle);
    let (code, doc, stderr) = run_json(
        dev_status(dir.path())
            .args(["--only", "s3,nats", "--env-file"])
            .arg(&env),
    );
    assert_eq!(code, 2, "{doc:#}\n{stderr}");
    assert_eq!(class_of(&doc, "s3"), "misconfigured");
    assert_eq!(class_of(&doc, "nats"), "misconfigured");
    assert!(
        component(&doc, "nats")["message"]
            .as_str()
            .unwrap()
            .contains("NATS_USER missing")
    );
    assert!(stderr.contains("make secrets-sync"), "{stderr}");
    assert_eq!(
        doc["components"].as_array().unwrap().len(),
        2,
        "--only keeps two: {doc:#}"
    );
}

#[test]
fn http_checks_from_the_config_file() {
    let stack = Stack::start();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("health.yaml");
    std::fs::write(
        &config,
        format!(
            "checks:\n  - name: monitor_tls\n    url: https://127.0.0.1:{mon}/healthz\n  - name: monitor\n    url: http://127.0.0.1:${{NATS_MONITOR_PORT}}/healthz\n    expect_status: 200\n    body_pattern: '\"status\": ?\"ok\"'\n  - name: monitor_body\n    url: http://127.0.0.1:{mon}/healthz\n    body_pattern: never-there\n",
            mon = stack.nats.monitor_port
        ),
    )
    .unwrap();
    let monitor = ("NATS_MONITOR_PORT", stack.nats.monitor_port.to_string());
    let env = bundle_with(&stack, dir.path(), ".env.local", &[monitor]);
    let (code, doc, stderr) = run_json(
        dev_status(dir.path())
            .args(["--only", "monitor_tls,monitor,monitor_body", "--config"])
            .arg(&config)
            .arg("--env-file")
            .arg(&env),
    );
    assert_eq!(code, 1, "{doc:#}\n{stderr}");
    assert_eq!(class_of(&doc, "monitor_tls"), "tls");
    assert_eq!(component(&doc, "monitor")["state"], "healthy", "{doc:#}");
    assert_eq!(class_of(&doc, "monitor_body"), "protocol");
    assert_valid(&doc, "status.schema.json");
}

#[test]
fn rabbitmq_handshake_classes() {
    // No RabbitMQ server runs here; what can be produced for real: nothing listening
    // (refused), a NATS server, which greets first (protocol), and an HTTP server, which waits
    // for a request line and so never answers the AMQP protocol header (timeout).
    let nats = devenv_testkit::Nats::start();
    let dir = tempfile::tempdir().unwrap();
    for (port, class, needle) in [
        (closed_port(), "refused", "connection refused"),
        (nats.port, "protocol", "not an AMQP frame"),
        (nats.monitor_port, "timeout", "within 500 ms"),
    ] {
        let mut bundle = devenv_core::bundle::Bundle::new();
        bundle.set(
            "RABBITMQ_URL",
            format!("amqp://devenv:rabbit-secret-99@127.0.0.1:{port}/%2F"),
        );
        let env = write_bundle(dir.path(), ".env.local", &bundle);
        let (code, doc, stderr) = run_json(
            dev_status(dir.path())
                .args(["--only", "rabbitmq", "--threshold-ms", "500", "--env-file"])
                .arg(&env),
        );
        assert_eq!(code, 1, "{doc:#}\n{stderr}");
        assert_eq!(class_of(&doc, "rabbitmq"), class, "{doc:#}");
        let c = component(&doc, "rabbitmq");
        assert!(c["message"].as_str().unwrap().contains(needle), "{c}");
        assert_eq!(
            c["endpoint"],
            format!("amqp://devenv:***@127.0.0.1:{port}/%2F")
        );
        assert!(!doc.to_string().contains("rabbit-secret-99"));
    }
}

#[test]
fn one_blackholed_component_does_not_hold_up_the_run() {
    let stack = Stack::start();
    let dir = tempfile::tempdir().unwrap();
    let blackhole = Blackhole::start();
    let redis = ("REDIS_URL", redis_url_at(&stack, blackhole.port));
    let env = bundle_with(&stack, dir.path(), ".env.local", &[redis]);
    // The default threshold (2 s) is the deadline of every probe.
    let started = Instant::now();
    let (code, doc, stderr) = run_json(dev_status(dir.path()).arg("--env-file").arg(&env));
    let elapsed = started.elapsed();
    assert_eq!(code, 1, "{doc:#}\n{stderr}");
    // The bound catches a probe given its deadline twice (connect, then read: 4 s) while
    // leaving a busy machine a second for the run's own start, the other probes and output.
    assert!(
        elapsed <= Duration::from_millis(2000 + 1000),
        "the run took {elapsed:?}, more than threshold + 1 s"
    );
    assert!(
        elapsed >= Duration::from_millis(2000),
        "the blackhole was given its full threshold: {elapsed:?}"
    );
    assert_eq!(class_of(&doc, "redis"), "timeout");
    for name in ["postgres", "nats", "s3"] {
        assert_eq!(component(&doc, name)["state"], "healthy", "{name}: {doc:#}");
    }
}
