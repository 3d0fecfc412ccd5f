//! migrate-ledger against a real PostgreSQL 15 (devenv-core testkit): the real binary, a fresh
//! database per test.

mod common;

use std::process::Stdio;

use common::{
    Env, assert_code, assert_stderr_has, json, log_counts, stderr, stdout, write_logged_migrations,
};

/// A statement that sleeps for the database's `test.sleep` setting (0 when unset), so a test
/// can hold a runner inside a file and release it again.
const SLEEP_SQL: &str =
    "SELECT pg_sleep(coalesce(nullif(current_setting('test.sleep', true), ''), '0')::float);\n";

/// Starts `up` with `test.sleep` set and returns once the server shows it sleeping in a file.
fn spawn_up_until_sleeping(env: &Env, seconds: u32) -> std::process::Child {
    env.sql(&format!(
        "ALTER DATABASE {} SET test.sleep = '{seconds}'",
        env.db
    ));
    let child = env
        .cmd(&["up"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    env.wait_for(
        &format!(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = '{}' AND wait_event = 'PgSleep'",
            env.db
        ),
        "1",
    );
    child
}

/// `n` logged migrations (see [`write_logged_migrations`]) in which `file` runs `before`, then
/// sleeps: returns the workspace and an `up` caught sleeping in that file.
fn runner_caught_in(
    prefix: &str,
    n: usize,
    file: &str,
    before: &str,
    seconds: u32,
) -> (Env, std::process::Child) {
    let env = Env::new(prefix);
    write_logged_migrations(&env, n);
    let version = &file[..3];
    env.write(
        file,
        &format!("{before}{SLEEP_SQL}INSERT INTO applied_log VALUES ('{version}');\n"),
    );
    let child = spawn_up_until_sleeping(&env, seconds);
    (env, child)
}

/// SIGKILLs the runner and clears `test.sleep`, so later runs do not sleep.
fn kill_and_stop_sleeping(env: &Env, mut child: std::process::Child) {
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    env.sql(&format!("ALTER DATABASE {} RESET test.sleep", env.db));
}

#[test]
fn second_up_applies_nothing() {
    let env = Env::new("idem");
    write_logged_migrations(&env, 5);
    let first = env.run(&["up", "--json"]);
    assert_code(&first, 0);
    let doc = json(&first);
    assert_eq!(doc["schema_version"], 1);
    assert_eq!(doc["applied"].as_array().unwrap().len(), 5);

    let second = env.run(&["up", "--json"]);
    assert_code(&second, 0);
    let doc = json(&second);
    assert_eq!(doc["applied"].as_array().unwrap().len(), 0, "{doc}");
    assert_eq!(doc["already_applied"], 5);
    assert_eq!(log_counts(&env), (String::new(), "5".to_string()));

    let ledger = env.ledger_json();
    assert_eq!(ledger["version"], 1);
    let applied = ledger["applied"].as_array().unwrap();
    assert_eq!(applied.len(), 5);
    assert!(
        applied[0]["checksum"]
            .as_str()
            .unwrap()
            .starts_with("sha256:")
    );
    assert!(applied[0]["appliedAt"].is_string());
    assert_eq!(env.sql("SELECT count(*) FROM schema_migrations WHERE state = 'applied' AND duration_ms IS NOT NULL"), "5");
    assert_code(&env.run(&["verify"]), 0);
    assert!(env.events().contains("\"migrations_applied\""));
}

#[test]
fn eight_concurrent_runners_apply_every_file_once() {
    let env = Env::new("conc");
    write_logged_migrations(&env, 30);
    let children: Vec<_> = (0..8)
        .map(|_| {
            env.cmd(&["up", "--json", "--lock-timeout", "60s"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut applied_total = 0;
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert_code(&out, 0);
        let doc = json(&out);
        applied_total += doc["applied"].as_array().unwrap().len();
    }
    assert_eq!(
        applied_total, 30,
        "the eight runners together applied each file once"
    );
    assert_eq!(log_counts(&env), (String::new(), "30".to_string()));
    assert_eq!(env.sql("SELECT count(*) FROM schema_migrations"), "30");
}

#[test]
fn killed_runner_then_up_converges_without_applying_twice() {
    // 004 sleeps while the database asks it to: the window in which the runner is killed.
    let (env, child) = runner_caught_in("kill", 6, "004_step.sql", "", 2);
    kill_and_stop_sleeping(&env, child);

    let again = env.run(&["up"]);
    assert_code(&again, 0);
    let third = env.run(&["up", "--json"]);
    assert_code(&third, 0);
    assert_eq!(
        log_counts(&env),
        (String::new(), "6".to_string()),
        "every file exactly once"
    );
    assert_eq!(
        env.sql("SELECT count(*) FROM schema_migrations WHERE state = 'applied'"),
        "6"
    );
    assert_code(&env.run(&["verify"]), 0);
}

#[test]
fn crashed_no_transaction_file_is_in_doubt_until_resolved() {
    let (env, child) = runner_caught_in(
        "doubt",
        3,
        "002_step.sql",
        "-- devenv:no-transaction\nCREATE TABLE IF NOT EXISTS t2 (id int);\n",
        30,
    );
    // The sleep runs after the start record was committed.
    assert_eq!(
        env.sql("SELECT count(*) FROM schema_migrations WHERE state = 'started'"),
        "1"
    );
    kill_and_stop_sleeping(&env, child);
    // The killed runner's backend still sleeps; end it so the test does not wait for it.
    env.sql(&format!("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = '{}' AND wait_event = 'PgSleep'", env.db));

    let refused = env.run(&["up"]);
    assert_code(&refused, 1);
    assert_stderr_has(&refused, "002_step.sql in doubt");
    assert_stderr_has(&refused, "resolve --applied");
    assert_eq!(
        env.sql("SELECT count(*) FROM applied_log WHERE file = '002'"),
        "0",
        "not silently re-run"
    );

    let status = env.run(&["status", "--json"]);
    let doc = json(&status);
    assert_eq!(doc["summary"]["in_doubt"], 1);

    assert_code(
        &env.run(&[
            "resolve",
            "--failed",
            "002_step.sql",
            "--note",
            "sleep never finished",
        ]),
        0,
    );
    assert_code(&env.run(&["up"]), 0);
    assert_eq!(log_counts(&env), (String::new(), "3".to_string()));
    assert_eq!(
        env.sql("SELECT action || ':' || note FROM schema_migrations_audit"),
        "resolve-failed:sleep never finished"
    );
}

#[test]
fn tampered_file_is_refused_and_crlf_only_is_formatting() {
    let env = Env::new("tamper");
    write_logged_migrations(&env, 3);
    assert_code(&env.run(&["up"]), 0);

    // A CRLF checkout of an applied file: same SQL, different bytes.
    let original = std::fs::read_to_string(env.dir().join("002_step.sql")).unwrap();
    env.write("002_step.sql", &original.replace('\n', "\r\n"));
    let crlf = env.run(&["up"]);
    assert_code(&crlf, 3);
    assert_stderr_has(&crlf, "002_step.sql");
    assert_stderr_has(&crlf, "only in formatting");
    let status = json(&env.run(&["status", "--json"]));
    let entry = &status["files"][1];
    assert_eq!(entry["state"], "changed");
    assert_eq!(entry["change"], "formatting-only");
    assert_code(&env.run(&["up", "--accept-formatting"]), 0);

    // A real edit of an applied file.
    env.write(
        "003_step.sql",
        "CREATE TABLE t3 (id bigint);\nINSERT INTO applied_log VALUES ('003');\n",
    );
    let real = env.run(&["up", "--accept-formatting"]);
    assert_code(&real, 3);
    assert_stderr_has(&real, "003_step.sql");
    assert_stderr_has(&real, "the SQL itself differs");
    assert_code(&env.run(&["verify"]), 3);
    assert!(env.events().contains("\"integrity_refused\""));

    // Audited acceptance.
    assert_code(
        &env.run(&[
            "repair",
            "--accept",
            "003_step.sql",
            "--note",
            "widened in place",
        ]),
        0,
    );
    assert_code(&env.run(&["repair", "--accept", "002_step.sql"]), 0);
    assert_code(&env.run(&["up"]), 0);
    assert_code(&env.run(&["verify"]), 0);
    assert_eq!(env.sql("SELECT string_agg(filename || ':' || action, ',' ORDER BY id) FROM schema_migrations_audit"), "003_step.sql:accept,002_step.sql:accept");
}

#[test]
fn failing_statement_names_file_line_column_and_rolls_back() {
    let env = Env::new("fail");
    env.write("001_ok.sql", "CREATE TABLE ok_one (id int);\n");
    env.write(
        "002_bad.sql",
        "CREATE TABLE half (id int);\nINSERT INTO half VALUES (1);\nSELECT * FROM missing_table;\n",
    );
    env.write("003_later.sql", "CREATE TABLE later (id int);\n");
    let out = env.run(&["up"]);
    assert_code(&out, 1);
    let err = stderr(&out);
    assert!(err.contains("002_bad.sql:3:15"), "{err}");
    assert!(
        err.contains("relation \"missing_table\" does not exist"),
        "{err}"
    );
    assert_eq!(
        env.sql("SELECT to_regclass('half') IS NULL"),
        "t",
        "the failing file left nothing behind"
    );
    assert_eq!(env.sql("SELECT to_regclass('later') IS NULL"), "t");
    assert_eq!(
        env.sql("SELECT string_agg(filename, ',') FROM schema_migrations"),
        "001_ok.sql"
    );
    assert!(env.events().contains("\"up_failed\""));

    // A syntax error fails the whole pipelined batch at parse time; earlier files still apply.
    let env = Env::new("syntax");
    env.write("001_ok.sql", "CREATE TABLE ok_one (id int);\n");
    env.write(
        "002_bad.sql",
        "-- a comment line\r\nCREATE TABLE x (id int);\r\n  SELEC 1;\r\n",
    );
    let out = env.run(&["up"]);
    assert_code(&out, 1);
    assert_stderr_has(&out, "002_bad.sql:3:3");
    assert_eq!(
        env.sql("SELECT string_agg(filename, ',') FROM schema_migrations"),
        "001_ok.sql"
    );
    assert_eq!(env.sql("SELECT to_regclass('x') IS NULL"), "t");
}

#[test]
fn lock_timeout_exits_4_naming_the_holder() {
    let env = Env::new("lock");
    write_logged_migrations(&env, 2);
    let mut holder = std::process::Command::new(devenv_testkit::require_tool("psql"))
        .args([
            "-X",
            "-q",
            "-h",
            "127.0.0.1",
            "-p",
            &common::PG.port.to_string(),
            "-U",
            &common::PG.user,
            "-d",
            &env.db,
        ])
        .args([
            "-c",
            &format!("SELECT pg_advisory_lock({})", migrate_ledger::db::LOCK_KEY),
            "-c",
            "SELECT pg_sleep(60)",
        ])
        .env("PGPASSWORD", &common::PG.password)
        .env("PGAPPNAME", "lock-holder-test")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    env.wait_for(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted",
        "1",
    );
    let holder_pid =
        env.sql("SELECT pid FROM pg_stat_activity WHERE application_name = 'lock-holder-test'");

    let out = env.run(&["up", "--lock-timeout", "300ms"]);
    let _ = holder.kill();
    let _ = holder.wait();
    assert_code(&out, 4);
    let err = stderr(&out);
    assert!(err.contains("lock-holder-test"), "{err}");
    assert!(err.contains(&format!("backend pid {holder_pid}")), "{err}");
    assert_eq!(
        env.sql("SELECT to_regclass('applied_log') IS NULL"),
        "t",
        "nothing ran without the lock"
    );
    assert!(env.events().contains("\"lock_waiting\""));
}

#[test]
fn status_json_snapshot() {
    let env = Env::new("status");
    env.write("001_organizations.sql", "CREATE TABLE orgs (id int);\n");
    env.write("002_users.sql", "CREATE TABLE users (id int);\n");
    assert_code(&env.run(&["up"]), 0);
    env.write("003_keys.sql", "CREATE TABLE keys (id int);\n");
    let out = env.run(&["status", "--json"]);
    assert_code(&out, 0);
    let mut doc = json(&out);
    doc["directory"] = "[dir]".into();
    let text = serde_json::to_string_pretty(&doc).unwrap();
    insta::with_settings!({filters => vec![
        (r#""correlation_id": "[^"]+""#, r#""correlation_id": "[id]""#),
        (r#""applied_at": "[^"]+""#, r#""applied_at": "[time]""#),
        (r#""duration_ms": \d+"#, r#""duration_ms": "[ms]""#),
        (r#""applied_by": "[^"]+""#, r#""applied_by": "[user]""#),
    ]}, {
        insta::assert_snapshot!(text);
    });
}

#[test]
fn gaps_and_out_of_order_files_need_the_flag() {
    let env = Env::new("order");
    env.write("001_a.sql", "CREATE TABLE a (id int);\n");
    env.write("003_c.sql", "CREATE TABLE c (id int);\n");
    let gap = env.run(&["up"]);
    assert_code(&gap, 2);
    assert_stderr_has(&gap, "gap");
    assert_code(&env.run(&["up", "--allow-out-of-order"]), 0);
    env.write("002_b.sql", "CREATE TABLE b (id int);\n");
    let below = env.run(&["up"]);
    assert_code(&below, 2);
    assert_stderr_has(&below, "002_b.sql");
    assert_code(&env.run(&["up", "--allow-out-of-order"]), 0);
    env.write("002_dup.sql", "SELECT 1;\n");
    let dup = env.run(&["status"]);
    assert_code(&dup, 2);
    assert_stderr_has(&dup, "duplicate migration number 2");
}

#[test]
fn dry_run_and_new_change_nothing_in_the_database() {
    let env = Env::new("dry");
    let created = env.run(&["new", "Create Widgets", "--quiet"]);
    assert_code(&created, 0);
    assert!(
        stdout(&created).trim().ends_with("001_create_widgets.sql"),
        "{}",
        stdout(&created)
    );
    env.write("001_create_widgets.sql", "CREATE TABLE widgets (id int);\n");
    let dry = env.run(&["up", "--dry-run"]);
    assert_code(&dry, 0);
    assert!(
        stdout(&dry).contains("would apply 001_create_widgets.sql"),
        "{}",
        stdout(&dry)
    );
    assert_eq!(
        env.sql(
            "SELECT to_regclass('schema_migrations') IS NULL AND to_regclass('widgets') IS NULL"
        ),
        "t"
    );
    let next = env.run(&["new", "more", "--json"]);
    let doc = json(&next);
    assert_eq!(doc["filename"], "002_more.sql");
}

#[test]
fn wait_timeout_and_unreachable_database_have_distinct_codes() {
    let env = Env::new("wait");
    let port = devenv_testkit::free_port();
    let password = "unreachable-Secret-8c1f";
    let url = format!("postgres://devenv:{password}@127.0.0.1:{port}/none");
    let out = env
        .cmd(&["status", "--database-url", &url])
        .output()
        .unwrap();
    assert_code(&out, 5);
    assert!(!stderr(&out).contains(password), "{}", stderr(&out));
    let out = env
        .cmd(&["status", "--database-url", &url, "--wait-timeout", "300ms"])
        .output()
        .unwrap();
    assert_code(&out, 4);
    assert_stderr_has(&out, "--wait-timeout");
    assert!(!stderr(&out).contains(password), "{}", stderr(&out));
    assert!(!env.events().contains(password), "{}", env.events());
}

#[test]
fn platform_migrations_and_seeds_keep_the_admin_password_in_a_0600_file() {
    let env = Env::new("platform");
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../migrations");
    let run = |args: &[&str]| {
        env.cmd_in(&repo, args)
            .env("MOCK_INFERENCE_MODEL", "mock-test-model")
            .output()
            .unwrap()
    };
    assert_code(&run(&["up"]), 0);
    let seeded = run(&["seed"]);
    assert_code(&seeded, 0);
    let out = stdout(&seeded);
    // The password goes to a 0600 file; stdout names the file and the key, never the value.
    let creds = env.root.path().join(".devenv/admin-credentials.env");
    assert!(
        out.contains(".devenv/admin-credentials.env") && out.contains("DEVENV_ADMIN_PASSWORD"),
        "{out}"
    );
    use std::os::unix::fs::PermissionsExt as _;
    assert_eq!(
        std::fs::metadata(&creds).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let kept = std::fs::read_to_string(&creds).unwrap();
    let password = kept
        .lines()
        .find_map(|l| l.strip_prefix("DEVENV_ADMIN_PASSWORD='"))
        .and_then(|v| v.strip_suffix('\''))
        .unwrap()
        .to_string();
    assert_eq!(password.len(), 24);
    assert!(!out.contains(&password), "never on stdout: {out}");
    assert!(!creds.with_extension("env.pending").exists());

    let hash = env.sql("SELECT password_hash FROM users WHERE role = 'system_admin'");
    let parsed = argon2::password_hash::PasswordHash::new(&hash).unwrap();
    use argon2::password_hash::PasswordVerifier as _;
    assert!(
        argon2::Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    );
    assert_eq!(
        env.sql("SELECT m.name FROM model_mappings mm JOIN models m ON m.id = mm.model_id WHERE mm.alias = 'default'"),
        "mock-test-model"
    );
    assert_eq!(env.sql("SELECT slug FROM organizations"), "devenv");

    let again = run(&["seed"]);
    assert_code(&again, 0);
    assert!(!stdout(&again).contains(&password));
    assert_eq!(
        std::fs::read_to_string(&creds).unwrap(),
        kept,
        "an existing credential is kept"
    );
    assert_eq!(env.sql("SELECT count(*) FROM schema_seeds"), "3");
    assert!(!env.events().contains(&password), "never in events");
    assert!(!stderr(&seeded).contains(&password), "never in logs");
    assert!(
        std::fs::read_to_string(env.root.path().join(".devenv/seed-ledger.json"))
            .unwrap()
            .contains("002_system_admin.sql")
    );
}

/// `repair` and `resolve` store the note verbatim, whatever it holds — also on a database
/// with `standard_conforming_strings = off`, where a backslash in a SQL literal is an escape
/// (the audit rows used to be built by string escaping, which dropped it there).
#[test]
fn audit_notes_are_stored_verbatim() {
    const NOTE: &str = r"it's a \ back\slash; $$ dollar-quoted $$; DROP TABLE x; --";
    let env = Env::new("audit");
    write_logged_migrations(&env, 2);
    assert_code(&env.run(&["up"]), 0);
    env.sql(&format!(
        "ALTER DATABASE {} SET standard_conforming_strings = off",
        env.db
    ));
    env.write(
        "002_step.sql",
        "CREATE TABLE t2 (id bigint);\nINSERT INTO applied_log VALUES ('002');\n",
    );
    assert_code(
        &env.run(&["repair", "--accept", "002_step.sql", "--note", NOTE]),
        0,
    );
    // A no-transaction file left in doubt (as a killed runner leaves it).
    env.sql("INSERT INTO schema_migrations (filename, version, checksum, normalized_checksum, state, applied_by) VALUES ('003_gone.sql', 3, 'sha256:00', 'sha256:00', 'started', 'test')");
    let resolved = env.run(&[
        "resolve",
        "--applied",
        "003_gone.sql",
        "--note",
        NOTE,
        "--json",
    ]);
    assert_code(&resolved, 0);
    let doc = json(&resolved);
    assert_eq!(
        (
            &doc["kind"],
            &doc["track"],
            &doc["filename"],
            &doc["resolved_as"]
        ),
        (
            &"migrate_resolve".into(),
            &"migrations".into(),
            &"003_gone.sql".into(),
            &"applied".into()
        )
    );
    let notes = env.sql(
        "SELECT string_agg(action || '=' || note, E'\\n' ORDER BY id) FROM schema_migrations_audit",
    );
    assert_eq!(
        notes,
        format!("accept=content change accepted: {NOTE}\nresolve-applied={NOTE}")
    );
    assert_eq!(env.sql("SELECT to_regclass('x') IS NULL"), "t");
}

/// Without a database URL the bundle of the mode is read, by the one rule every tool follows:
/// MODE, else DEVENV_MODE (which a sourced bundle exports), else local; an unknown mode is a
/// usage error naming the variable.
#[test]
fn the_mode_picks_the_bundle_mode_before_devenv_mode() {
    let env = Env::new("mode");
    env.write("001_a.sql", "CREATE TABLE a (id int);\n");
    let dead = format!(
        "postgres://devenv:x@127.0.0.1:{}/none",
        devenv_testkit::free_port()
    );
    std::fs::write(
        env.root.path().join(".env.local"),
        format!("DATABASE_URL='{dead}'\n"),
    )
    .unwrap();
    std::fs::write(
        env.root.path().join(".env.linode"),
        format!("DATABASE_URL='{}'\n", env.url),
    )
    .unwrap();
    let dir = env.dir();
    let dir = dir.to_str().unwrap();
    let status = |mode: &str, devenv_mode: &str| {
        env.cmd_from_bundle(&["status", "--json", "--dir", dir])
            .env("MODE", mode)
            .env("DEVENV_MODE", devenv_mode)
            .output()
            .unwrap()
    };
    let remote = status("remote", "local");
    assert_code(&remote, 0);
    assert_eq!(json(&remote)["summary"]["pending"], 1);
    assert_code(&status("", "remote"), 0);
    assert_code(&status("", "local"), 5);
    let bogus = status("bogus", "local");
    assert_code(&bogus, 2);
    assert_stderr_has(&bogus, "MODE=bogus");
}
