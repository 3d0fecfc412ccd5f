//! The profiles' servers in the harness: RabbitMQ (started like `scripts/dev/native.sh` starts
//! it) and OpenBao with persistent raft storage; each answers, keeps what it should, and leaves
//! no process behind.

use devenv_testkit::{OpenBao, RabbitMq};
use serde_json::json;

/// The command lines of the running processes that mention `needle`.
fn processes_mentioning(needle: &str) -> Vec<String> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .bytes()
                .all(|b| b.is_ascii_digit())
        })
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .map(|raw| String::from_utf8_lossy(&raw).replace('\0', " "))
        .filter(|cmdline| cmdline.contains(needle))
        .collect()
}

#[test]
fn rabbitmq_has_only_the_generated_user_and_leaves_nothing_behind() {
    let mut rabbit = RabbitMq::start();
    let dir = rabbit.dir().display().to_string();
    // Both the broker and its epmd carry the scratch directory (hence `devenv-testkit`).
    let tagged = processes_mentioning(&dir);
    assert!(tagged.iter().any(|c| c.contains("beam")), "{tagged:#?}");
    assert!(tagged.iter().any(|c| c.contains("epmd")), "{tagged:#?}");
    assert!(tagged.iter().all(|c| c.contains("devenv-testkit")));

    let (status, overview) = rabbit.management_get("/api/overview");
    assert_eq!(status, 200, "{overview}");
    assert!(overview["rabbitmq_version"].is_string(), "{overview}");
    // default_user set: RabbitMQ never creates `guest`.
    let (status, users) = rabbit.management_get("/api/users");
    assert_eq!(status, 200, "{users}");
    let names: Vec<&str> = users
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|u| u["name"].as_str())
        .collect();
    assert_eq!(names, ["devenv"], "{users}");
    assert_eq!(rabbit.management_get("/api/users/guest").0, 404);
    assert!(rabbit.url().starts_with("amqp://devenv:"));
    assert!(
        rabbit
            .url()
            .ends_with(&format!(":{}/%2F", rabbit.amqp_port))
    );

    let ports = [rabbit.amqp_port, rabbit.management_port];
    rabbit.stop();
    for port in ports {
        assert!(
            !devenv_core::netproc::port_in_use(port),
            "port {port} still held"
        );
    }
    assert_eq!(processes_mentioning(&dir), Vec::<String>::new());
}

#[test]
fn persistent_openbao_starts_uninitialised_and_keeps_its_data_across_restarts() {
    let data = tempfile::tempdir().unwrap();
    let mut bao = OpenBao::start_persistent(&data.path().join("raft"));
    let health = bao.health();
    assert_eq!(health.status, 501, "uninitialised: {}", health.body);
    assert_eq!(health.body["initialized"], false);

    let init = bao.api("").request_as(
        None,
        "PUT",
        "sys/init",
        Some(&json!({ "secret_shares": 1, "secret_threshold": 1 })),
    );
    assert_eq!(init.status, 200, "{}", init.body);
    let key = init.body["keys_base64"][0].as_str().unwrap().to_string();
    let root = init.body["root_token"].as_str().unwrap().to_string();
    let unseal = |bao: &devenv_testkit::PersistentBao| {
        let answer = bao
            .api(&root)
            .ok("PUT", "sys/unseal", Some(&json!({ "key": key })));
        assert_eq!(answer["sealed"], false, "{answer}");
        // Raft elects itself leader shortly after unsealing: poll until active.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while bao.health().status != 200 {
            assert!(std::time::Instant::now() < deadline, "{}", bao.log());
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    };
    unseal(&bao);
    let api = bao.api(&root);
    api.mount_kv("kv", 2);
    api.write_secret("kv", 2, "app", &json!({ "password": "kept" }));

    bao.seal(&root);
    assert_eq!(bao.health().status, 503);
    let pid = bao.pid();
    bao.restart();
    assert_ne!(bao.pid(), pid, "a new process");
    let health = bao.health();
    assert_eq!(
        health.status, 503,
        "sealed after a restart: {}",
        health.body
    );
    assert_eq!(health.body["initialized"], true);
    unseal(&bao);
    let read = bao.api(&root).ok("GET", "kv/data/app", None);
    assert_eq!(read["data"]["data"]["password"], "kept");

    let port = bao.port;
    drop(bao);
    assert!(!devenv_core::netproc::port_in_use(port));
}
