//! `dev-status preflight`: can this machine run the stack? (the seed's ResourceBaselineReport)
//! CPU count, free memory and disk, Docker, the native binaries, the default ports.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use devenv_core::netproc::{self, Holder};
use devenv_core::paths::Workspace;
use devenv_core::stack::{self, PortDefaults, StackError};
use serde::Serialize;

/// Below these, nothing can run: `pass` is false.
pub const MIN_MEMORY_MB: u64 = 256;
pub const MIN_DISK_MB: u64 = 512;
/// Below these, the stack runs but slowly or not for long: a warning.
pub const LOW_MEMORY_MB: u64 = 2048;
pub const LOW_DISK_MB: u64 = 2048;

/// Binaries of the native runtime: (name, alternatives, what needs it).
const NATIVE_BINARIES: &[(&str, &[&str], &str)] = &[
    ("postgres", &["postgres"], "postgres"),
    ("initdb", &["initdb"], "postgres"),
    ("pg_ctl", &["pg_ctl"], "postgres"),
    ("redis-server", &["redis-server"], "redis"),
    ("nats-server", &["nats-server"], "nats"),
    ("minio or s3s-fs", &["minio", "s3s-fs"], "s3"),
];

#[derive(Debug, Serialize)]
pub struct Report {
    pub cpu_count: usize,
    pub memory_free_mb: Option<u64>,
    pub disk_free_mb: Option<u64>,
    pub data_path: String,
    pub docker: Docker,
    /// `compose`, `native`, or `none` when neither can run.
    pub runtime: &'static str,
    pub binaries: Vec<Binary>,
    pub ports: Vec<Port>,
    pub warnings: Vec<String>,
    pub pass: bool,
}

#[derive(Debug, Serialize)]
pub struct Docker {
    pub available: bool,
    pub detail: String,
}

#[derive(Debug, Serialize)]
pub struct Binary {
    pub name: String,
    pub path: Option<String>,
    pub needed_for: &'static str,
}

#[derive(Debug, Serialize)]
pub struct Port {
    pub name: &'static str,
    pub port: u16,
    pub free: bool,
    /// Held by this workspace's own service (already running): not a conflict.
    pub ours: bool,
    pub holder: Option<Holder>,
}

pub async fn run(ws: &Workspace) -> Result<Report, StackError> {
    let defaults = PortDefaults::load(&ws.ports_file())?;
    let requests = stack::requested_ports(&defaults, &BTreeMap::new(), &|k| std::env::var(k).ok())?;
    let docker = tokio::spawn(docker_info());

    let data_path = ws.state_dir().join("data");
    let cpu_count = std::thread::available_parallelism().map_or(1, |n| n.get());
    let memory_free_mb = memory_available_mb();
    let disk_free_mb = disk_free_mb(&data_path);
    let binaries: Vec<Binary> = NATIVE_BINARIES
        .iter()
        .map(|(name, alternatives, needed_for)| Binary {
            name: name.to_string(),
            path: alternatives
                .iter()
                .find_map(|b| devenv_core::tools::find(b))
                .map(|p| p.display().to_string()),
            needed_for,
        })
        .collect();
    // The core's ports, and those of the profiles `make up` starts (DEVENV_PROFILES).
    let profiles = std::env::var("DEVENV_PROFILES").unwrap_or_default();
    let active = |profile: &str| profiles.split(',').any(|p| p.trim() == profile);
    let ports: Vec<Port> = requests
        .iter()
        .filter(|r| r.name.profile().is_none_or(active))
        .map(|r| {
            let holder = netproc::port_holder(r.port);
            let ours = holder
                .as_ref()
                .is_some_and(|h| stack::held_by_workspace(ws, r.name, h));
            Port {
                name: r.name.key(),
                port: r.port,
                free: holder.is_none(),
                ours,
                holder,
            }
        })
        .collect();
    let docker = docker.await.unwrap_or(Docker {
        available: false,
        detail: "could not run `docker info`".to_string(),
    });

    let mut warnings = Vec::new();
    let mut fatal = false;
    let missing: Vec<&Binary> = binaries.iter().filter(|b| b.path.is_none()).collect();
    let runtime = if docker.available {
        "compose"
    } else if missing.is_empty() {
        "native"
    } else {
        "none"
    };
    if runtime == "none" {
        fatal = true;
        let names: Vec<&str> = missing.iter().map(|b| b.name.as_str()).collect();
        warnings.push(format!(
            "no runtime: Docker is not available ({}) and {} {} missing — run `make setup`",
            docker.detail,
            names.join(", "),
            if names.len() == 1 { "is" } else { "are" }
        ));
    } else if runtime == "compose" && !missing.is_empty() {
        let names: Vec<&str> = missing.iter().map(|b| b.name.as_str()).collect();
        warnings.push(format!(
            "native runtime unavailable ({} missing); compose will be used",
            names.join(", ")
        ));
    }
    if cpu_count < 2 {
        warnings.push(format!(
            "only {cpu_count} CPU: start-up and tests will be slow"
        ));
    }
    match memory_free_mb {
        Some(mb) if mb < MIN_MEMORY_MB => {
            fatal = true;
            warnings.push(format!("only {mb} MB of memory available (need {MIN_MEMORY_MB} MB) — close programs or add memory"));
        }
        Some(mb) if mb < LOW_MEMORY_MB => warnings.push(format!(
            "only {mb} MB of memory available (recommended {LOW_MEMORY_MB} MB) — services may be killed under load"
        )),
        Some(_) => {}
        None => warnings.push("cannot read /proc/meminfo: free memory unknown".to_string()),
    }
    match disk_free_mb {
        Some(mb) if mb < MIN_DISK_MB => {
            fatal = true;
            warnings.push(format!(
                "only {mb} MB free under {} (need {MIN_DISK_MB} MB) — free disk space or `make reset`",
                data_path.display()
            ));
        }
        Some(mb) if mb < LOW_DISK_MB => warnings.push(format!(
            "only {mb} MB free under {} (recommended {LOW_DISK_MB} MB)",
            data_path.display()
        )),
        Some(_) => {}
        None => warnings.push(format!(
            "cannot measure free disk under {}",
            data_path.display()
        )),
    }
    for p in ports.iter().filter(|p| !p.free && !p.ours) {
        let holder = p
            .holder
            .as_ref()
            .map_or("an unknown process".to_string(), |h| h.to_string());
        warnings.push(format!(
            "port {} ({}) is taken by {holder} — `make up` will use the next free port ({}=1 makes this an error)",
            p.port,
            p.name,
            stack::STRICT_PORTS_ENV
        ));
    }
    Ok(Report {
        cpu_count,
        memory_free_mb,
        disk_free_mb,
        data_path: data_path.display().to_string(),
        docker,
        runtime,
        binaries,
        ports,
        warnings,
        pass: !fatal,
    })
}

/// `docker info` answers only when a Docker engine runs (the client alone is not enough).
async fn docker_info() -> Docker {
    let Some(docker) = devenv_core::tools::find("docker") else {
        return Docker {
            available: false,
            detail: "the docker client is not installed".to_string(),
        };
    };
    let mut cmd = tokio::process::Command::new(docker);
    cmd.args(["info", "--format", "{{.ServerVersion}}"])
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    match tokio::time::timeout(Duration::from_secs(5), cmd.output()).await {
        Ok(Ok(out)) if out.status.success() => Docker {
            available: true,
            detail: format!("engine {}", String::from_utf8_lossy(&out.stdout).trim()),
        },
        Ok(Ok(_)) => Docker {
            available: false,
            detail: "the Docker engine is not running".to_string(),
        },
        Ok(Err(e)) => Docker {
            available: false,
            detail: format!("cannot run docker: {e}"),
        },
        Err(_) => Docker {
            available: false,
            detail: "`docker info` did not answer within 5 s".to_string(),
        },
    }
}

/// MemAvailable from /proc/meminfo, in MiB.
fn memory_available_mb() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024)
}

/// Free space for unprivileged users on the file system that holds `path` (or will: the
/// nearest existing ancestor), in MiB.
fn disk_free_mb(path: &Path) -> Option<u64> {
    let existing = path.ancestors().find(|p| p.exists())?;
    let stat = rustix::fs::statvfs(existing).ok()?;
    Some(stat.f_bavail.saturating_mul(stat.f_frsize) / (1024 * 1024))
}

/// The report as lines for people.
pub fn human(report: &Report, style: devenv_core::output::Style) -> Vec<String> {
    let mut lines = Vec::new();
    let mb = |v: Option<u64>| v.map_or("unknown".to_string(), |v| format!("{v} MB"));
    lines.push(format!("cpus            {}", report.cpu_count));
    lines.push(format!("memory free     {}", mb(report.memory_free_mb)));
    lines.push(format!(
        "disk free       {} ({})",
        mb(report.disk_free_mb),
        report.data_path
    ));
    lines.push(format!(
        "docker          {} ({})",
        if report.docker.available {
            style.green("available")
        } else {
            style.dim("unavailable")
        },
        report.docker.detail
    ));
    lines.push(format!("runtime         {}", report.runtime));
    for b in &report.binaries {
        let found = match &b.path {
            Some(p) => format!("{} {p}", style.green("✓")),
            None => format!("{} missing", style.red("✗")),
        };
        lines.push(format!("  {:<16}{found}", b.name));
    }
    for p in &report.ports {
        let state = if p.free {
            style.green("free")
        } else if p.ours {
            format!("in use by this workspace's {}", p.name)
        } else {
            style.yellow(&format!(
                "taken by {}",
                p.holder
                    .as_ref()
                    .map_or("an unknown process".to_string(), |h| h.to_string())
            ))
        };
        lines.push(format!("  port {:<6} {:<16}{state}", p.port, p.name));
    }
    for w in &report.warnings {
        lines.push(format!("{} {w}", style.yellow("warning:")));
    }
    lines.push(if report.pass {
        format!("preflight: {}", style.green("pass"))
    } else {
        format!("preflight: {} — fix the warnings above", style.red("fail"))
    });
    lines
}
