//! The OpenBao harness: it starts, serves AppRole, KV v1/v2, policies and namespaces, seals,
//! and is gone after drop.

use devenv_testkit::{OpenBao, RoleSpec};
use serde_json::json;

#[test]
fn openbao_serves_approle_kv_and_policies_seals_and_stops() {
    let bao = OpenBao::start();
    bao.enable_approle("approle");
    bao.mount_kv("kv1", 1);
    bao.mount_kv("kv2", 2);
    bao.write_policy(
        "read-kv2",
        "path \"kv2/data/app/*\" { capabilities = [\"read\"] }",
    );
    bao.write_secret("kv1", 1, "app/db", &json!({ "password": "one" }));
    bao.write_secret("kv2", 2, "app/db", &json!({ "password": "two" }));
    let role_id = bao.create_role(
        "approle",
        "app",
        &RoleSpec {
            policies: &["read-kv2"],
            role_id: Some("app-role-id"),
            secret_id_num_uses: 1,
            token_ttl: "60s",
        },
    );
    assert_eq!(role_id, "app-role-id");
    let secret_id = bao.create_secret_id("approle", "app", None);
    let login = json!({ "role_id": role_id, "secret_id": secret_id });
    let answer = bao.request_as(None, "POST", "auth/approle/login", Some(&login));
    assert_eq!(answer.status, 200, "{}", answer.body);
    let token = answer.body["auth"]["client_token"].as_str().unwrap();
    assert_eq!(answer.body["auth"]["lease_duration"], 60);
    // The policy: kv2's path readable, kv1 and sys/mounts not.
    let read = bao.request_as(Some(token), "GET", "kv2/data/app/db", None);
    assert_eq!(read.body["data"]["data"]["password"], "two");
    assert_eq!(
        bao.request_as(Some(token), "GET", "kv1/app/db", None)
            .status,
        403
    );
    assert_eq!(
        bao.request_as(Some(token), "GET", "sys/mounts", None)
            .status,
        403
    );
    assert_eq!(
        bao.request("GET", "kv1/app/db", None).body["data"]["password"],
        "one"
    );
    // secret_id_num_uses = 1: the second login is refused.
    let again = bao.request_as(None, "POST", "auth/approle/login", Some(&login));
    assert_eq!(again.status, 400, "{}", again.body);
    assert!(
        again.errors().contains("invalid role or secret ID"),
        "{}",
        again.body
    );
    // Namespaces exist in this version.
    let team = bao.namespace("team-a");
    team.mount_kv("secret", 2);
    team.write_secret("secret", 2, "x", &json!({ "k": "v" }));
    assert_eq!(team.request("GET", "secret/data/x", None).status, 200);
    assert_eq!(bao.request("GET", "secret/data/x", None).status, 404);

    bao.seal();
    assert_eq!(bao.request("GET", "kv1/app/db", None).status, 503);
    let port = bao.port;
    let pid = bao.pid().unwrap();
    drop(bao);
    assert!(
        !devenv_core::netproc::port_in_use(port),
        "port {port} still held"
    );
    assert!(
        !std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "bao {pid} still runs"
    );
}

#[test]
fn openbao_audits_every_request_and_unseals() {
    let bao = OpenBao::start();
    let team = bao.namespace("team-a");
    team.mount_kv("secret", 2);
    team.write_secret("secret", 2, "app", &json!({ "k": "v" }));
    let read = team.request("GET", "secret/data/app", None);
    let id = read.body["request_id"].as_str().unwrap();
    let audited = bao.audit();
    let entry = audited
        .iter()
        .find(|a| a.request_id == id)
        .expect("audited");
    assert_eq!(
        (entry.path.as_str(), entry.namespace.as_str()),
        ("secret/data/app", "team-a/")
    );
    assert!(
        entry.error.is_none() && entry.token_accessor.is_some(),
        "{entry:?}"
    );
    let missing = team.request("GET", "secret/data/nope", None);
    assert_eq!(missing.status, 404);
    bao.seal();
    assert_eq!(team.request("GET", "secret/data/app", None).status, 503);
    bao.unseal();
    assert_eq!(
        team.request("GET", "secret/data/app", None).body["data"]["data"]["k"],
        "v"
    );
}
