//! A real RabbitMQ (Debian's `rabbitmq-server`, the rabbitmq profile's broker) on free loopback
//! ports, started the way `scripts/dev/native.sh` (`start_rabbitmq`) starts it: the launcher
//! run directly (`RUNNING_UNDER_SYSTEMD=1` makes it exec the Erlang VM, so the child is the
//! broker), its own `epmd`, a loopback distribution port, a random Erlang cookie (0400) in its
//! own HOME, the management plugin, and one generated administrator — with `default_user` set,
//! RabbitMQ never creates `guest`.
//!
//! Readiness is the management API answering `GET /api/overview` with 200 for that user and
//! the AMQP listener answering the protocol header, polled, never a sleep. Both processes carry
//! `devenv-testkit` in their command lines (the scratch directory's paths; epmd's `argv[0]`), so
//! `make test` can prove neither outlived the run. Stopped on drop: SIGTERM to the broker (a
//! graceful stop of a few seconds), then epmd.

use std::io::{Read as _, Write as _};
use std::os::unix::fs::PermissionsExt as _;
use std::os::unix::process::CommandExt as _;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use devenv_core::credentials;
use serde_json::Value;

use crate::servers::{Proc, free_port, require_tool, scratch_dir};

/// Debian's launcher (its `/usr/sbin` wrapper insists on the `rabbitmq` system user).
const SERVER: &str = "/usr/lib/rabbitmq/bin/rabbitmq-server";

/// A running RabbitMQ broker with the management plugin; stopped on drop.
pub struct RabbitMq {
    /// The AMQP 0-9-1 listener.
    pub amqp_port: u16,
    /// The management plugin's HTTP API.
    pub management_port: u16,
    pub user: String,
    pub password: String,
    broker: Option<Proc>,
    epmd: Option<Proc>,
    dir: tempfile::TempDir,
}

impl RabbitMq {
    /// Starts epmd and the broker on free ports and waits until both AMQP and the management
    /// API answer (about five seconds).
    pub fn start() -> Self {
        assert!(
            Path::new(SERVER).is_file(),
            "{SERVER} is missing: install rabbitmq-server (`make setup PROFILES=rabbitmq`; \
             `make test` installs it)"
        );
        let dir = scratch_dir("rabbitmq");
        let d = dir.path();
        let (amqp_port, management_port, dist_port, epmd_port) =
            (free_port(), free_port(), free_port(), free_port());
        let user = "devenv".to_string();
        let password = credentials::generate(24);

        let home = d.join("home");
        std::fs::create_dir_all(&home).expect("create the broker's HOME");
        std::fs::set_permissions(&home, std::fs::Permissions::from_mode(0o700))
            .expect("chmod HOME");
        let cookie = home.join(".erlang.cookie");
        std::fs::write(&cookie, credentials::generate(32)).expect("write the Erlang cookie");
        // Erlang refuses a cookie file others can read.
        std::fs::set_permissions(&cookie, std::fs::Permissions::from_mode(0o400))
            .expect("chmod the Erlang cookie");
        std::fs::write(
            d.join("rabbitmq.conf"),
            format!(
                "listeners.tcp.1 = 127.0.0.1:{amqp_port}\nmanagement.tcp.ip = 127.0.0.1\n\
                 management.tcp.port = {management_port}\ndefault_user = {user}\n\
                 default_pass = {password}\ndefault_user_tags.administrator = true\n\
                 loopback_users = none\nlog.console = true\nlog.file = false\n"
            ),
        )
        .expect("write rabbitmq.conf");
        std::fs::write(d.join("enabled_plugins"), "[rabbitmq_management].\n")
            .expect("write enabled_plugins");

        let mut epmd_cmd = Command::new(require_tool("epmd"));
        // argv[0] carries the scratch directory, hence `devenv-testkit`, into epmd's command line.
        epmd_cmd.arg0(d.join("epmd")).args([
            "-address",
            "127.0.0.1",
            "-port",
            &epmd_port.to_string(),
        ]);
        let mut epmd = Proc::spawn("epmd", epmd_cmd, d.join("epmd.log"));
        epmd.wait_until(|| std::net::TcpStream::connect(("127.0.0.1", epmd_port)).is_ok());

        let mut cmd = Command::new(SERVER);
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", &home)
            .env(
                "RABBITMQ_NODENAME",
                format!("devenv-test-{amqp_port}@localhost"),
            )
            .env("RABBITMQ_NODE_IP_ADDRESS", "127.0.0.1")
            .env("RABBITMQ_DIST_PORT", dist_port.to_string())
            .env("ERL_EPMD_PORT", epmd_port.to_string())
            .env("RABBITMQ_MNESIA_BASE", d.join("mnesia"))
            .env("RABBITMQ_LOG_BASE", d.join("logs"))
            .env("RABBITMQ_CONFIG_FILE", d.join("rabbitmq.conf"))
            .env("RABBITMQ_ENABLED_PLUGINS_FILE", d.join("enabled_plugins"))
            .env("RABBITMQ_CONF_ENV_FILE", "/dev/null")
            .env("RABBITMQ_ADVANCED_CONFIG_FILE", d.join("advanced.config"))
            .env("RUNNING_UNDER_SYSTEMD", "1")
            .env(
                "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS",
                "-kernel inet_dist_use_interface {127,0,0,1}",
            );
        let broker = Proc::spawn("rabbitmq-server", cmd, d.join("rabbitmq.log"));
        let mut rabbit = Self {
            amqp_port,
            management_port,
            user,
            password,
            broker: Some(broker),
            epmd: Some(epmd),
            dir,
        };
        let (port, auth) = (management_port, rabbit.basic_auth());
        let broker = rabbit.broker.as_mut().expect("just started");
        broker.wait_until(|| {
            get(port, "/api/overview", &auth).is_some_and(|(status, _)| status == 200)
                && amqp_greets(amqp_port)
        });
        rabbit
    }

    /// `amqp://devenv:<password>@127.0.0.1:<port>/%2F`, what `RABBITMQ_URL` takes.
    pub fn url(&self) -> String {
        format!(
            "amqp://{}:{}@127.0.0.1:{}/%2F",
            self.user, self.password, self.amqp_port
        )
    }

    /// `http://127.0.0.1:<management port>/`, what `RABBITMQ_MANAGEMENT_URL` takes.
    pub fn management_url(&self) -> String {
        format!("http://127.0.0.1:{}/", self.management_port)
    }

    /// `GET <path>` of the management API as the administrator: (status, JSON body or Null).
    /// Panics when the API does not answer.
    pub fn management_get(&self, path: &str) -> (u16, Value) {
        get(self.management_port, path, &self.basic_auth()).unwrap_or_else(|| {
            panic!(
                "the management API on port {} did not answer GET {path}",
                self.management_port
            )
        })
    }

    /// The broker's output so far (for failure messages).
    pub fn log(&self) -> String {
        self.broker.as_ref().map(Proc::log).unwrap_or_default()
    }

    /// The scratch directory holding the config, node data and logs.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Stops the broker (SIGTERM: a graceful stop, a few seconds; SIGKILL after 10 s) and then
    /// its epmd, reaping both. Idempotent; drop calls it.
    pub fn stop(&mut self) {
        if let Some(mut broker) = self.broker.take() {
            broker.stop_with("TERM");
        }
        if let Some(mut epmd) = self.epmd.take() {
            epmd.stop_with("TERM");
        }
    }

    fn basic_auth(&self) -> String {
        base64(format!("{}:{}", self.user, self.password).as_bytes())
    }
}

impl Drop for RabbitMq {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Whether the AMQP listener answers the 0-9-1 protocol header with a method frame
/// (`Connection.Start`).
fn amqp_greets(port: u16) -> bool {
    let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let mut first = [0u8; 1];
    stream.write_all(b"AMQP\x00\x00\x09\x01").is_ok()
        && stream.read_exact(&mut first).is_ok()
        && first[0] == 1
}

/// One HTTP/1.0 GET with Basic auth: (status, JSON body or Null); `None` when nothing answers.
fn get(port: u16, path: &str, basic: &str) -> Option<(u16, Value)> {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    let request = format!(
        "GET {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Basic {basic}\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).ok()?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).ok()?;
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text.split_once("\r\n\r\n")?;
    let status = head.split(' ').nth(1)?.parse().ok()?;
    Some((status, serde_json::from_str(body).unwrap_or(Value::Null)))
}

/// Standard padded base64 (Basic auth), to keep the harness free of another dependency.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn base64_matches_rfc4648() {
        for (plain, encoded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("devenv:pw", "ZGV2ZW52OnB3"),
        ] {
            assert_eq!(super::base64(plain.as_bytes()), encoded);
        }
    }
}
