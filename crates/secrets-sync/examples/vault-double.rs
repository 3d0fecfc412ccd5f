//! The Vault double of the integration tests (tests/support/vault_double.rs) as a standalone
//! server for scripts/bench/secrets.sh: HashiCorp Vault cannot run here, so the benchmark reads
//! from this double, which serves Vault's documented KV v2 bodies with a per-request latency.
//!
//! `vault-double --paths 100 --latency-ms 8 --token T` serves `secret/bench/000`…`099`
//! (field `value`) on a free 127.0.0.1 port, prints its URL on stdout and runs until killed.
// A helper program for tests and benchmarks: its stdout/stderr lines are its interface.
#![allow(clippy::print_stdout, clippy::print_stderr, clippy::exit)]

#[path = "../tests/support/vault_double.rs"]
mod vault_double;

use std::io::Write as _;
use std::time::Duration;

fn main() {
    let mut paths = 100usize;
    let mut latency_ms = 8u64;
    let mut token = "bench-token".to_string();
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().unwrap_or_else(|| usage(&flag));
        match flag.as_str() {
            "--paths" => paths = value.parse().unwrap_or_else(|_| usage(&flag)),
            "--latency-ms" => latency_ms = value.parse().unwrap_or_else(|_| usage(&flag)),
            "--token" => token = value,
            _ => usage(&flag),
        }
    }
    let mut config = vault_double::Config::default();
    config.mounts.insert("secret".into(), 2);
    config.tokens.insert(token);
    config.latency = Duration::from_millis(latency_ms);
    for i in 0..paths {
        config.secrets.insert(
            ("secret".into(), format!("bench/{i:03}")),
            [(
                "value".to_string(),
                format!(
                    "bench-secret-{i:03}-{}",
                    devenv_core::credentials::generate(16)
                ),
            )]
            .into_iter()
            .collect(),
        );
    }
    let double = vault_double::VaultDouble::start(config);
    println!("{}", double.url());
    let _ = std::io::stdout().flush();
    loop {
        std::thread::park();
    }
}

fn usage(flag: &str) -> ! {
    eprintln!(
        "error: bad or missing value for {flag}\n  usage: vault-double [--paths N] [--latency-ms MS] [--token T]"
    );
    std::process::exit(2)
}
