//! Redis's own persistence, asked for over RESP: BGREWRITEAOF (when AOF is on) and BGSAVE, each
//! awaited through `INFO` counters, so the files on disk hold the data as of this moment.

use std::io::{BufRead as _, BufReader, Write as _};
use std::net::TcpStream;
use std::time::{Duration, Instant};

pub struct Client {
    reader: BufReader<TcpStream>,
}

#[derive(Debug)]
pub enum Reply {
    Text(String),
    Error(String),
    /// An integer, nil or array: nothing this client reads further.
    Other,
}

impl Client {
    pub fn connect(port: u16, password: &str) -> Result<Self, String> {
        let stream = TcpStream::connect(("127.0.0.1", port))
            .map_err(|e| format!("cannot reach redis on 127.0.0.1:{port}: {e}"))?;
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .map_err(|e| e.to_string())?;
        let mut client = Self {
            reader: BufReader::new(stream),
        };
        if !password.is_empty() {
            if let Reply::Error(e) = client.call(&["AUTH", password])? {
                return Err(format!("redis refused AUTH: {e}"));
            }
        }
        Ok(client)
    }

    pub fn call(&mut self, args: &[&str]) -> Result<Reply, String> {
        let mut cmd = format!("*{}\r\n", args.len());
        for a in args {
            cmd.push_str(&format!("${}\r\n{a}\r\n", a.len()));
        }
        self.reader
            .get_mut()
            .write_all(cmd.as_bytes())
            .map_err(|e| format!("redis: {e}"))?;
        self.read()
    }

    fn read(&mut self) -> Result<Reply, String> {
        let mut line = String::new();
        self.reader
            .read_line(&mut line)
            .map_err(|e| format!("redis: {e}"))?;
        let line = line.trim_end_matches("\r\n");
        let (tag, rest) = line
            .split_at_checked(1)
            .ok_or("redis closed the connection")?;
        match tag {
            "+" => Ok(Reply::Text(rest.to_string())),
            "-" => Ok(Reply::Error(rest.to_string())),
            ":" => Ok(Reply::Other),
            "$" => {
                let len: i64 = rest.parse().map_err(|_| "bad bulk length")?;
                if len < 0 {
                    return Ok(Reply::Other);
                }
                let mut buf = vec![0u8; usize::try_from(len).unwrap_or(0) + 2];
                std::io::Read::read_exact(&mut self.reader, &mut buf)
                    .map_err(|e| format!("redis: {e}"))?;
                buf.truncate(buf.len() - 2);
                Ok(Reply::Text(String::from_utf8_lossy(&buf).into_owned()))
            }
            "*" => {
                let n: i64 = rest.parse().map_err(|_| "bad array length")?;
                for _ in 0..n.max(0) {
                    self.read()?;
                }
                Ok(Reply::Other)
            }
            other => Err(format!("redis sent an unknown reply type {other:?}")),
        }
    }

    /// `INFO` as key → value.
    fn info(&mut self) -> Result<std::collections::HashMap<String, String>, String> {
        match self.call(&["INFO"])? {
            Reply::Text(text) => Ok(text
                .lines()
                .filter_map(|l| l.split_once(':'))
                .map(|(k, v)| (k.to_string(), v.trim().to_string()))
                .collect()),
            other => Err(format!("redis INFO answered {other:?}")),
        }
    }

    /// Runs `command` and waits until `counter` in INFO has grown, the `busy` flags are 0, and
    /// the last run's `status` is ok.
    fn persist(
        &mut self,
        command: &[&str],
        counter: &str,
        busy: &[&str],
        status: &str,
        timeout: Duration,
    ) -> Result<(), String> {
        let count = |info: &std::collections::HashMap<String, String>| {
            info.get(counter)
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0)
        };
        let before = count(&self.info()?);
        if let Reply::Error(e) = self.call(command)? {
            return Err(format!("redis {}: {e}", command.join(" ")));
        }
        let started = Instant::now();
        loop {
            let info = self.info()?;
            let idle = busy.iter().all(|k| info.get(*k).is_none_or(|v| v == "0"));
            if idle && count(&info) > before {
                return match info.get(status).map(String::as_str) {
                    Some("ok") | None => Ok(()),
                    Some(other) => Err(format!("redis {}: {status} is {other}", command[0])),
                };
            }
            if started.elapsed() > timeout {
                return Err(format!(
                    "redis {} did not finish within {}s",
                    command[0],
                    timeout.as_secs()
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The data on disk as of now: the AOF rewritten (when AOF is on) and a fresh dump.rdb.
    pub fn save(&mut self, timeout: Duration) -> Result<(), String> {
        let info = self.info()?;
        if info.get("aof_enabled").map(String::as_str) == Some("1") {
            self.persist(
                &["BGREWRITEAOF"],
                "aof_rewrites",
                &["aof_rewrite_in_progress", "aof_rewrite_scheduled"],
                "aof_last_bgrewrite_status",
                timeout,
            )?;
        }
        self.persist(
            &["BGSAVE", "SCHEDULE"],
            "rdb_saves",
            &["rdb_bgsave_in_progress"],
            "rdb_last_bgsave_status",
            timeout,
        )
    }
}
