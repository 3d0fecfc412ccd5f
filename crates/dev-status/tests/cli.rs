//! The command line contract: exit codes, formats, --wait, --watch, --only/--skip, --strict,
//! and the human table (insta snapshot with ports and timings filtered).

mod common;

use std::time::{Duration, Instant};

use std::path::Path;

use common::*;
use devenv_core::bundle::Bundle;
use devenv_testkit::Stack;

fn filters() -> Vec<(&'static str, &'static str)> {
    vec![
        (r"127\.0\.0\.1:\d+", "127.0.0.1:[PORT]"),
        (r"\b\d+ ms +", "[N] ms    "),
        (r"in \d+ ms", "in [N] ms"),
        (r"nats-server [\d.]+", "nats-server [VERSION]"),
        (r"devenv[a-z0-9]{8}\b", "[ACCESS_KEY]"),
    ]
}

/// The component names of a status document, in report order.
fn component_names(doc: &serde_json::Value) -> Vec<&str> {
    doc["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["component"].as_str().unwrap())
        .collect()
}

#[test]
fn healthy_stack_in_every_format() {
    let stack = Stack::start();
    let dir = tempfile::tempdir().unwrap();
    // The default bundle is <workspace>/.env.local.
    let _env = write_bundle(dir.path(), ".env.local", &stack.bundle());

    let (code, doc, stderr) = run_json(&mut dev_status(dir.path()));
    assert_eq!(code, 0, "{doc:#}\n{stderr}");
    assert_eq!(doc["schema_version"], 1);
    assert_eq!(doc["kind"], "status");
    assert_eq!(doc["overall"], "healthy");
    for name in ["postgres", "redis", "nats", "s3"] {
        let c = component(&doc, name);
        assert_eq!(c["state"], "healthy", "{c}");
        assert!(c["latency_ms"].as_u64().is_some(), "{c}");
    }
    for name in ["mock_inference", "rabbitmq"] {
        assert_eq!(component(&doc, name)["state"], "skipped");
    }
    assert!(
        stderr.is_empty(),
        "nothing on stderr when healthy: {stderr}"
    );
    let text = doc.to_string();
    assert_no_secret(&stack, &text);
    assert!(
        text.contains("postgres://devenv:***@127.0.0.1:"),
        "URL masked, not dropped: {text}"
    );
    assert_valid(&doc, "status.schema.json");

    // --human: the table.
    let out = dev_status(dir.path()).arg("--human").output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let table = String::from_utf8(out.stdout).unwrap();
    insta::with_settings!({ filters => filters() }, {
        insta::assert_snapshot!("healthy_table", table);
    });

    // --quiet: nothing, only the exit code.
    let out = dev_status(dir.path()).arg("--quiet").output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(out.stdout.is_empty());

    // --only / --skip.
    let (_, doc, _) = run_json(dev_status(dir.path()).args(["--only", "redis,nats"]));
    assert_eq!(component_names(&doc), ["redis", "nats"]);
    let (_, doc, _) = run_json(
        dev_status(dir.path()).args(["--skip", "postgres,s3,mock_inference,rabbitmq,vault"]),
    );
    assert_eq!(component_names(&doc), ["redis", "nats"]);

    // degraded: a real answer slower than a 0 ms threshold (the deadline stays generous).
    let slow_postgres = || {
        let mut cmd = dev_status(dir.path());
        cmd.args([
            "--only",
            "postgres",
            "--threshold-ms",
            "0",
            "--probe-timeout-ms",
            "5000",
        ]);
        cmd
    };
    let (code, doc, _) = run_json(&mut slow_postgres());
    assert_eq!(
        code, 0,
        "degraded is not a failure without --strict: {doc:#}"
    );
    assert_eq!(doc["overall"], "degraded");
    assert_eq!(component(&doc, "postgres")["state"], "degraded");
    assert_eq!(
        component(&doc, "postgres")["class"],
        serde_json::Value::Null
    );
    assert_valid(&doc, "status.schema.json");
    let (code, _, _) = run_json(slow_postgres().arg("--strict"));
    assert_eq!(code, 1, "--strict fails on degraded");

    // --watch with a count: one document per refresh.
    let out = dev_status(dir.path())
        .args(["--only", "redis", "--watch", "0.1", "--count", "2"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let docs: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON document per line"))
        .collect();
    assert_eq!(docs.len(), 2);
    assert!(docs.iter().all(|d| d["overall"] == "healthy"));

    // --wait on a healthy stack returns at once, with a progress line per service.
    let out = dev_status(dir.path())
        .args(["--wait", "--timeout", "10", "--human"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let stderr = String::from_utf8(out.stderr).unwrap();
    for name in ["postgres", "redis", "nats", "s3"] {
        assert!(
            stderr.contains(&format!("✓ {name} ready after")),
            "{stderr}"
        );
    }
}

#[test]
fn wait_reports_what_never_became_ready_and_exits_4() {
    let stack = Stack::start();
    let dir = tempfile::tempdir().unwrap();
    let mut bundle = stack.bundle();
    let closed = closed_port();
    bundle.set(
        "REDIS_URL",
        format!("redis://:{}@127.0.0.1:{closed}/0", stack.redis.password),
    );
    let env = write_bundle(dir.path(), ".env.local", &bundle);
    let started = Instant::now();
    let (code, doc, stderr) = run_json(
        dev_status(dir.path())
            .args(["--wait", "--timeout", "1.5", "--env-file"])
            .arg(&env),
    );
    let elapsed = started.elapsed();
    assert_eq!(code, 4, "{doc:#}\n{stderr}");
    // Gave up at the timeout: not before it, and not a whole extra wait (or the default
    // timeout) after it; 2 s above it leaves a busy machine room for the final probe round.
    assert!(
        elapsed >= Duration::from_millis(1500) && elapsed < Duration::from_millis(3500),
        "{elapsed:?}"
    );
    assert_eq!(doc["wait"]["never_ready"], serde_json::json!(["redis"]));
    assert_eq!(doc["wait"]["ready"], false);
    assert_eq!(
        component(&doc, "redis")["class"],
        "refused",
        "the last real answer is kept: {doc:#}"
    );
    assert!(stderr.contains("✓ postgres ready after"), "{stderr}");
    assert!(
        stderr.contains("not ready after 1.5 s: redis (refused)"),
        "{stderr}"
    );
    assert_valid(&doc, "status.schema.json");
}

#[test]
fn wait_sees_a_service_come_up() {
    use std::io::BufRead as _;

    let dir = tempfile::tempdir().unwrap();
    let port = closed_port();
    let password = devenv_core::credentials::generate(24);
    let mut bundle = devenv_core::bundle::Bundle::new();
    bundle.set(
        "REDIS_URL",
        format!("redis://:{password}@127.0.0.1:{port}/0"),
    );
    let env = write_bundle(dir.path(), ".env.local", &bundle);
    let mut child = dev_status_process(dir.path())
        .args([
            "--only",
            "redis",
            "--wait",
            "--timeout",
            "30",
            "--human",
            "--env-file",
        ])
        .arg(&env)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Start the server only once dev-status says it is waiting.
    let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut first = String::new();
    stderr.read_line(&mut first).unwrap();
    assert!(first.starts_with("waiting up to 30 s for redis"), "{first}");
    let _server = devenv_testkit::Redis::start_on(port, &password);
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut rest).unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "{rest}");
    assert!(rest.contains("✓ redis ready after"), "{rest}");
    assert!(!rest.contains(&password), "{rest}");
}

#[test]
fn bad_configuration_exits_2_and_names_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    // Missing bundle.
    let (code, stderr) = run_stderr(&mut dev_status(dir.path()));
    assert_eq!(code, 2);
    assert!(
        stderr.contains(".env.local does not exist") && stderr.contains("make secrets-sync"),
        "{stderr}"
    );
    // --mode remote reads .env.linode.
    let (code, stderr) = run_stderr(dev_status(dir.path()).args(["--mode", "remote"]));
    assert_eq!(code, 2);
    assert!(stderr.contains(".env.linode does not exist"), "{stderr}");

    // Malformed bundle: file and line.
    std::fs::write(
        dir.path().join(".env.local"),
        "POSTGRES_HOST=127.0.0.1\nthis is not dotenv\n",
    )
    .unwrap();
    let (code, stderr) = run_stderr(&mut dev_status(dir.path()));
    assert_eq!(code, 2);
    assert!(
        stderr.contains(".env.local:2:") && stderr.contains("make secrets-sync"),
        "{stderr}"
    );

    // Unknown component.
    std::fs::write(
        dir.path().join(".env.local"),
        "REDIS_URL=redis://:x@127.0.0.1:1/0\n",
    )
    .unwrap();
    let (code, stderr) = run_stderr(dev_status(dir.path()).args(["--only", "mysql"]));
    assert_eq!(code, 2);
    assert!(
        stderr.contains("unknown component `mysql`") && stderr.contains("postgres, redis"),
        "{stderr}"
    );

    // Malformed health config: file and line.
    let config = dir.path().join("health.yaml");
    let with_config = || {
        let mut cmd = dev_status(dir.path());
        cmd.arg("--config").arg(&config);
        cmd
    };
    std::fs::write(&config, "checks:\n  - name: api\n    url: [not a string\n").unwrap();
    let (code, stderr) = run_stderr(&mut with_config());
    assert_eq!(code, 2);
    assert!(
        stderr.contains("health.yaml:") && stderr.contains("fix the YAML"),
        "{stderr}"
    );
    std::fs::write(
        &config,
        "checks:\n  - name: api\n    url: http://127.0.0.1:${NOT_SET_ANYWHERE}/\n",
    )
    .unwrap();
    let (code, stderr) = run_stderr(&mut with_config());
    assert_eq!(code, 2);
    assert!(stderr.contains("NOT_SET_ANYWHERE"), "{stderr}");

    // Bad flags.
    let (code, _) = run_stderr(dev_status(dir.path()).args(["--wait", "--timeout", "-1"]));
    assert_eq!(code, 2);
    let (code, _) = run_stderr(dev_status(dir.path()).arg("--no-such-flag"));
    assert_eq!(code, 2);
}

/// Issue 15: without --mode the bundle follows devenv-core's one rule (MODE, else DEVENV_MODE,
/// else local; a bad value exits 2 naming the variable), and --env-file reads any bundle —
/// a remote one outside the workspace included (what scripts/dev/remote.sh needs).
#[test]
fn the_bundle_follows_the_mode_rule_unless_env_file_names_one() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(".env.local"), "DEVENV_MODE=local\n").unwrap();
    std::fs::write(dir.path().join(".env.linode"), "DEVENV_MODE=remote\n").unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let remote_bundle = elsewhere.path().join("workspace-7.env");
    std::fs::write(&remote_bundle, "DEVENV_MODE=remote\n").unwrap();
    let bundle_read = |vars: &[(&str, &str)], args: &[&str]| {
        let mut cmd = dev_status(dir.path());
        cmd.args(["--json", "--only", "mock_inference"]).args(args);
        for (k, v) in vars {
            cmd.env(k, v);
        }
        let (code, doc, stderr) = run_json(&mut cmd);
        assert_eq!(code, 0, "{vars:?} {args:?}: {stderr}");
        let path = doc["env_file"].as_str().unwrap().to_string();
        std::path::Path::new(&path)
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned()
    };
    assert_eq!(bundle_read(&[], &[]), ".env.local");
    assert_eq!(
        bundle_read(&[("MODE", "remote"), ("DEVENV_MODE", "local")], &[]),
        ".env.linode"
    );
    assert_eq!(
        bundle_read(&[("DEVENV_MODE", "remote")], &[]),
        ".env.linode"
    );
    assert_eq!(
        bundle_read(&[("MODE", "remote")], &["--mode", "local"]),
        ".env.local"
    );
    let remote = remote_bundle.to_str().unwrap();
    assert_eq!(
        bundle_read(&[("MODE", "local")], &["--env-file", remote]),
        "workspace-7.env"
    );
    for var in ["MODE", "DEVENV_MODE"] {
        let (code, stderr) = run_stderr(dev_status(dir.path()).env(var, "bogus"));
        assert_eq!(code, 2, "{var}=bogus: {stderr}");
        assert!(stderr.contains(&format!("{var}=bogus")), "{stderr}");
    }
}

#[test]
fn a_secret_from_the_environment_in_a_check_url_is_masked() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(".env.local"), "DEVENV_MODE=local\n").unwrap();
    let config = dir.path().join("health.yaml");
    let closed = closed_port();
    std::fs::write(
        &config,
        format!("checks:\n  - name: api\n    url: http://127.0.0.1:{closed}/healthz?token=${{PROBE_API_TOKEN}}\n"),
    )
    .unwrap();
    let token = "env-only-Secret-4b7e2a";
    let check = |format: &str| {
        let mut cmd = dev_status(dir.path());
        cmd.args(["--only", "api", format, "--config"])
            .arg(&config)
            .env("PROBE_API_TOKEN", token);
        cmd
    };
    let (code, doc, stderr) = run_json(&mut check("--json"));
    assert_eq!(code, 1, "the check is refused: {doc:#}");
    assert_eq!(
        component(&doc, "api")["endpoint"],
        format!("http://127.0.0.1:{closed}/healthz?token=***"),
        "URL kept, secret masked"
    );
    assert!(!doc.to_string().contains(token) && !stderr.contains(token));
    let out = check("--human").output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!text.contains(token), "the token leaked: {text}");
}

#[test]
fn preflight_reports_the_machine_and_names_port_holders() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("configs")).unwrap();
    std::fs::copy(
        concat!(env!("CARGO_MANIFEST_DIR"), "/../../configs/ports.yaml"),
        dir.path().join("configs/ports.yaml"),
    )
    .unwrap();
    // Something of ours holds the port postgres would use.
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0)).unwrap();
    let held = listener.local_addr().unwrap().port();
    let (code, doc, stderr) = run_json(
        dev_status(dir.path())
            .args(["preflight", "--json"])
            .env("DEVENV_POSTGRES_PORT", held.to_string()),
    );
    assert_eq!(code, 0, "{doc:#}\n{stderr}");
    assert_eq!(doc["kind"], "preflight");
    assert!(doc["cpu_count"].as_u64().unwrap() >= 1);
    assert!(doc["memory_free_mb"].as_u64().unwrap() > 0);
    assert!(doc["disk_free_mb"].as_u64().unwrap() > 0);
    assert_eq!(
        doc["docker"]["available"], false,
        "no Docker engine on this machine"
    );
    assert_eq!(doc["runtime"], "native");
    assert_eq!(doc["pass"], true);
    let ports = doc["ports"].as_array().unwrap();
    let pg = ports.iter().find(|p| p["name"] == "postgres").unwrap();
    assert_eq!(pg["port"], held);
    assert_eq!(pg["free"], false);
    assert_eq!(pg["holder"]["pid"], std::process::id());
    let warning = doc["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w.as_str().unwrap().contains(&format!("port {held}")))
        .unwrap();
    assert!(
        warning.as_str().unwrap().contains("next free port"),
        "{warning}"
    );
    assert_valid(&doc, "preflight.schema.json");

    let out = dev_status(dir.path())
        .args(["preflight", "--human"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("preflight: pass"));

    // No runtime at all: no Docker engine and no native binaries on PATH.
    let out = dev_status(dir.path())
        .args(["preflight", "--json"])
        .env("PATH", "/nonexistent")
        .env("HOME", dir.path())
        .output()
        .unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["runtime"], "none", "{doc:#}");
    assert_eq!(doc["pass"], false);
    assert_eq!(out.status.code(), Some(1));
    drop(listener);
}

/// `dev-status bucket` creates the bundle's bucket through the S3 API (what `make up` runs),
/// says so once, then finds it; a server that never answers is a timeout (exit 4), a wrong
/// secret key an external refusal (exit 5) that never shows the key.
#[test]
fn bucket_is_created_once_then_found() {
    let stack = devenv_testkit::S3::start();
    let dir = tempfile::tempdir().unwrap();
    let mut bundle = Bundle::new();
    bundle.set("S3_ENDPOINT", stack.endpoint());
    bundle.set("S3_REGION", &stack.region);
    bundle.set("S3_ACCESS_KEY", &stack.access_key);
    bundle.set("S3_SECRET_KEY", &stack.secret_key);
    bundle.set("S3_BUCKET", "made-by-dev-status");
    let env = write_bundle(dir.path(), ".env.local", &bundle);
    let bucket = |env: &Path, extra: &[&str]| {
        let mut cmd = dev_status(dir.path());
        cmd.args(["bucket", "--json", "--env-file"])
            .arg(env)
            .args(extra);
        run_json(&mut cmd)
    };
    let (code, doc, err) = bucket(&env, &[]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(doc["kind"], "bucket");
    assert_eq!(doc["created"], true, "{doc}");
    let (code, doc, _) = bucket(&env, &[]);
    assert_eq!(code, 0);
    assert_eq!(doc["created"], false, "the second run finds it: {doc}");
    // The status probe (HeadBucket) now sees it.
    let mut cmd = dev_status(dir.path());
    cmd.args(["--json", "--only", "s3", "--env-file"]).arg(&env);
    let (code, doc, _) = run_json(&mut cmd);
    assert_eq!(code, 0, "{doc}");

    bundle.set("S3_SECRET_KEY", "wrong-Secret-4242");
    bundle.set("S3_BUCKET", "another-bucket");
    let wrong = write_bundle(dir.path(), "wrong.env", &bundle);
    let mut cmd = dev_status(dir.path());
    cmd.args(["bucket", "--env-file"]).arg(&wrong);
    let out = cmd.output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(5),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!String::from_utf8_lossy(&out.stderr).contains("wrong-Secret-4242"));

    bundle.set("S3_ENDPOINT", format!("http://127.0.0.1:{}", closed_port()));
    let closed = write_bundle(dir.path(), "closed.env", &bundle);
    let mut cmd = dev_status(dir.path());
    cmd.args(["bucket", "--timeout", "0.3", "--env-file"])
        .arg(&closed);
    let (code, err) = run_stderr(&mut cmd);
    assert_eq!(code, 4, "{err}");
    assert!(err.contains("did not answer within"), "{err}");
}
