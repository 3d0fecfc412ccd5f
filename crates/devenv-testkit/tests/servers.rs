//! The harness itself: every server starts, speaks its protocol and is gone after drop.

use std::io::{Read as _, Write as _};

use devenv_testkit::Stack;

#[test]
fn stack_starts_answers_and_stops() {
    let stack = Stack::start();
    let pg = &stack.postgres;
    assert_eq!(pg.psql(&pg.database, "SELECT 40 + 2"), "42");

    let mut redis = std::net::TcpStream::connect(("127.0.0.1", stack.redis.port)).unwrap();
    write!(redis, "AUTH {}\r\nPING\r\n", stack.redis.password).unwrap();
    let mut buf = [0u8; 64];
    let mut got = String::new();
    while !got.contains("+PONG") {
        let n = redis.read(&mut buf).unwrap();
        assert!(n > 0, "redis closed: {got}");
        got.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    assert!(got.starts_with("+OK"), "{got}");

    let bundle = stack.bundle();
    assert_eq!(bundle.get("S3_BUCKET"), Some("devenv-test"));
    let ports = [
        stack.postgres.port,
        stack.redis.port,
        stack.nats.port,
        stack.s3.port,
    ];
    drop(stack);
    for port in ports {
        assert!(
            !devenv_core::netproc::port_in_use(port),
            "port {port} still held"
        );
    }
    assert!(devenv_testkit::tool("psql").is_some());
}
