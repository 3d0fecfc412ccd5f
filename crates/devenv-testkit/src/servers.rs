//! Real servers: PostgreSQL, redis-server, nats-server and s3s-fs (or MinIO) processes on
//! free loopback ports, each in its own temp directory, stopped on drop.
//!
//! Every process started here has `devenv-testkit` in its command line so that `make test`
//! can prove none outlived the run. Readiness is checked by speaking each protocol, never by
//! sleeping. Missing server binaries are a setup problem: the panic says to run `make setup`.

use std::io::{Read as _, Write as _};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use devenv_core::bundle::Bundle;
use devenv_core::credentials;

use crate::cmd::output_ok;
pub use crate::ports::free_port;

/// How long a server may take to become ready before the test fails.
pub const START_TIMEOUT: Duration = Duration::from_secs(30);

/// The project venv's interpreter (`.devenv/venv`, made by `scripts/dev/setup.sh test`): the
/// Python tools the tests use (jsonschema, python-dotenv) live there, never in the system
/// interpreter. Panics with the remedy when the venv is missing.
pub fn venv_python() -> PathBuf {
    let python = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.devenv/venv/bin/python");
    assert!(
        python.is_file(),
        "{} is missing: run `scripts/dev/setup.sh test` (make test does it)",
        python.display()
    );
    python
}

/// Finds a server binary (see [`devenv_core::tools::find`]).
pub fn tool(name: &str) -> Option<PathBuf> {
    devenv_core::tools::find(name)
}

/// Like [`tool`] but panics with the remedy.
pub fn require_tool(name: &str) -> PathBuf {
    tool(name).unwrap_or_else(|| panic!("`{name}` is not installed: run `make setup`"))
}

fn running_as_root() -> bool {
    std::fs::metadata("/proc/self")
        .map(|m| m.uid() == 0)
        .unwrap_or(false)
}

/// The user every server is started with, and a fresh password.
fn login() -> (String, String) {
    ("devenv".to_string(), credentials::generate(24))
}

/// Stops `child` with `sig`, escalating to SIGKILL after 10 s, and reaps it.
pub(crate) fn stop_child(mut child: Child, sig: &str) {
    if let Ok(Some(_)) = child.try_wait() {
        return;
    }
    let _ = Command::new("kill")
        .args(["-s", sig, &child.id().to_string()])
        .status();
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// A scratch directory and a free loopback port for a new server.
fn scratch_with_port(kind: &str) -> (tempfile::TempDir, u16) {
    (scratch_dir(kind), free_port())
}

pub(crate) fn scratch_dir(kind: &str) -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix(&format!("devenv-testkit-{kind}-"))
        .tempdir()
        .expect("create temp dir");
    // PostgreSQL refuses to run as root, so under root the server runs as `postgres`,
    // which must be able to enter the directory.
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))
        .expect("chmod temp dir");
    dir
}

/// A child process stopped (and reaped) on drop.
pub struct Proc {
    child: Option<Child>,
    name: &'static str,
    log: PathBuf,
}

impl Proc {
    pub(crate) fn spawn(name: &'static str, mut cmd: Command, log: PathBuf) -> Self {
        let out = std::fs::File::create(&log).expect("create log");
        let err = out.try_clone().expect("clone log handle");
        cmd.stdin(Stdio::null()).stdout(out).stderr(err);
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e} — run `make setup`"));
        Self {
            child: Some(child),
            name,
            log,
        }
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// The server's log so far (for failure messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Sends a signal by name (`INT`, `TERM`, `KILL`, `STOP`, `CONT`).
    pub fn signal(&self, sig: &str) {
        if let Some(pid) = self.pid() {
            let _ = Command::new("kill")
                .args(["-s", sig, &pid.to_string()])
                .status();
        }
    }

    /// Stops the process with `sig`, escalating to SIGKILL after 10 s, and reaps it.
    pub fn stop_with(&mut self, sig: &str) {
        if let Some(child) = self.child.take() {
            stop_child(child, sig);
        }
    }

    fn check_alive(&mut self) {
        if let Some(child) = self.child.as_mut() {
            if let Ok(Some(status)) = child.try_wait() {
                panic!(
                    "{} exited during start-up ({status}):\n{}",
                    self.name,
                    self.log()
                );
            }
        }
    }

    /// Polls `ready` until it returns true, failing the test with the server log on timeout.
    pub(crate) fn wait_until(&mut self, mut ready: impl FnMut() -> bool) {
        let deadline = Instant::now() + START_TIMEOUT;
        let mut pause = Duration::from_millis(5);
        loop {
            self.check_alive();
            if ready() {
                return;
            }
            if Instant::now() > deadline {
                panic!(
                    "{} was not ready within {START_TIMEOUT:?}:\n{}",
                    self.name,
                    self.log()
                );
            }
            // Back-off between readiness probes, not a fixed wait for readiness.
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(100));
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.stop_with("TERM");
    }
}

fn connect(port: u16) -> Option<TcpStream> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let stream = TcpStream::connect_timeout(&addr, Duration::from_millis(200)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_millis(500)))
        .ok()?;
    Some(stream)
}

/// Sends `request` and returns what the server answers first.
fn exchange(port: u16, request: &[u8]) -> Option<String> {
    let mut stream = connect(port)?;
    if !request.is_empty() {
        stream.write_all(request).ok()?;
    }
    let mut buf = [0u8; 512];
    let n = stream.read(&mut buf).ok()?;
    (n > 0).then(|| String::from_utf8_lossy(&buf[..n]).into_owned())
}

/// A PostgreSQL 15 server with password (scram-sha-256) authentication.
pub struct Postgres {
    pub port: u16,
    pub user: String,
    pub password: String,
    pub database: String,
    pub data_dir: PathBuf,
    proc: Proc,
    dir: tempfile::TempDir,
}

impl Postgres {
    pub fn start() -> Self {
        let (dir, port) = scratch_with_port("pg");
        let (user, password) = login();
        let database = "devenv".to_string();
        let data_dir = dir.path().join("data");
        let pwfile = dir.path().join("pwfile");
        std::fs::write(&pwfile, &password).expect("write pwfile");
        let as_root = running_as_root();
        if as_root {
            let _ = Command::new("chown")
                .args(["postgres:postgres"])
                .arg(dir.path())
                .arg(&pwfile)
                .status();
        }
        let wrap = |bin: &str| {
            let path = require_tool(bin);
            if as_root {
                // setpriv execs in place (runuser would fork and not forward SIGINT).
                let mut c = Command::new("setpriv");
                c.args([
                    "--reuid=postgres",
                    "--regid=postgres",
                    "--init-groups",
                    "--",
                ])
                .arg(path);
                c
            } else {
                Command::new(path)
            }
        };
        let mut initdb = wrap("initdb");
        initdb
            .arg("-D")
            .arg(&data_dir)
            .args([
                "-U",
                &user,
                "--auth=scram-sha-256",
                "-E",
                "UTF8",
                "--no-sync",
            ])
            .arg(format!("--pwfile={}", pwfile.display()));
        output_ok(&mut initdb, "initdb");
        let _ = std::fs::remove_file(&pwfile);
        let mut cmd = wrap("postgres");
        cmd.arg("-D")
            .arg(&data_dir)
            .args(["-p", &port.to_string()])
            .arg("-k")
            .arg(dir.path())
            .args([
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
                "-c",
                "max_connections=200",
            ]);
        let mut proc = Proc::spawn("postgres", cmd, dir.path().join("postgres.log"));
        let isready = require_tool("pg_isready");
        proc.wait_until(|| {
            Command::new(&isready)
                .args(["-q", "-h", "127.0.0.1", "-p", &port.to_string(), "-t", "1"])
                .status()
                .map(|s| s.success())
                .unwrap_or(false)
        });
        let pg = Self {
            port,
            user,
            password,
            database,
            data_dir,
            proc,
            dir,
        };
        pg.psql("postgres", &format!("CREATE DATABASE {}", pg.database));
        pg
    }

    pub fn url(&self) -> String {
        self.url_for(&self.database)
    }

    pub fn url_for(&self, database: &str) -> String {
        format!(
            "postgres://{}:{}@127.0.0.1:{}/{}",
            self.user, self.password, self.port, database
        )
    }

    /// Runs SQL through psql (ON_ERROR_STOP) and returns stdout; panics on error.
    pub fn psql(&self, database: &str, sql: &str) -> String {
        let mut psql = Command::new(require_tool("psql"));
        psql.args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"])
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                &self.user,
            ])
            .args(["-d", database, "-c", sql])
            .env("PGPASSWORD", &self.password);
        let out = output_ok(&mut psql, &format!("psql on `{sql}`"));
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// A new empty database on this server; returns its name.
    pub fn create_database(&self, prefix: &str) -> String {
        let name = format!("{prefix}_{}", credentials::generate(8).to_lowercase());
        self.psql("postgres", &format!("CREATE DATABASE {name}"));
        name
    }

    /// The server process, e.g. to stop or signal it.
    pub fn process(&mut self) -> &mut Proc {
        &mut self.proc
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        // SIGINT = fast shutdown: backends are terminated, no waiting for clients.
        self.proc.stop_with("INT");
    }
}

/// A redis-server with `requirepass`, no persistence.
pub struct Redis {
    pub port: u16,
    pub password: String,
    proc: Proc,
    dir: tempfile::TempDir,
}

impl Redis {
    pub fn start() -> Self {
        Self::start_on(free_port(), &credentials::generate(24))
    }

    /// Starts on a port and with a password chosen beforehand (e.g. a client was told where
    /// to look before the server existed).
    pub fn start_on(port: u16, password: &str) -> Self {
        let dir = scratch_dir("redis");
        let password = password.to_string();
        let conf = dir.path().join("redis.conf");
        std::fs::write(
            &conf,
            format!(
                "bind 127.0.0.1\nport {port}\nrequirepass {password}\ndir {}\nsave \"\"\nappendonly no\nprotected-mode yes\nproc-title-template \"{{title}} {{listen-addr}} devenv-testkit\"\n",
                dir.path().display()
            ),
        )
        .expect("write redis.conf");
        let mut cmd = Command::new(require_tool("redis-server"));
        cmd.arg(&conf);
        let mut proc = Proc::spawn("redis-server", cmd, dir.path().join("redis.log"));
        proc.wait_until(|| {
            exchange(port, b"PING\r\n")
                .is_some_and(|r| r.starts_with("-NOAUTH") || r.starts_with("+PONG"))
        });
        Self {
            port,
            password,
            proc,
            dir,
        }
    }

    pub fn url(&self) -> String {
        format!("redis://:{}@127.0.0.1:{}/0", self.password, self.port)
    }

    pub fn process(&mut self) -> &mut Proc {
        &mut self.proc
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

/// A nats-server with user/password authentication.
pub struct Nats {
    pub port: u16,
    pub monitor_port: u16,
    pub user: String,
    pub password: String,
    proc: Proc,
    _dir: tempfile::TempDir,
}

impl Nats {
    pub fn start() -> Self {
        let (dir, port) = scratch_with_port("nats");
        let monitor_port = free_port();
        let (user, password) = login();
        let conf = dir.path().join("nats.conf");
        std::fs::write(
            &conf,
            format!(
                "listen: \"127.0.0.1:{port}\"\nhttp: \"127.0.0.1:{monitor_port}\"\nauthorization {{\n  user: \"{user}\"\n  password: \"{password}\"\n}}\n"
            ),
        )
        .expect("write nats.conf");
        let mut cmd = Command::new(require_tool("nats-server"));
        cmd.arg("-c").arg(&conf).args(["-n", "devenv-testkit"]);
        let mut proc = Proc::spawn("nats-server", cmd, dir.path().join("nats.log"));
        proc.wait_until(|| exchange(port, b"").is_some_and(|r| r.starts_with("INFO ")));
        Self {
            port,
            monitor_port,
            user,
            password,
            proc,
            _dir: dir,
        }
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    pub fn process(&mut self) -> &mut Proc {
        &mut self.proc
    }
}

/// An S3 server: MinIO when installed, else s3s-fs, serving a directory.
pub struct S3 {
    pub port: u16,
    pub access_key: String,
    pub secret_key: String,
    pub region: String,
    pub root: PathBuf,
    proc: Proc,
    _dir: tempfile::TempDir,
}

impl S3 {
    pub fn start() -> Self {
        let (dir, port) = scratch_with_port("s3");
        let access_key = format!("devenv{}", credentials::generate(8).to_lowercase());
        let secret_key = credentials::generate(32);
        let root = dir.path().join("data");
        std::fs::create_dir_all(&root).expect("create s3 root");
        let cmd = if let Some(minio) = tool("minio") {
            let mut c = Command::new(minio);
            c.arg("server")
                .arg(&root)
                .args(["--address", &format!("127.0.0.1:{port}"), "--quiet"])
                .env("MINIO_ROOT_USER", &access_key)
                .env("MINIO_ROOT_PASSWORD", &secret_key);
            c
        } else {
            let mut c = Command::new(require_tool("s3s-fs"));
            c.args(["--host", "127.0.0.1", "--port", &port.to_string()])
                .args(["--access-key", &access_key, "--secret-key", &secret_key])
                .arg(&root);
            c
        };
        let mut proc = Proc::spawn("s3", cmd, dir.path().join("s3.log"));
        proc.wait_until(|| {
            exchange(
                port,
                b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
            )
            .is_some_and(|r| r.starts_with("HTTP/1."))
        });
        Self {
            port,
            access_key,
            secret_key,
            region: "us-east-1".to_string(),
            root,
            proc,
            _dir: dir,
        }
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Creates a bucket the way s3s-fs stores it (a directory under the root). MinIO also
    /// serves a directory created under its root as a bucket.
    pub fn create_bucket(&self, name: &str) {
        std::fs::create_dir_all(self.root.join(name)).expect("create bucket dir");
    }

    pub fn process(&mut self) -> &mut Proc {
        &mut self.proc
    }
}

/// The four core services, started concurrently.
pub struct Stack {
    pub postgres: Postgres,
    pub redis: Redis,
    pub nats: Nats,
    pub s3: S3,
    pub bucket: String,
}

impl Stack {
    pub fn start() -> Self {
        std::thread::scope(|s| {
            let pg = s.spawn(Postgres::start);
            let redis = s.spawn(Redis::start);
            let nats = s.spawn(Nats::start);
            let s3 = s.spawn(S3::start);
            let bucket = "devenv-test".to_string();
            let s3 = s3.join().expect("s3 started");
            s3.create_bucket(&bucket);
            Stack {
                postgres: pg.join().expect("postgres started"),
                redis: redis.join().expect("redis started"),
                nats: nats.join().expect("nats started"),
                s3,
                bucket,
            }
        })
    }

    /// A bundle with the DESIGN keys pointing at these servers.
    pub fn bundle(&self) -> Bundle {
        let mut b = Bundle::new();
        let pg = &self.postgres;
        b.set("DEVENV_WORKSPACE", "testkit");
        b.set("DEVENV_MODE", "local");
        b.set("DEVENV_GENERATED_AT", devenv_core::ids::now_rfc3339());
        b.set("DEVENV_SOURCE", "testkit");
        b.set("POSTGRES_HOST", "127.0.0.1");
        b.set("POSTGRES_PORT", pg.port.to_string());
        b.set("POSTGRES_USER", &pg.user);
        b.set("POSTGRES_PASSWORD", &pg.password);
        b.set("POSTGRES_DB", &pg.database);
        b.set("DATABASE_URL", pg.url());
        b.set("REDIS_HOST", "127.0.0.1");
        b.set("REDIS_PORT", self.redis.port.to_string());
        b.set("REDIS_PASSWORD", &self.redis.password);
        b.set("REDIS_URL", self.redis.url());
        b.set("NATS_URL", self.nats.url());
        b.set("NATS_USER", &self.nats.user);
        b.set("NATS_PASSWORD", &self.nats.password);
        b.set("S3_ENDPOINT", self.s3.endpoint());
        b.set("S3_REGION", &self.s3.region);
        b.set("S3_ACCESS_KEY", &self.s3.access_key);
        b.set("S3_SECRET_KEY", &self.s3.secret_key);
        b.set("S3_BUCKET", &self.bucket);
        b
    }

    /// Writes [`Stack::bundle`] as a dotenv file (no git check: test files live in temp dirs).
    pub fn write_bundle(&self, path: &Path) {
        devenv_core::bundle::write_atomic(
            path,
            self.bundle().to_dotenv("testkit").as_bytes(),
            0o600,
        )
        .expect("write test bundle");
    }
}
