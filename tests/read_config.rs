//! The library as a Rust service uses it: `examples/read_config.rs` (compiled here as a module,
//! so the test runs the example's own code) reads files written by the real sops.

mod common;
#[path = "../examples/read_config.rs"]
mod read_config;

use common::{repo_root, Key, Sandbox};
use rsops::keys::{KeyUnwrapper, Unwrappers};

#[test]
fn the_example_reads_a_field_of_a_file_sops_encrypted() {
    let age = read_config::age_identities(&repo_root().join("keys/age1.txt"));
    let unwrappers: [&dyn KeyUnwrapper; 1] = [&age];
    let keys = Unwrappers(&unwrappers);
    let vector = repo_root().join("testdata/vectors/partial_default.enc.yaml");
    let host = read_config::read_field(&vector, "db_host", &keys).unwrap();
    assert_eq!(host.as_deref(), Some("db.local"));

    let sandbox = Sandbox::new(&[Key::Age1]);
    let plain = sandbox.put(
        "service.json",
        br#"{"listen": "0.0.0.0:8443", "token": "s3cr3t"}"#,
    );
    let out = sandbox.run(
        &common::sops(),
        &[
            "encrypt",
            "--age",
            &Key::Age1.recipient(),
            plain.to_str().unwrap(),
        ],
    );
    assert!(out.ok(), "{}", out.summary());
    let encrypted = sandbox.put("service.enc.json", &out.stdout);
    let listen = read_config::read_field(&encrypted, "listen", &keys).unwrap();
    assert_eq!(listen.as_deref(), Some("0.0.0.0:8443"));
}

#[test]
fn the_example_refuses_a_file_it_holds_no_key_for() {
    let age = read_config::age_identities(&repo_root().join("keys/age2.txt"));
    let unwrappers: [&dyn KeyUnwrapper; 1] = [&age];
    let vector = repo_root().join("testdata/vectors/partial_default.enc.yaml");
    let err = read_config::read_field(&vector, "db_host", &Unwrappers(&unwrappers)).unwrap_err();
    assert!(!err.to_string().contains("db.local"), "{err}");
}
