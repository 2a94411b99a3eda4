//! `publish` against the real sops 3.11.0: the same encrypted file and the same destination rule
//! (only the prefix or path differs) published by both tools, then read back from moto (S3) and
//! the OpenBao dev server (Vault KV v1 and v2) and compared.
#![cfg(feature = "aws-kms")]

mod common;

use common::services::{aws_env, call, gcs_stand_in, moto, openbao};
use common::{rsops, sops, Key, Sandbox, Tool};
use std::path::{Path, PathBuf};

const PLAIN: &[u8] = b"db:\n    user: admin\n    password: hunter2\nport: 5432\n";

/// The encrypted file (for age1) in `dir/app.yaml`, with `config` as `dir/.sops.yaml`.
fn project(sandbox: &Sandbox, dir: &str, config: &str, encrypted: &[u8]) -> PathBuf {
    sandbox.put(&format!("{dir}/.sops.yaml"), config.as_bytes());
    sandbox.put(&format!("{dir}/app.yaml"), encrypted);
    sandbox.work().join(dir)
}

fn encrypted_for_age1(sandbox: &Sandbox) -> Vec<u8> {
    sandbox.put("plain.yaml", PLAIN);
    let recipient = Key::Age1.recipient();
    let out = sandbox.run(&sops(), &["encrypt", "--age", &recipient, "plain.yaml"]);
    assert!(out.ok(), "{}", out.summary());
    out.stdout
}

fn publish(sandbox: &Sandbox, tool: &Tool, dir: &Path, args: &[&str], env: &[(&str, &str)]) {
    let mut all = vec!["publish", "--yes"];
    all.extend_from_slice(args);
    all.push("app.yaml");
    let out = sandbox.run_in(tool, dir, &all, env);
    assert!(out.ok(), "{}", out.summary());
}

/// A SigV4-signed GET (moto refuses anonymous reads of a private bucket).
fn s3_get(url: &str) -> Vec<u8> {
    use rsops::keys::http::{Client, Request};
    let empty_sha256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    let mut headers = vec![("x-amz-content-sha256".to_string(), empty_sha256.to_string())];
    let creds = rsops::keys::aws::Credentials::new("test", "test", None);
    rsops::keys::aws::sign_request(&creds, "us-east-1", "s3", "GET", url, &mut headers, b"")
        .unwrap();
    let mut request = Request::new("GET", url);
    request.headers = headers;
    let r = Client::new().send(&request, |_| false).unwrap();
    assert_eq!(r.status, 200, "GET {url}");
    r.body.to_vec()
}

#[test]
fn s3_on_moto_as_sops_publishes_it() {
    let moto = moto();
    let (status, _) = call("PUT", &format!("{}/pub", moto.base), None);
    assert!(status < 300, "create bucket: HTTP {status}");
    let sandbox = Sandbox::new(&[Key::Age1]);
    let encrypted = encrypted_for_age1(&sandbox);
    let env = aws_env(&moto);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let age2 = Key::Age2.recipient();
    for tool in [sops(), rsops()] {
        // As it is, and re-encrypted for age2 by the recreation rule.
        let raw = format!(
            "destination_rules:\n- s3_bucket: pub\n  s3_prefix: raw-{}/\n",
            tool.name
        );
        let dir = project(&sandbox, &format!("raw-{}", tool.name), &raw, &encrypted);
        publish(&sandbox, &tool, &dir, &[], &env);
        let re = format!(
            "destination_rules:\n- s3_bucket: pub\n  s3_prefix: re-{}/\n  recreation_rule:\n    age: {age2}\n",
            tool.name
        );
        let dir = project(&sandbox, &format!("re-{}", tool.name), &re, &encrypted);
        publish(&sandbox, &tool, &dir, &["--omit-extensions"], &env);
    }
    let get = |key: &str| s3_get(&format!("{}/pub/{key}", moto.base));
    assert_eq!(
        get("raw-sops/app.yaml"),
        encrypted,
        "sops uploads the file as it is"
    );
    assert_eq!(
        get("raw-rsops/app.yaml"),
        encrypted,
        "rsops uploads the file as it is"
    );
    // Re-encrypted: only age2 opens either tool's object, to the same plaintext.
    let reader = Sandbox::new(&[Key::Age2]);
    for name in ["sops", "rsops"] {
        let object = get(&format!("re-{name}/app"));
        let text = String::from_utf8_lossy(&object);
        assert!(
            text.contains(&age2) && !text.contains(&Key::Age1.recipient()),
            "{name}: {text}"
        );
        reader.put(&format!("{name}.yaml"), &object);
        let out = reader.run(&sops(), &["decrypt", &format!("{name}.yaml")]);
        assert_eq!(out.stdout, PLAIN, "{name}'s object: {}", out.summary());
    }
}

#[test]
#[cfg(feature = "gcp-kms")]
fn gcs_on_a_stand_in_as_sops_publishes_it() {
    let gcs = gcs_stand_in();
    let host = gcs.base.trim_start_matches("http://").to_string();
    // No credentials anywhere: against an emulator neither tool may ask for a token.
    let env = [
        ("STORAGE_EMULATOR_HOST", host.as_str()),
        (
            "GOOGLE_APPLICATION_CREDENTIALS",
            "/nonexistent/rsops-test-credentials.json",
        ),
    ];
    let sandbox = Sandbox::new(&[Key::Age1]);
    let encrypted = encrypted_for_age1(&sandbox);
    for tool in [sops(), rsops()] {
        let config = format!(
            "destination_rules:\n- gcs_bucket: pub\n  gcs_prefix: {}/nested/\n",
            tool.name
        );
        let dir = project(&sandbox, &format!("gcs-{}", tool.name), &config, &encrypted);
        publish(&sandbox, &tool, &dir, &[], &env);
    }
    let get = |object: &str| {
        let url = format!(
            "{}/storage/v1/b/pub/o/{}?alt=media",
            gcs.base,
            rsops::keys::http::percent_encode(object)
        );
        let (status, body) = call("GET", &url, None);
        assert_eq!(status, 200, "GET {object}");
        body
    };
    let by_sops = get("sops/nested/app.yaml");
    let by_rsops = get("rsops/nested/app.yaml");
    assert_eq!(by_sops, encrypted, "sops uploads the file as it is");
    assert_eq!(by_rsops, by_sops, "rsops uploads the same bytes as sops");
}

#[test]
fn vault_kv_v1_and_v2_on_openbao_as_sops_publishes_it() {
    let bao = openbao();
    let sandbox = Sandbox::new(&[Key::Age1]);
    let encrypted = encrypted_for_age1(&sandbox);
    let env = [("VAULT_TOKEN", "root")];
    for tool in [sops(), rsops()] {
        let v2 = format!(
            "destination_rules:\n- vault_address: {}\n  vault_path: {}\n",
            bao.base, tool.name
        );
        let dir = project(&sandbox, &format!("v2-{}", tool.name), &v2, &encrypted);
        publish(&sandbox, &tool, &dir, &[], &env);
        let v1 = format!(
            "destination_rules:\n- vault_address: {}\n  vault_path: {}/\n  vault_kv_mount_name: kv1/\n  vault_kv_version: 1\n",
            bao.base, tool.name
        );
        let dir = project(&sandbox, &format!("v1-{}", tool.name), &v1, &encrypted);
        publish(&sandbox, &tool, &dir, &[], &env);
        // --recursive: every file below the directory, named by its relative path.
        let tree = format!("tree-{}", tool.name);
        let config = format!(
            "destination_rules:\n- vault_address: {}\n  vault_path: tree-{}\n",
            bao.base, tool.name
        );
        sandbox.put(&format!("{tree}/.sops.yaml"), config.as_bytes());
        sandbox.put(&format!("{tree}/files/b.yaml"), &encrypted);
        sandbox.put(&format!("{tree}/files/sub/a.yaml"), &encrypted);
        let out = sandbox.run_in(
            &tool,
            &sandbox.work().join(&tree),
            &["publish", "--yes", "--recursive", "files"],
            &env,
        );
        assert!(out.ok(), "{}", out.summary());
    }
    let read = |path: &str| -> serde_json::Value {
        let (status, body) = call("GET", &format!("{}/v1/{path}", bao.base), Some("root"));
        assert_eq!(status, 200, "GET {path}");
        serde_json::from_slice(&body).unwrap()
    };
    let v2_sops = read("secret/data/sops/app.yaml")["data"]["data"].clone();
    let v2_rsops = read("secret/data/rsops/app.yaml")["data"]["data"].clone();
    assert_eq!(v2_rsops, v2_sops);
    assert_eq!(v2_sops["db"]["password"], "hunter2");
    assert_eq!(v2_sops["port"], 5432);
    let v1_sops = read("kv1/sops/app.yaml")["data"].clone();
    let v1_rsops = read("kv1/rsops/app.yaml")["data"].clone();
    assert_eq!(v1_rsops, v1_sops);
    assert_eq!(v1_sops, v2_sops);
    for name in ["b.yaml", "sub/a.yaml"] {
        let by_sops = read(&format!("secret/data/tree-sops/{name}"))["data"]["data"].clone();
        let by_rsops = read(&format!("secret/data/tree-rsops/{name}"))["data"]["data"].clone();
        assert_eq!(by_rsops, by_sops, "{name}");
        assert_eq!(by_sops, v2_sops, "{name}");
    }
}
