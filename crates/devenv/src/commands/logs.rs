//! `devenv logs [--service a,b] [--since 10m] [--lines N] [--follow 0|1]`: every service's log
//! (`.devenv/logs/<service>.log`) multiplexed, each line prefixed with its service name, padded
//! to the longest name; coloured per service on a terminal, plain under NO_COLOR or a pipe.
//!
//! Following polls the files every `--poll-ms` (50 ms): a handful of `read`s that return nothing
//! when nothing was written, so it costs no CPU to speak of, needs no inotify, and a line shows
//! within one poll of being written, in the order the polls see it. A truncated or replaced file
//! (`make reset`, rotation) is read again from its start; a service's log that appears later
//! joins within a second.
//!
//! `--since` keeps lines stamped at or after now − SINCE: the time is read from the line itself
//! (PostgreSQL `2026-12-04 19:52:47.123 UTC`, NATS `2026/12/04 19:52:47`, Redis
//! `04 Dec 2026 19:52:47`, RFC 3339); a line without one belongs with the line before it.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read as _, Seek as _, SeekFrom, Write as _};
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Local, NaiveDateTime, TimeZone as _, Utc};
use devenv_core::exit;
use devenv_core::output::{Failure, Style};
use devenv_core::paths::Workspace;

use crate::cli::LogsArgs;

const DEFAULT_LINES: usize = 10;
/// One colour per service, in the order they are listed.
const PALETTE: [&str; 6] = ["36", "33", "35", "32", "34", "91"];

struct Tail {
    service: String,
    path: PathBuf,
    offset: u64,
    inode: u64,
    partial: Vec<u8>,
}

pub fn run(ws: &Workspace, args: &LogsArgs) -> Result<u8, Failure> {
    // Passwords that a server echoes into its log never reach the terminal.
    if let Ok(mode) = super::mode::current()
        && let Ok(Some(bundle)) = devenv_core::bundle::Bundle::read_optional(&ws.bundle_path(mode))
    {
        bundle.register_secrets();
    }
    let since = match &args.since {
        Some(text) => {
            let d = devenv_core::duration::parse_flag(text).map_err(|e| {
                Failure::new(
                    exit::USAGE,
                    format!("SINCE={text}: {e} — write e.g. 10m, 2h, 30s"),
                )
            })?;
            Some(Utc::now() - chrono::Duration::from_std(d).unwrap_or(chrono::TimeDelta::MAX))
        }
        None => None,
    };
    let dir = ws.state_dir().join("logs");
    let mut tails = discover(&dir, &args.service)?;
    let width = tails.iter().map(|t| t.service.len()).max().unwrap_or(0);
    let colours: BTreeMap<String, &str> = tails
        .iter()
        .enumerate()
        .map(|(i, t)| (t.service.clone(), PALETTE[i % PALETTE.len()]))
        .collect();
    let mut printer = Printer {
        width,
        colours,
        style: Style::stdout(),
    };

    // The backlog: each file's last lines (or those since SINCE), merged by their time stamps.
    let lines = args.lines.unwrap_or(if since.is_some() {
        usize::MAX
    } else {
        DEFAULT_LINES
    });
    let mut backlog = Vec::new();
    for tail in &mut tails {
        for (ts, line) in tail.backlog(since, lines) {
            backlog.push((ts, tail.service.clone(), line));
        }
    }
    backlog.sort_by_key(|(ts, _, _)| *ts);
    for (_, service, line) in &backlog {
        if printer.print(service, line).is_err() {
            return Ok(exit::OK);
        }
    }
    if !args.follow {
        return Ok(exit::OK);
    }
    let poll = Duration::from_millis(args.poll_ms.max(10));
    let rescan_every = (1000 / args.poll_ms.max(10)).max(1);
    for round in 0u64.. {
        // About once a second, a service that started logging since (no SERVICE filter) joins,
        // read from its first line.
        if args.service.is_empty()
            && round % rescan_every == rescan_every - 1
            && let Ok(found) = discover(&dir, &[])
        {
            for tail in found {
                if !tails.iter().any(|t| t.service == tail.service) {
                    printer.width = printer.width.max(tail.service.len());
                    let colour = PALETTE[tails.len() % PALETTE.len()];
                    printer.colours.insert(tail.service.clone(), colour);
                    tails.push(tail);
                }
            }
        }
        for tail in &mut tails {
            for line in tail.read_new() {
                if printer.print(&tail.service, &line).is_err() {
                    // The reader went away (`| head`, a closed terminal): nothing left to do.
                    return Ok(exit::OK);
                }
            }
        }
        std::thread::sleep(poll);
    }
    Ok(exit::OK)
}

/// The log files to follow: every `*.log`, or those of the named services.
fn discover(dir: &Path, services: &[String]) -> Result<Vec<Tail>, Failure> {
    let mut available: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|e| {
                    let name = e.file_name().to_string_lossy().into_owned();
                    name.strip_suffix(".log").map(str::to_string)
                })
                .collect()
        })
        .unwrap_or_default();
    available.sort();
    let wanted: Vec<String> = if services.is_empty() {
        available.clone()
    } else {
        services
            .iter()
            .map(|s| s.trim().replace('-', "_"))
            .filter(|s| !s.is_empty())
            .collect()
    };
    if let Some(missing) = wanted.iter().find(|s| !available.contains(s)) {
        return Err(Failure::new(
            exit::USAGE,
            format!(
                "no log for service '{missing}' in {} — pick one of: {}",
                dir.display(),
                if available.is_empty() {
                    "(none yet: run `make up` first)".to_string()
                } else {
                    available.join(" ")
                }
            ),
        ));
    }
    if wanted.is_empty() {
        return Err(Failure::new(
            exit::USAGE,
            format!("no logs yet in {} — run `make up` first", dir.display()),
        ));
    }
    Ok(wanted
        .into_iter()
        .map(|service| Tail {
            path: dir.join(format!("{service}.log")),
            service,
            offset: 0,
            inode: 0,
            partial: Vec::new(),
        })
        .collect())
}

impl Tail {
    /// The lines already in the file that the user asked for, with their time stamps (a line
    /// without one takes the stamp of the line before); leaves the offset at the end.
    fn backlog(&mut self, since: Option<DateTime<Utc>>, lines: usize) -> Vec<(i64, String)> {
        let Ok(mut file) = File::open(&self.path) else {
            return Vec::new();
        };
        let mut bytes = Vec::new();
        if file.read_to_end(&mut bytes).is_err() {
            return Vec::new();
        }
        self.inode = file.metadata().map(|m| m.ino()).unwrap_or(0);
        // Only whole lines now; a line still being written comes with the next poll.
        let complete = bytes.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
        self.offset = complete as u64;
        let mut last = i64::MIN;
        let mut out: Vec<(i64, String)> = String::from_utf8_lossy(&bytes[..complete])
            .lines()
            .map(|line| {
                if let Some(ts) = line_time(line) {
                    last = ts.timestamp_millis();
                }
                (last, line.to_string())
            })
            .collect();
        if let Some(since) = since {
            let cutoff = since.timestamp_millis();
            out.retain(|(ts, _)| *ts >= cutoff);
        }
        let skip = out.len().saturating_sub(lines);
        out.drain(..skip);
        out
    }

    /// Complete lines written since the last call.
    fn read_new(&mut self) -> Vec<String> {
        let Ok(mut file) = File::open(&self.path) else {
            return Vec::new();
        };
        let Ok(meta) = file.metadata() else {
            return Vec::new();
        };
        if meta.ino() != self.inode || meta.len() < self.offset {
            // Replaced or truncated: start over at its beginning.
            self.inode = meta.ino();
            self.offset = 0;
            self.partial.clear();
        }
        if meta.len() == self.offset {
            return Vec::new();
        }
        let mut chunk = Vec::new();
        if file.seek(SeekFrom::Start(self.offset)).is_err() || file.read_to_end(&mut chunk).is_err()
        {
            return Vec::new();
        }
        self.offset += chunk.len() as u64;
        self.partial.extend_from_slice(&chunk);
        let Some(end) = self.partial.iter().rposition(|b| *b == b'\n') else {
            return Vec::new();
        };
        let rest = self.partial.split_off(end + 1);
        let text = String::from_utf8_lossy(&self.partial).into_owned();
        self.partial = rest;
        text.lines().map(str::to_string).collect()
    }
}

struct Printer<'a> {
    width: usize,
    colours: BTreeMap<String, &'a str>,
    style: Style,
}

impl Printer<'_> {
    /// One line, `service | text`, through the redactor; an error when stdout is gone.
    fn print(&self, service: &str, line: &str) -> std::io::Result<()> {
        let name = format!("{service:<width$}", width = self.width);
        let prefix = match (self.style.color, self.colours.get(service)) {
            (true, Some(code)) => format!("\x1b[{code}m{name} |\x1b[0m"),
            _ => format!("{name} |"),
        };
        let text = devenv_core::redact::redact(&format!("{prefix} {line}"));
        // Not output::println_redacted: a follower must notice its reader has gone.
        let mut out = std::io::stdout().lock();
        writeln!(out, "{text}")?;
        out.flush()
    }
}

/// The time stamp a server put near the start of `line`, if any.
pub fn line_time(line: &str) -> Option<DateTime<Utc>> {
    const FORMATS: [&str; 4] = [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y/%m/%d %H:%M:%S%.f",
        "%d %b %Y %H:%M:%S%.f",
    ];
    let head: String = line.chars().take(48).collect();
    for (i, c) in head.char_indices() {
        if !c.is_ascii_digit() || (i > 0 && head[..i].ends_with(|p: char| p.is_ascii_digit())) {
            continue;
        }
        for format in FORMATS {
            if let Ok((naive, rest)) = NaiveDateTime::parse_and_remainder(&head[i..], format) {
                return Some(to_utc(naive, rest));
            }
        }
    }
    None
}

/// A naive stamp is UTC when the server says so (`Z`, ` UTC`, `+00:00`), else local time.
fn to_utc(naive: NaiveDateTime, rest: &str) -> DateTime<Utc> {
    let rest = rest.trim_start();
    if rest.starts_with('Z') || rest.starts_with("UTC") || rest.starts_with("+00") {
        return Utc.from_utc_datetime(&naive);
    }
    Local
        .from_local_datetime(&naive)
        .earliest()
        .map_or_else(|| Utc.from_utc_datetime(&naive), |t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_stamps_are_read() {
        let pg = line_time("2026-12-04 19:52:47.123 UTC [42] LOG:  ready").unwrap();
        assert_eq!(pg.to_rfc3339(), "2026-12-04T19:52:47.123+00:00");
        assert!(line_time("[7] 2026/12/04 19:52:47.123456 [INF] Server is ready").is_some());
        assert!(line_time("812:M 04 Dec 2026 19:52:47.123 * Ready to accept").is_some());
        let rfc = line_time("2026-12-04T19:52:47.5Z  INFO mock_inference: listening").unwrap();
        assert_eq!(rfc.timestamp_millis() % 1000, 500);
        assert!(line_time("no stamp here").is_none());
    }
}
