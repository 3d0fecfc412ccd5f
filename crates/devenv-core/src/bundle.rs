//! The dotenv secrets bundle (`.env.local`, `.env.linode`): parse, serialise, atomic 0600 write,
//! and the `git check-ignore` refusal.

use std::fs::{self, File, OpenOptions};
use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::exit::{self, ExitCoded};

/// The keys of DESIGN.md, in the order they are written.
pub const KEYS: &[&str] = &[
    "DEVENV_WORKSPACE",
    "DEVENV_MODE",
    "DEVENV_GENERATED_AT",
    "DEVENV_SOURCE",
    "POSTGRES_HOST",
    "POSTGRES_PORT",
    "POSTGRES_USER",
    "POSTGRES_PASSWORD",
    "POSTGRES_DB",
    "DATABASE_URL",
    "REDIS_HOST",
    "REDIS_PORT",
    "REDIS_PASSWORD",
    "REDIS_URL",
    "NATS_URL",
    "NATS_USER",
    "NATS_PASSWORD",
    "S3_ENDPOINT",
    "S3_REGION",
    "S3_ACCESS_KEY",
    "S3_SECRET_KEY",
    "S3_BUCKET",
    "MOCK_INFERENCE_URL",
    "MOCK_INFERENCE_MODEL",
];

/// Set this to `1` to let a bundle be written outside a git work tree (e.g. a remote host
/// provisioned from a tarball). Inside a work tree the path must always be ignored.
pub const ALLOW_OUTSIDE_GIT_ENV: &str = "DEVENV_ALLOW_BUNDLE_OUTSIDE_GIT";

#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("cannot read bundle {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{path}:{line}: {message} — fix the line or delete the file and run `make secrets-sync`"
    )]
    Parse {
        path: PathBuf,
        line: usize,
        message: String,
    },
    #[error(
        "refusing to write {path}: git does not ignore it, so the secrets could be committed — add `{name}` to .gitignore"
    )]
    NotIgnored { path: PathBuf, name: String },
    #[error(
        "refusing to write {path}: it is not inside a git work tree, so `git check-ignore` cannot vouch for it — run inside the repository or set {ALLOW_OUTSIDE_GIT_ENV}=1"
    )]
    OutsideGit { path: PathBuf },
    #[error("cannot run `git check-ignore` for {path}: {source} — install git")]
    Git {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl ExitCoded for BundleError {
    fn exit_code(&self) -> u8 {
        match self {
            BundleError::Parse { .. } => exit::USAGE,
            BundleError::NotIgnored { .. } | BundleError::OutsideGit { .. } => exit::INTEGRITY,
            BundleError::Read { .. } | BundleError::Git { .. } | BundleError::Write { .. } => {
                exit::USAGE
            }
        }
    }
}

/// An ordered set of `KEY=value` pairs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Bundle {
    entries: Vec<(String, String)>,
}

impl Bundle {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Sets a key, keeping its position if it exists.
    pub fn set(&mut self, key: impl Into<String>, value: impl Into<String>) {
        let key = key.into();
        let value = value.into();
        match self.entries.iter_mut().find(|(k, _)| *k == key) {
            Some(entry) => entry.1 = value,
            None => self.entries.push((key, value)),
        }
    }

    pub fn remove(&mut self, key: &str) -> Option<String> {
        let pos = self.entries.iter().position(|(k, _)| k == key)?;
        Some(self.entries.remove(pos).1)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|(k, _)| k.as_str())
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Registers every secret of this bundle with the process-wide redactor.
    pub fn register_secrets(&self) {
        crate::redact::register_bundle(self.iter());
    }

    /// Parses dotenv text: `KEY=value`, `export KEY=value`, `#` comments, single-quoted
    /// (literal), double-quoted (escapes `\\ \" \$ \n \t \r` and `` \` ``, may span lines) values.
    pub fn parse(text: &str, path: &Path) -> Result<Self, BundleError> {
        let mut bundle = Bundle::new();
        let mut lines = text.lines().enumerate().peekable();
        while let Some((idx, raw)) = lines.next() {
            let line_no = idx + 1;
            let line = raw.trim_start();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let line = line.strip_prefix("export ").unwrap_or(line);
            let err = |message: &str| BundleError::Parse {
                path: path.to_path_buf(),
                line: line_no,
                message: message.to_string(),
            };
            let (key, rest) = line
                .split_once('=')
                .ok_or_else(|| err("expected KEY=value"))?;
            let key = key.trim();
            if key.is_empty()
                || !key
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
                || key.starts_with(|c: char| c.is_ascii_digit())
            {
                return Err(err("the key must be letters, digits and `_`"));
            }
            let value = if let Some(body) = rest.strip_prefix('\'') {
                let mut body = body.to_string();
                while !body.contains('\'') {
                    let (_, next) = lines
                        .next()
                        .ok_or_else(|| err("unterminated single-quoted value"))?;
                    body.push('\n');
                    body.push_str(next);
                }
                let end = body.find('\'').unwrap_or(body.len());
                check_trailing(&body[end + 1..]).map_err(&err)?;
                body[..end].to_string()
            } else if let Some(body) = rest.strip_prefix('"') {
                let mut collected = String::new();
                let mut current = body.to_string();
                loop {
                    match parse_double_quoted(&current, &mut collected) {
                        Some(trailing) => {
                            check_trailing(trailing).map_err(&err)?;
                            break;
                        }
                        None => {
                            let (_, next) = lines
                                .next()
                                .ok_or_else(|| err("unterminated double-quoted value"))?;
                            collected.push('\n');
                            current = next.to_string();
                        }
                    }
                }
                collected
            } else {
                // Unquoted: an inline comment starts at " #".
                let v = match rest.find(" #") {
                    Some(pos) => &rest[..pos],
                    None => rest,
                };
                v.trim().to_string()
            };
            bundle.set(key, value);
        }
        Ok(bundle)
    }

    /// Serialises to dotenv text that bash `source`, python-dotenv and dotenvy read back exactly.
    pub fn to_dotenv(&self, header: &str) -> String {
        let mut out = String::new();
        for line in header.lines() {
            out.push_str("# ");
            out.push_str(line);
            out.push('\n');
        }
        for (k, v) in self.iter() {
            out.push_str(k);
            out.push('=');
            out.push_str(&quote(v));
            out.push('\n');
        }
        out
    }

    /// Reads a bundle file.
    pub fn read(path: &Path) -> Result<Self, BundleError> {
        let text = fs::read_to_string(path).map_err(|source| BundleError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(&text, path)
    }

    /// Reads a bundle if it exists.
    pub fn read_optional(path: &Path) -> Result<Option<Self>, BundleError> {
        match fs::read_to_string(path) {
            Ok(text) => Self::parse(&text, path).map(Some),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(BundleError::Read {
                path: path.to_path_buf(),
                source,
            }),
        }
    }

    /// Writes the bundle: refuses unless git ignores the path, then writes atomically, mode 0600.
    pub fn write(&self, path: &Path, header: &str) -> Result<(), BundleError> {
        ensure_git_ignored(path)?;
        write_atomic(path, self.to_dotenv(header).as_bytes(), 0o600)
    }
}

/// Parses the inside of a double-quoted value; returns the text after the closing quote,
/// or None if the line ended first (the value continues on the next line).
fn parse_double_quoted<'a>(s: &'a str, out: &mut String) -> Option<&'a str> {
    let mut chars = s.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some(&s[i + 1..]),
            '\\' => match chars.next() {
                Some((_, 'n')) => out.push('\n'),
                Some((_, 't')) => out.push('\t'),
                Some((_, 'r')) => out.push('\r'),
                Some((_, other)) => out.push(other),
                None => out.push('\\'),
            },
            other => out.push(other),
        }
    }
    None
}

fn check_trailing(rest: &str) -> Result<(), &'static str> {
    let rest = rest.trim();
    if rest.is_empty() || rest.starts_with('#') {
        Ok(())
    } else {
        Err("unexpected text after the closing quote")
    }
}

/// `scheme://user:password@host:port/path` from a bundle's parts, user and password
/// percent-encoded as URL userinfo; None when the parts do not make a URL. The password is
/// registered with the redactor before the URL exists, so no message can carry it.
pub fn url_with_credentials(
    scheme: &str,
    user: &str,
    password: &str,
    host: &str,
    port: &str,
    path: &str,
) -> Option<String> {
    let mut url = url::Url::parse(&format!("{scheme}://{host}:{port}/{path}")).ok()?;
    url.set_username(user).ok()?;
    url.set_password(Some(password)).ok()?;
    crate::redact::register(password);
    Some(url.to_string())
}

/// `redis://:password@host:port/0` (see [`url_with_credentials`]).
pub fn redis_url(password: &str, host: &str, port: &str) -> Option<String> {
    url_with_credentials("redis", "", password, host, port, "0")
}

/// `postgres://user:password@host:port/db` (see [`url_with_credentials`]).
pub fn database_url(
    user: &str,
    password: &str,
    host: &str,
    port: &str,
    db: &str,
) -> Option<String> {
    url_with_credentials("postgres", user, password, host, port, db)
}

/// `amqp://user:password@host:port/%2F` — the default vhost `/`, percent-encoded as AMQP URIs
/// require (see [`url_with_credentials`]).
pub fn amqp_url(user: &str, password: &str, host: &str, port: &str) -> Option<String> {
    url_with_credentials("amqp", user, password, host, port, "%2F")
}

/// Quotes a value for bash `source`, python-dotenv and dotenvy: plain when it only has safe
/// characters; single quotes (literal everywhere) when it has no `'` or `\`; otherwise double
/// quotes with `\\ \" \$` and `` \` `` escaped. That last form is exact for bash and dotenvy
/// but not for python-dotenv when the value also holds `$` or a backtick, and no spelling is
/// exact everywhere for a carriage return: secrets-sync refuses such values (exit 2) rather than
/// write a bundle some reader would misread.
pub fn quote(value: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "_-./:@%+,=^~".contains(c);
    if !value.is_empty() && value.chars().all(safe) {
        return value.to_string();
    }
    if !value.contains('\'') && !value.contains('\\') {
        return format!("'{value}'");
    }
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '\\' | '"' | '$' | '`' => {
                out.push('\\');
                out.push(c);
            }
            other => out.push(other),
        }
    }
    out.push('"');
    out
}

/// Refuses a path that git would track. `git check-ignore -q` exits 0 when ignored,
/// 1 when not, 128 outside a work tree.
pub fn ensure_git_ignored(path: &Path) -> Result<(), BundleError> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    // git needs an existing directory to run in: the nearest existing ancestor, with the
    // path relative to it (the bundle's own directory may not exist yet, e.g. `.devenv/`).
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let base = absolute
        .ancestors()
        .skip(1)
        .find(|a| a.is_dir())
        .unwrap_or(Path::new("/"))
        .to_path_buf();
    let relative = absolute
        .strip_prefix(&base)
        .unwrap_or(&absolute)
        .to_path_buf();
    let status = Command::new("git")
        .arg("-C")
        .arg(&base)
        .args(["check-ignore", "-q", "--"])
        .arg(&relative)
        .stderr(std::process::Stdio::null())
        .status()
        .map_err(|source| BundleError::Git {
            path: path.to_path_buf(),
            source,
        })?;
    match status.code() {
        Some(0) => Ok(()),
        Some(1) => Err(BundleError::NotIgnored {
            path: path.to_path_buf(),
            name,
        }),
        _ if std::env::var(ALLOW_OUTSIDE_GIT_ENV).as_deref() == Ok("1") => Ok(()),
        _ => Err(BundleError::OutsideGit {
            path: path.to_path_buf(),
        }),
    }
}

/// Writes a file atomically: a temp file beside it created with O_EXCL and `mode`, written,
/// fsynced, renamed over the target, then the directory fsynced. A crash at any point leaves
/// either the old file or the new one, never a mix. Stale temp files of dead writers are removed.
pub fn write_atomic(path: &Path, contents: &[u8], mode: u32) -> Result<(), BundleError> {
    let werr = |source| BundleError::Write {
        path: path.to_path_buf(),
        source,
    };
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(werr)?;
    let name = path
        .file_name()
        .ok_or_else(|| werr(std::io::Error::other("path has no file name")))?
        .to_string_lossy()
        .into_owned();
    remove_stale_temps(dir, &name);
    let tmp = dir.join(format!(
        "{}{}-{:08x}",
        temp_prefix(&name),
        std::process::id(),
        rand::random::<u32>()
    ));
    let result = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp)?;
        file.write_all(contents)?;
        file.sync_all()?;
        drop(file);
        pause_before_rename_for_tests();
        fs::rename(&tmp, path)?;
        File::open(dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.map_err(werr)
}

/// Debug builds only: `DEVENV_TEST_PAUSE_BEFORE_RENAME_MS=<ms>` holds the writer between the
/// fsynced temp file and the rename, so a crash test can SIGKILL it at exactly that point.
/// Release builds have no such hook.
#[cfg(debug_assertions)]
fn pause_before_rename_for_tests() {
    if let Some(ms) = std::env::var("DEVENV_TEST_PAUSE_BEFORE_RENAME_MS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
    {
        std::thread::sleep(std::time::Duration::from_millis(ms));
    }
}

#[cfg(not(debug_assertions))]
fn pause_before_rename_for_tests() {}

/// Temp files are hidden and named after their target: `.env.local` → `.env.local.tmp-<pid>-<rand>`.
fn temp_prefix(name: &str) -> String {
    if name.starts_with('.') {
        format!("{name}.tmp-")
    } else {
        format!(".{name}.tmp-")
    }
}

/// Removes `<prefix><pid>-*` temp files whose writer process is gone (killed mid-write).
fn remove_stale_temps(dir: &Path, name: &str) {
    let prefix = temp_prefix(name);
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let file_name = entry.file_name().to_string_lossy().into_owned();
        let Some(rest) = file_name.strip_prefix(&prefix) else {
            continue;
        };
        let pid = rest.split('-').next().and_then(|p| p.parse::<u32>().ok());
        let alive = pid.is_some_and(|p| Path::new(&format!("/proc/{p}")).exists());
        if !alive {
            let _ = fs::remove_file(entry.path());
        }
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn credentials_in_urls_are_encoded_and_registered() {
        let url =
            super::url_with_credentials("postgres", "app user", "p@ss/w:rd1", "db", "5432", "app")
                .unwrap();
        assert_eq!(url, "postgres://app%20user:p%40ss%2Fw%3Ard1@db:5432/app");
        let parsed = url::Url::parse(&url).unwrap();
        assert_eq!(
            percent_encoding::percent_decode_str(parsed.password().unwrap())
                .decode_utf8()
                .unwrap(),
            "p@ss/w:rd1"
        );
        // Registered, not just masked as URL userinfo: the bare password is redacted too.
        let said = crate::redact::redact("login with p@ss/w:rd1 failed");
        assert!(!said.contains("p@ss/w:rd1"), "{said}");
        assert_eq!(
            super::database_url("u", "pw", "db", "5432", "app").as_deref(),
            Some("postgres://u:pw@db:5432/app")
        );
        assert_eq!(
            super::redis_url("s3cret-pw", "127.0.0.1", "6379").as_deref(),
            Some("redis://:s3cret-pw@127.0.0.1:6379/0")
        );
        assert_eq!(super::redis_url("pw", "bad host", "x"), None);
    }
    use super::*;
    use std::os::unix::fs::PermissionsExt as _;

    #[test]
    fn round_trips_awkward_values() {
        let mut b = Bundle::new();
        let values = [
            "plain",
            "with space",
            "has#hash",
            "quote's",
            "dq\"uote",
            "multi\nline",
            "dollar$HOME",
            "back\\slash'q",
            "",
            "postgres://u:p%40ss@h:5432/db",
        ];
        for (i, v) in values.iter().enumerate() {
            b.set(format!("K{i}"), *v);
        }
        let text = b.to_dotenv("header line");
        let back = Bundle::parse(&text, Path::new("x")).unwrap();
        assert_eq!(b, back, "{text}");
    }

    #[test]
    fn parse_errors_name_the_line() {
        let err = Bundle::parse("A=1\nnot a pair\n", Path::new("/tmp/.env.local")).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("/tmp/.env.local:2"), "{msg}");
        assert_eq!(err.exit_code(), exit::USAGE);
    }

    #[test]
    fn atomic_write_sets_0600_and_replaces() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".env.local");
        write_atomic(&path, b"A=1\n", 0o600).unwrap();
        write_atomic(&path, b"A=2\n", 0o600).unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "A=2\n");
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let leftovers: Vec<_> = fs::read_dir(dir.path()).unwrap().flatten().collect();
        assert_eq!(leftovers.len(), 1, "temp files left behind");
    }

    #[test]
    fn stale_temp_of_dead_writer_is_removed() {
        let dir = tempfile::tempdir().unwrap();
        let stale = dir.path().join(".env.local.tmp-999999999-deadbeef");
        fs::write(&stale, "half").unwrap();
        write_atomic(&dir.path().join(".env.local"), b"A=1\n", 0o600).unwrap();
        assert!(!stale.exists());
    }

    #[test]
    fn refuses_tracked_path_and_writes_ignored_one() {
        let dir = tempfile::tempdir().unwrap();
        let git = |args: &[&str]| {
            assert!(
                Command::new("git")
                    .arg("-C")
                    .arg(dir.path())
                    .args(args)
                    .status()
                    .unwrap()
                    .success()
            )
        };
        git(&["init", "-q"]);
        let path = dir.path().join(".env.local");
        let mut b = Bundle::new();
        b.set("A", "1");
        let err = b.write(&path, "h").unwrap_err();
        assert_eq!(err.exit_code(), exit::INTEGRITY);
        assert!(!path.exists(), "nothing may be written when refused");
        fs::write(dir.path().join(".gitignore"), ".env.*\n").unwrap();
        b.write(&path, "h").unwrap();
        assert_eq!(Bundle::read(&path).unwrap(), b);
    }
}
