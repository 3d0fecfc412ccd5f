//! A real stack for `scripts/bench/status.sh` when no `make up` stack is running: starts
//! PostgreSQL, Redis, NATS and S3 through the testkit on free loopback ports, writes their
//! bundle to the path given, prints `ready`, and stops every server on SIGTERM or Ctrl-C.
// A helper program for tests and benchmarks: its stdout/stderr lines are its interface.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use devenv_testkit::Stack;
use tokio::signal::unix::{SignalKind, signal};

fn main() {
    let Some(path) = std::env::args_os().nth(1) else {
        eprintln!("usage: bench_stack <bundle path>");
        std::process::exit(2);
    };
    let stack = Stack::start();
    let mut bundle = stack.bundle();
    // Not a DESIGN key: the sequential peer script checks NATS through its monitor port.
    bundle.set(
        "NATS_MONITOR_URL",
        format!("http://127.0.0.1:{}", stack.nats.monitor_port),
    );
    devenv_core::bundle::write_atomic(
        std::path::Path::new(&path),
        bundle.to_dotenv("bench stack (testkit)").as_bytes(),
        0o600,
    )
    .expect("write the bench bundle");
    println!("ready");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("start a runtime");
    runtime.block_on(async {
        let mut term = signal(SignalKind::terminate()).expect("install SIGTERM handler");
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
    });
    drop(stack);
}
