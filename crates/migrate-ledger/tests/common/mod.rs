//! Shared fixtures: one real PostgreSQL per test process, a fresh database per test, and a
//! workspace (migrations dir + .devenv) in a temp dir for each.
#![allow(dead_code, unsafe_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::LazyLock;
use std::time::{Duration, Instant};

use devenv_testkit::Postgres;

/// One server per test process (cargo test shares it between tests; nextest runs one test per
/// process). Statics are never dropped, so an `atexit` hook stops the server.
pub static PG: LazyLock<Postgres> = LazyLock::new(|| {
    let pg = Postgres::start();
    // SAFETY: registers a plain `extern "C" fn()` with libc; it runs once, at process exit.
    unsafe {
        libc::atexit(stop_server);
    }
    pg
});

extern "C" fn stop_server() {
    let pg = &*PG;
    let pid_file = pg.data_dir.join("postmaster.pid");
    let Some(pid) = std::fs::read_to_string(&pid_file)
        .ok()
        .and_then(|t| t.lines().next().map(str::to_string))
    else {
        return;
    };
    // SIGINT = fast shutdown. The postmaster removes its pid file last; then the temp dir can go.
    let _ = Command::new("kill").args(["-INT", &pid]).status();
    let deadline = Instant::now() + Duration::from_secs(10);
    while pid_file.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = std::fs::remove_dir_all(pg.dir());
}

/// A fresh database and a scratch workspace with its own migrations directory.
pub struct Env {
    pub db: String,
    pub url: String,
    pub root: tempfile::TempDir,
}

impl Env {
    pub fn new(prefix: &str) -> Self {
        let db = PG.create_database(prefix);
        let url = PG.url_for(&db);
        let root = tempfile::Builder::new()
            .prefix("migrate-ledger-test-")
            .tempdir()
            .unwrap();
        std::fs::create_dir_all(root.path().join("migrations")).unwrap();
        Self { db, url, root }
    }

    pub fn dir(&self) -> PathBuf {
        self.root.path().join("migrations")
    }

    pub fn write(&self, name: &str, sql: &str) -> PathBuf {
        let path = self.dir().join(name);
        std::fs::write(&path, sql).unwrap();
        path
    }

    /// The real binary, pointed at this database and workspace; no inherited DATABASE_URL.
    pub fn cmd(&self, args: &[&str]) -> Command {
        self.cmd_in(&self.dir(), args)
    }

    /// Like [`Env::cmd`] with another migrations directory.
    pub fn cmd_in(&self, dir: &Path, args: &[&str]) -> Command {
        let mut cmd = self.cmd_from_bundle(&["--database-url", &self.url]);
        cmd.arg("--dir").arg(dir).args(args);
        cmd
    }

    /// The real binary in this workspace without a database URL, so it reads the bundle of
    /// the mode; no inherited DATABASE_URL, MODE or DEVENV_MODE.
    pub fn cmd_from_bundle(&self, args: &[&str]) -> Command {
        let mut cmd = devenv_testkit::cmd::command("migrate-ledger");
        cmd.env("DEVENV_ROOT", self.root.path()).args(args);
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().unwrap()
    }

    pub fn sql(&self, sql: &str) -> String {
        PG.psql(&self.db, sql)
    }

    pub fn events(&self) -> String {
        std::fs::read_to_string(self.root.path().join(".devenv/events.jsonl")).unwrap_or_default()
    }

    pub fn ledger_json(&self) -> serde_json::Value {
        let text = std::fs::read_to_string(self.root.path().join(".devenv/migration-ledger.json"))
            .unwrap();
        serde_json::from_str(&text).unwrap()
    }

    /// Polls until `sql` returns `want` (a readiness check on the server's own view).
    pub fn wait_for(&self, sql: &str, want: &str) {
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut pause = Duration::from_millis(5);
        while self.sql(sql) != want {
            assert!(
                Instant::now() < deadline,
                "timed out waiting for `{sql}` to return {want}"
            );
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(100));
        }
    }
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The one JSON document a `--json` run printed.
#[track_caller]
pub fn json(o: &Output) -> serde_json::Value {
    serde_json::from_str(&stdout(o))
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", stdout(o)))
}

/// Asserts that stderr says `needle`, showing stderr when it does not.
#[track_caller]
pub fn assert_stderr_has(o: &Output, needle: &str) {
    let err = stderr(o);
    assert!(err.contains(needle), "`{needle}` not in stderr:\n{err}");
}

/// Asserts the exit code, showing both streams when it differs.
#[track_caller]
pub fn assert_code(o: &Output, code: i32) {
    assert_eq!(
        o.status.code(),
        Some(code),
        "stdout:\n{}\nstderr:\n{}",
        stdout(o),
        stderr(o)
    );
}

/// N small migrations: 001 creates `applied_log`, each file appends its own name to it, so a
/// file applied twice shows up as a duplicate row.
pub fn write_logged_migrations(env: &Env, n: usize) {
    env.write(
        "001_log.sql",
        "CREATE TABLE applied_log (file text NOT NULL);\nINSERT INTO applied_log VALUES ('001');\n",
    );
    for i in 2..=n {
        env.write(
            &format!("{i:03}_step.sql"),
            &format!("CREATE TABLE t{i} (id int);\nINSERT INTO applied_log VALUES ('{i:03}');\n"),
        );
    }
}

/// Files logged more than once (should be empty) and the total number of log rows.
pub fn log_counts(env: &Env) -> (String, String) {
    let dup = env.sql("SELECT coalesce(string_agg(file, ','), '') FROM (SELECT file FROM applied_log GROUP BY file HAVING count(*) > 1) d");
    let total = env.sql("SELECT count(*) FROM applied_log");
    (dup, total)
}
