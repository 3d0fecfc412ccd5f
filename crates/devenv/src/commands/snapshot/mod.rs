//! `devenv snapshot create|restore|list|verify`: consistent copies of the native services' data
//! under `.devenv/snapshots/NAME/<service>/` with `manifest.json` (sha256, size and mode of
//! every file, each server's version, created_at).
//!
//! Consistency per service: PostgreSQL, S3 and NATS are copied stopped (the caller's `--ctl`
//! script stops the service and starts it again after); Redis saves itself (BGREWRITEAOF when
//! AOF is on, then BGSAVE, both awaited) and its directory is copied while it runs.
//!
//! A snapshot is built in `.NAME.partial` and renamed into place with its manifest last, so an
//! interrupted one is never taken for complete. Restore copies every service of the snapshot into
//! `.devenv/restore-tmp/`, checking each byte against the manifest as it goes, before it touches
//! any live data: a missing, extra or changed file is exit 3 and nothing live has changed. Then,
//! one service at a time: stop it, move its data aside, move the checked copy in, start it; when
//! it does not start, the old data goes back and is started again.

mod redis;
mod tree;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use devenv_core::exit;
use devenv_core::output::{self, Failure};
use devenv_core::paths::Workspace;
use serde::{Deserialize, Serialize};

use crate::cli::SnapshotAction;
use tree::{CopyError, Tree};

const DEFAULT_SERVICES: [&str; 3] = ["postgres", "redis", "s3"];
const MANIFEST: &str = "manifest.json";

#[derive(Debug, Serialize, Deserialize)]
pub struct Manifest {
    pub schema_version: u32,
    pub name: String,
    pub created_at: String,
    pub services: BTreeMap<String, ServiceEntry>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct ServiceEntry {
    /// The server's `--version` line.
    pub version: String,
    /// How the copy was made consistent.
    pub method: String,
    pub files: Tree,
}

pub fn run(ws: &Workspace, action: SnapshotAction) -> Result<u8, Failure> {
    match action {
        SnapshotAction::Create {
            name,
            services,
            ctl,
            force,
        } => create(ws, &name, &services, &ctl, force),
        SnapshotAction::Restore { name, ctl } => restore(ws, &name, &ctl),
        SnapshotAction::List { json } => list(ws, json),
        SnapshotAction::Verify { name } => {
            let dir = snapshot_dir(ws, &name)?;
            let manifest = read_manifest(&dir, &name)?;
            let scratch = ws.state_dir().join("restore-tmp");
            let _ = std::fs::remove_dir_all(&scratch);
            let result = stage(&dir, &manifest, &scratch);
            let _ = std::fs::remove_dir_all(&scratch);
            result?;
            output::println_redacted(&format!("snapshot {name}: every file matches its manifest"));
            Ok(exit::OK)
        }
    }
}

fn snapshots_root(ws: &Workspace) -> PathBuf {
    ws.state_dir().join("snapshots")
}

fn snapshot_dir(ws: &Workspace, name: &str) -> Result<PathBuf, Failure> {
    let valid = !name.is_empty()
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if !valid {
        return Err(Failure::new(
            exit::USAGE,
            format!("`{name}` is not a snapshot name — use letters, digits, '-', '_' and '.'"),
        ));
    }
    Ok(snapshots_root(ws).join(name))
}

/// The `--version` line of the server that runs SERVICE natively (the same choice native.sh
/// makes: MinIO when installed, else s3s-fs).
fn server_version(service: &str) -> String {
    let candidates: &[&str] = match service {
        "postgres" => &["postgres"],
        "redis" => &["redis-server"],
        "nats" => &["nats-server"],
        "s3" => &["minio", "s3s-fs"],
        _ => &[],
    };
    for program in candidates {
        if let Some(path) = devenv_core::tools::find(program)
            && let Ok(out) = std::process::Command::new(path).arg("--version").output()
        {
            let text = String::from_utf8_lossy(&out.stdout);
            let line = text.lines().next().unwrap_or("").trim();
            // Redis appends its build id and allocator: only `v=7.0.15` identifies the format.
            let line = match line.split_whitespace().find(|w| w.starts_with("v=")) {
                Some(v) if *program == "redis-server" => format!("Redis server {v}"),
                _ => line.to_string(),
            };
            if !line.is_empty() {
                return line;
            }
        }
    }
    "unknown".to_string()
}

fn running(ws: &Workspace, service: &str) -> bool {
    devenv_core::pidfile::live_pid(&ws.pid_file(service)).is_some()
}

/// `CTL VERB SERVICE` (scripts/dev/service.sh): stops or starts one service.
fn ctl(ctl: &Path, verb: &str, service: &str) -> Result<(), Failure> {
    let status = std::process::Command::new(ctl)
        .args([verb, service])
        .status()
        .map_err(|e| Failure::new(exit::USAGE, format!("cannot run {}: {e}", ctl.display())))?;
    if status.success() {
        Ok(())
    } else {
        Err(Failure::new(
            exit::FAILED,
            format!(
                "`{} {verb} {service}` failed ({status}) — see `make logs SERVICE={service}`",
                ctl.display()
            ),
        ))
    }
}

fn copy_failure(service: &str, e: &CopyError) -> Failure {
    match e {
        CopyError::Mismatch(m) => Failure::new(
            exit::INTEGRITY,
            format!("{service}: {m} — the snapshot is corrupt or incomplete; nothing was restored"),
        ),
        CopyError::Io(m) => Failure::new(exit::FAILED, format!("{service}: {m}")),
    }
}

/// Redis's temporary files (a save in progress) are not data.
fn skip_for(service: &str) -> impl Fn(&str) -> bool + use<> {
    let redis = service == "redis";
    move |p: &str| redis && (p.starts_with("temp-") || p.contains("/temp-"))
}

fn create(
    ws: &Workspace,
    name: &str,
    services: &[String],
    ctl_path: &Path,
    force: bool,
) -> Result<u8, Failure> {
    let dir = snapshot_dir(ws, name)?;
    if dir.exists() && !force {
        return Err(Failure::new(
            exit::USAGE,
            format!("snapshot {name} already exists — pick another NAME, or FORCE=1 to replace it"),
        ));
    }
    let services: Vec<String> = if services.is_empty() {
        DEFAULT_SERVICES
            .iter()
            .filter(|s| ws.data_dir(s).is_dir())
            .map(|s| s.to_string())
            .collect()
    } else {
        services.to_vec()
    };
    if services.is_empty() {
        return Err(Failure::new(
            exit::USAGE,
            "no service has data under .devenv/data yet — run `make up` first",
        ));
    }
    let partial = snapshots_root(ws).join(format!(".{name}.partial"));
    let _ = std::fs::remove_dir_all(&partial);
    std::fs::create_dir_all(&partial)
        .map_err(|e| Failure::new(exit::FAILED, format!("{}: {e}", partial.display())))?;
    let mut manifest = Manifest {
        schema_version: 1,
        name: name.to_string(),
        created_at: devenv_core::ids::now_rfc3339(),
        services: BTreeMap::new(),
    };
    for service in &services {
        let data = ws.data_dir(service);
        if !data.is_dir() {
            return Err(Failure::new(
                exit::USAGE,
                format!(
                    "{service} has no data in {} — run `make up` first",
                    data.display()
                ),
            ));
        }
        let started = std::time::Instant::now();
        let is_running = running(ws, service);
        let method;
        let result = if service == "redis" && is_running {
            method = "redis BGREWRITEAOF + BGSAVE, then a copy".to_string();
            redis_save(ws)?;
            tree::copy(&data, &partial.join(service), &skip_for(service), None)
        } else if is_running {
            method = "stopped-service copy".to_string();
            ctl(ctl_path, "stop", service)?;
            let copied = tree::copy(&data, &partial.join(service), &skip_for(service), None);
            ctl(ctl_path, "start", service)?;
            copied
        } else {
            method = "copy of a stopped service".to_string();
            tree::copy(&data, &partial.join(service), &skip_for(service), None)
        };
        let files = result.map_err(|e| copy_failure(service, &e))?;
        output::println_redacted(&format!(
            "  {service}: {} in {:.1}s ({method})",
            human_size(tree::size(&files)),
            started.elapsed().as_secs_f64()
        ));
        manifest.services.insert(
            service.clone(),
            ServiceEntry {
                version: server_version(service),
                method,
                files,
            },
        );
    }
    let text = serde_json::to_string_pretty(&manifest).expect("manifest serialises") + "\n";
    devenv_core::bundle::write_atomic(&partial.join(MANIFEST), text.as_bytes(), 0o644)
        .map_err(|e| Failure::new(exit::FAILED, e.to_string()))?;
    if dir.exists() {
        let old = snapshots_root(ws).join(format!(".{name}.replaced"));
        let _ = std::fs::remove_dir_all(&old);
        std::fs::rename(&dir, &old)
            .and_then(|()| std::fs::rename(&partial, &dir))
            .map_err(|e| Failure::new(exit::FAILED, format!("{}: {e}", dir.display())))?;
        let _ = std::fs::remove_dir_all(&old);
    } else {
        std::fs::rename(&partial, &dir)
            .map_err(|e| Failure::new(exit::FAILED, format!("{}: {e}", dir.display())))?;
    }
    output::println_redacted(&format!(
        "snapshot {name}: {} ({})",
        services.join(", "),
        dir.display()
    ));
    Ok(exit::OK)
}

fn redis_save(ws: &Workspace) -> Result<(), Failure> {
    let mode = super::mode::current()?;
    let bundle = devenv_core::bundle::Bundle::read(&ws.bundle_path(mode))
        .map_err(|e| Failure::new(exit::USAGE, format!("{e} — run `make secrets-sync`")))?;
    bundle.register_secrets();
    let port: u16 = bundle
        .get("REDIS_PORT")
        .and_then(|p| p.parse().ok())
        .ok_or_else(|| {
            Failure::new(
                exit::USAGE,
                "the bundle has no REDIS_PORT — run `make secrets-sync`",
            )
        })?;
    redis::Client::connect(port, bundle.get("REDIS_PASSWORD").unwrap_or(""))
        .and_then(|mut c| c.save(Duration::from_secs(120)))
        .map_err(|e| Failure::new(exit::EXTERNAL, format!("{e} — is redis up? `make status`")))
}

fn read_manifest(dir: &Path, name: &str) -> Result<Manifest, Failure> {
    if !dir.is_dir() {
        return Err(Failure::new(
            exit::USAGE,
            format!("there is no snapshot {name} — `make snapshots` lists them"),
        ));
    }
    let text = std::fs::read_to_string(dir.join(MANIFEST)).map_err(|e| {
        Failure::new(
            exit::INTEGRITY,
            format!("snapshot {name} has no readable {MANIFEST} ({e}): it is incomplete; nothing was restored"),
        )
    })?;
    serde_json::from_str(&text).map_err(|e| {
        Failure::new(
            exit::INTEGRITY,
            format!("snapshot {name}: {MANIFEST} is corrupt ({e}); nothing was restored"),
        )
    })
}

/// Copies every service of the snapshot into `scratch/<service>`, checking it against the
/// manifest byte for byte.
fn stage(dir: &Path, manifest: &Manifest, scratch: &Path) -> Result<(), Failure> {
    std::fs::create_dir_all(scratch)
        .map_err(|e| Failure::new(exit::FAILED, format!("{}: {e}", scratch.display())))?;
    for (service, entry) in &manifest.services {
        let src = dir.join(service);
        if !src.is_dir() {
            return Err(Failure::new(
                exit::INTEGRITY,
                format!(
                    "{service}: {} is missing (incomplete snapshot); nothing was restored",
                    src.display()
                ),
            ));
        }
        tree::copy(&src, &scratch.join(service), &|_| false, Some(&entry.files))
            .map_err(|e| copy_failure(service, &e))?;
    }
    Ok(())
}

fn restore(ws: &Workspace, name: &str, ctl_path: &Path) -> Result<u8, Failure> {
    let dir = snapshot_dir(ws, name)?;
    let manifest = read_manifest(&dir, name)?;
    for (service, entry) in &manifest.services {
        let now = server_version(service);
        if now != entry.version {
            return Err(Failure::new(
                exit::INTEGRITY,
                format!(
                    "{service}: snapshot {name} was taken with `{}`, this stack runs `{now}` — refusing to restore across versions (use a snapshot taken with this version, or install `{}`)",
                    entry.version, entry.version
                ),
            ));
        }
    }
    let scratch = ws.state_dir().join("restore-tmp");
    let _ = std::fs::remove_dir_all(&scratch);
    if let Err(e) = stage(&dir, &manifest, &scratch) {
        let _ = std::fs::remove_dir_all(&scratch);
        return Err(e);
    }
    for service in manifest.services.keys() {
        swap_in(ws, service, &scratch, ctl_path)?;
        output::println_redacted(&format!("  {service}: restored"));
    }
    let _ = std::fs::remove_dir_all(&scratch);
    output::println_redacted(&format!(
        "restored snapshot {name} (taken {})",
        manifest.created_at
    ));
    Ok(exit::OK)
}

/// Stop, move the live data aside, move the checked copy in, start; on failure put it back.
fn swap_in(ws: &Workspace, service: &str, scratch: &Path, ctl_path: &Path) -> Result<(), Failure> {
    let live = ws.data_dir(service);
    let staged = scratch.join(service);
    let old = scratch.join(format!("{service}.old"));
    let was_running = running(ws, service);
    if was_running {
        ctl(ctl_path, "stop", service)?;
    }
    let io = |e: std::io::Error| Failure::new(exit::FAILED, format!("{service}: {e}"));
    let had_data = live.exists();
    if had_data {
        std::fs::rename(&live, &old).map_err(io)?;
    }
    if let Err(e) = std::fs::rename(&staged, &live) {
        if had_data {
            std::fs::rename(&old, &live).map_err(io)?;
        }
        return Err(io(e));
    }
    if !was_running {
        let _ = std::fs::remove_dir_all(&old);
        return Ok(());
    }
    match ctl(ctl_path, "start", service) {
        Ok(()) => {
            let _ = std::fs::remove_dir_all(&old);
            Ok(())
        }
        Err(failure) => {
            let _ = ctl(ctl_path, "stop", service);
            let _ = std::fs::remove_dir_all(&live);
            if had_data {
                std::fs::rename(&old, &live).map_err(io)?;
            }
            let _ = ctl(ctl_path, "start", service);
            Err(Failure::new(
                failure.code,
                format!("{} — the previous data was put back", failure.message),
            ))
        }
    }
}

fn list(ws: &Workspace, json: bool) -> Result<u8, Failure> {
    let root = snapshots_root(ws);
    let mut rows = Vec::new();
    if let Ok(entries) = std::fs::read_dir(&root) {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') {
                continue;
            }
            match read_manifest(&entry.path(), &name) {
                Ok(m) => {
                    let size: u64 = m.services.values().map(|s| tree::size(&s.files)).sum();
                    let services: Vec<String> = m.services.keys().cloned().collect();
                    rows.push((name, Some(m.created_at), size, services));
                }
                Err(_) => rows.push((name, None, 0, Vec::new())),
            }
        }
    }
    rows.sort_by(|a, b| a.1.cmp(&b.1).then(a.0.cmp(&b.0)));
    if json {
        let items: Vec<serde_json::Value> = rows
            .iter()
            .map(|(name, created, size, services)| {
                serde_json::json!({"name": name, "created_at": created, "size_bytes": size,
                    "services": services, "complete": created.is_some()})
            })
            .collect();
        output::print_json(&output::document(
            "snapshots",
            serde_json::json!({ "snapshots": items }),
        ));
        return Ok(exit::OK);
    }
    if rows.is_empty() {
        output::println_redacted("no snapshots yet — `make snapshot NAME=…` takes one");
        return Ok(exit::OK);
    }
    output::println_redacted(&format!(
        "{:<24} {:>8} {:>10}  services",
        "name", "age", "size"
    ));
    for (name, created, size, services) in rows {
        let (age, services) = match &created {
            Some(at) => (age_of(at), services.join(",")),
            None => ("?".to_string(), "(incomplete: no manifest)".to_string()),
        };
        output::println_redacted(&format!(
            "{name:<24} {age:>8} {:>10}  {services}",
            human_size(size)
        ));
    }
    Ok(exit::OK)
}

fn age_of(rfc3339: &str) -> String {
    let Ok(at) = chrono::DateTime::parse_from_rfc3339(rfc3339) else {
        return "?".to_string();
    };
    let secs = (chrono::Utc::now() - at.with_timezone(&chrono::Utc))
        .num_seconds()
        .max(0);
    match secs {
        0..60 => format!("{secs}s"),
        60..3600 => format!("{}m", secs / 60),
        3600..86400 => format!("{}h", secs / 3600),
        _ => format!("{}d", secs / 86400),
    }
}

fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}
