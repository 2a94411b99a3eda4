//! The options of `rsops k8s secret` and of the kustomize generator that the other Kubernetes
//! suites do not prove: the dockercfg and ssh-auth Secret types, the 1 MiB limit, labels and
//! annotations read back from the output, and the generator's `files:`, `behavior`,
//! `disableNameSuffixHash` and `immutable` as the real `kubectl kustomize` (kustomize v5.7)
//! applies them. Every manifest that is printed passes `kubernetes-validate --strict`.

mod common;
use common::k8s as k8s_support;

use k8s_support::*;
use rsops::tree::Map;
use std::process::Output;

/// Kubernetes's limit on the sum of a Secret's values, in bytes.
const SECRET_LIMIT: usize = 1024 * 1024;

fn k8s_secret(work: &Work, args: &[&str]) -> Output {
    output(work.command(rsops()).args(["k8s", "secret"]).args(args))
}

/// The one Secret `out` printed, after the schema check.
fn printed_secret(work: &Work, out: &Output, what: &str) -> Map {
    assert_ok(out, what);
    if let Err(report) = kubernetes_schema_check(work, &out.stdout) {
        panic!("{what}: not a valid Secret: {report}");
    }
    let mut doc = parse_yaml(&out.stdout);
    assert_eq!(doc.branches.len(), 1, "{what}");
    doc.branches.remove(0)
}

/// `rsops k8s secret` refused with exit 1, nothing printed, no value in the message.
fn refused(out: &Output, message: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(out.stdout.is_empty(), "printed a manifest anyway");
    assert!(err.contains(message), "expected `{message}` in: {err}");
    assert!(!SECRETS.iter().any(|s| err.contains(s)), "{err}");
}

fn text_at<'a>(map: &'a Map, path: &[&str]) -> Option<&'a str> {
    let (last, parents) = path.split_last()?;
    let mut at = map;
    for key in parents {
        at = at.get(key)?.as_map()?;
    }
    at.get(last)?.as_str()
}

fn dockercfg_json() -> String {
    format!(r#"{{"registry.example.org":{{"username":"ci","password":"{API_TOKEN}"}}}}"#)
}

#[test]
fn dockercfg_and_ssh_auth_secrets_with_labels_and_annotations() {
    let work = Work::new();
    work.encrypt("dockercfg.enc", &dockercfg_json(), "binary");
    work.encrypt("broken.enc", &format!("not json {API_TOKEN}"), "binary");
    let ssh_key = format!(
        "-----BEGIN OPENSSH PRIVATE KEY-----\n{DB_PASSWORD}\n-----END OPENSSH PRIVATE KEY-----\n"
    );
    work.encrypt("id.enc", &ssh_key, "binary");

    let out = k8s_secret(
        &work,
        &[
            "--name",
            "regcred",
            "--type",
            "kubernetes.io/dockercfg",
            "--from-file=.dockercfg=dockercfg.enc",
            "--label",
            "team=web",
            "--label",
            "tier=backend",
            "--annotation",
            "owner=ops@example.org",
        ],
    );
    let secret = printed_secret(&work, &out, "dockercfg Secret");
    assert_eq!(text_at(&secret, &["type"]), Some("kubernetes.io/dockercfg"));
    assert_eq!(
        text_at(&secret, &["metadata", "labels", "team"]),
        Some("web")
    );
    assert_eq!(
        text_at(&secret, &["metadata", "labels", "tier"]),
        Some("backend")
    );
    assert_eq!(
        text_at(&secret, &["metadata", "annotations", "owner"]),
        Some("ops@example.org")
    );
    assert_eq!(
        secret_values(&secret),
        vec![(".dockercfg".to_string(), dockercfg_json().into_bytes())]
    );
    refused(
        &k8s_secret(
            &work,
            &[
                "--type",
                "kubernetes.io/dockercfg",
                "--from-file=.dockercfg=broken.enc",
            ],
        ),
        "`.dockercfg` is not valid JSON",
    );
    refused(
        &k8s_secret(
            &work,
            &[
                "--type",
                "kubernetes.io/dockercfg",
                "--from-file=config.json=dockercfg.enc",
            ],
        ),
        "needs the key(s) .dockercfg",
    );

    let out = k8s_secret(
        &work,
        &[
            "--name",
            "deploy-key",
            "--type",
            "kubernetes.io/ssh-auth",
            "--from-file=ssh-privatekey=id.enc",
        ],
    );
    let secret = printed_secret(&work, &out, "ssh-auth Secret");
    assert_eq!(text_at(&secret, &["type"]), Some("kubernetes.io/ssh-auth"));
    assert_eq!(
        secret_values(&secret),
        vec![("ssh-privatekey".to_string(), ssh_key.into_bytes())]
    );
    refused(
        &k8s_secret(
            &work,
            &[
                "--type",
                "kubernetes.io/ssh-auth",
                "--from-file=id_ed25519=id.enc",
            ],
        ),
        "needs the key(s) ssh-privatekey",
    );
    work.assert_clean();
}

/// Exactly 1 MiB of values passes; one byte more is refused, also when it is the sum of two
/// files merged into one Secret.
#[test]
fn the_1_mib_limit_counts_the_sum_of_the_values() {
    let work = Work::new();
    let filler = |len: usize| "x".repeat(len);
    work.encrypt("full.enc", &filler(SECRET_LIMIT), "binary");
    work.encrypt("over.enc", &filler(SECRET_LIMIT + 1), "binary");
    work.encrypt("half.enc", &filler(SECRET_LIMIT / 2), "binary");
    work.encrypt("half-plus.enc", &filler(SECRET_LIMIT / 2 + 1), "binary");

    let out = k8s_secret(&work, &["--name", "big", "--from-file=blob=full.enc"]);
    assert_ok(&out, "a Secret of exactly 1 MiB");
    let doc = parse_yaml(&out.stdout);
    let values = secret_values(&doc.branches[0]);
    assert_eq!(values.len(), 1);
    assert_eq!(values[0].1.len(), SECRET_LIMIT);

    let limit = "exceed Kubernetes's 1 MiB limit";
    refused(&k8s_secret(&work, &["--from-file=blob=over.enc"]), limit);
    let merged = [
        "--merge",
        "--name",
        "two",
        "--from-file=a=half.enc",
        "--from-file=b=half-plus.enc",
    ];
    refused(&k8s_secret(&work, &merged), limit);
    let fits = [
        "--merge",
        "--name",
        "two",
        "--from-file=a=half.enc",
        "--from-file=b=half.enc",
    ];
    assert_ok(&k8s_secret(&work, &fits), "two halves of 1 MiB");
}

const WHOLE_SECRET: &str = "apiVersion: v1
kind: Secret
metadata:
  name: whole
type: Opaque
stringData:
  token: TOKEN
";

const BASE: &str = "apiVersion: v1
kind: Secret
metadata:
  name: merged
data:
  base_key: YmFzZQ==
---
apiVersion: v1
kind: Secret
metadata:
  name: replaced
data:
  old_key: b2xk
";

const OPTIONS_GENERATOR: &str = "apiVersion: viaduct.ai/v1
kind: ksops
metadata:
  name: gen
files:
  - whole.enc.yaml
secretFrom:
  - metadata:
      name: merged
    behavior: merge
    envs: [db.enc.env]
  - metadata:
      name: replaced
    behavior: replace
    envs: [db.enc.env]
  - metadata:
      name: hashed
    disableNameSuffixHash: false
    immutable: true
    envs: [db.enc.env]
";

/// A kustomization with `base` as resources and `generator` as the legacy exec generator,
/// built by the real `kubectl kustomize --enable-alpha-plugins`.
fn kustomize_build(work: &Work, base: &str, generator: &str) -> Output {
    let plugin_dir = work.path().join("xdg/kustomize/plugin/viaduct.ai/v1/ksops");
    if !plugin_dir.exists() {
        std::fs::create_dir_all(&plugin_dir).unwrap();
        std::os::unix::fs::symlink(rsops(), plugin_dir.join("ksops")).unwrap();
    }
    std::fs::write(work.path().join("base.yaml"), base).unwrap();
    std::fs::write(work.path().join("gen.yaml"), generator).unwrap();
    std::fs::write(
        work.path().join("kustomization.yaml"),
        "resources:\n  - base.yaml\ngenerators:\n  - gen.yaml\n",
    )
    .unwrap();
    output(
        work.command(kubectl())
            .args(["kustomize", "--enable-alpha-plugins", "."])
            .env("XDG_CONFIG_HOME", work.path().join("xdg")),
    )
}

fn by_name<'a>(doc: &'a rsops::tree::Document, name: &str) -> &'a Map {
    doc.branches
        .iter()
        .find(|m| text_at(m, &["metadata", "name"]) == Some(name))
        .unwrap_or_else(|| panic!("no resource named {name}"))
}

fn owned(pairs: &[(&str, &str)]) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<_> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.as_bytes().to_vec()))
        .collect();
    v.sort();
    v
}

#[test]
fn generator_files_behavior_name_hash_and_immutable_through_kubectl_kustomize() {
    let work = Work::new();
    work.encrypt(
        "db.enc.env",
        &format!("DB_PASSWORD={DB_PASSWORD}\n"),
        "dotenv",
    );
    // A whole manifest with only its data encrypted, as a .sops.yaml with
    // encrypted_regex: ^(data|stringData)$ writes it.
    let whole = WHOLE_SECRET.replace("TOKEN", API_TOKEN);
    let mut sops_cmd = work.command(sops());
    sops_cmd.args(["encrypt", "--encrypted-regex", "^(data|stringData)$"]);
    sops_cmd.args([
        "--age",
        &age_recipient(),
        "--filename-override",
        "whole.enc.yaml",
    ]);
    let enc = pipe_through(sops_cmd, whole.as_bytes());
    assert!(!String::from_utf8_lossy(&enc).contains(API_TOKEN));
    std::fs::write(work.path().join("whole.enc.yaml"), enc).unwrap();

    let out = kustomize_build(&work, BASE, OPTIONS_GENERATOR);
    assert_ok(&out, "kubectl kustomize");
    if let Err(report) = kubernetes_schema_check(&work, &out.stdout) {
        panic!("kustomize output is not valid: {report}");
    }
    let doc = parse_yaml(&out.stdout);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(doc.branches.len(), 4, "{text}");
    // files: the whole manifest, decrypted, without its sops metadata.
    let whole = by_name(&doc, "whole");
    assert_eq!(secret_values(whole), owned(&[("token", API_TOKEN)]));
    assert!(
        whole.get("sops").is_none() && !text.contains("ENC["),
        "{text}"
    );
    // behavior: merge keeps the base's keys; replace drops them.
    assert_eq!(
        secret_values(by_name(&doc, "merged")),
        owned(&[("DB_PASSWORD", DB_PASSWORD), ("base_key", "base")])
    );
    assert_eq!(
        secret_values(by_name(&doc, "replaced")),
        owned(&[("DB_PASSWORD", DB_PASSWORD)])
    );
    // disableNameSuffixHash: false → kustomize appends its 10-character content hash.
    let hashed = doc
        .branches
        .iter()
        .find(|m| text_at(m, &["metadata", "name"]).is_some_and(|n| n.starts_with("hashed-")))
        .unwrap_or_else(|| panic!("no hashed name: {text}"));
    let suffix = &text_at(hashed, &["metadata", "name"]).unwrap()["hashed-".len()..];
    assert!(
        suffix.len() == 10 && suffix.chars().all(|c| c.is_ascii_alphanumeric()),
        "{suffix}"
    );
    assert!(
        matches!(
            hashed.get("immutable"),
            Some(rsops::tree::Node::Scalar(rsops::tree::Scalar::Bool(true)))
        ),
        "{text}"
    );
    // The annotations that carry the options are kustomize's to consume, not to deploy.
    assert!(!text.contains("kustomize.config.k8s.io"), "{text}");

    // Merging into a Secret that the kustomization does not have fails the build, as kustomize
    // does for its own secretGenerator; a behavior kustomize does not know stops rsops.
    let out = kustomize_build(
        &work,
        &BASE.replace("name: merged", "name: other"),
        OPTIONS_GENERATOR,
    );
    assert!(!out.status.success() && out.stdout.is_empty());
    let bogus = OPTIONS_GENERATOR.replace("behavior: replace", "behavior: upsert");
    let out = kustomize_build(&work, BASE, &bogus);
    assert!(!out.status.success() && out.stdout.is_empty());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("behavior must be create, merge or replace")
    );
    work.assert_clean();
}

fn pipe_through(mut cmd: std::process::Command, input: &[u8]) -> Vec<u8> {
    use std::io::Write;
    use std::process::Stdio;
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_ok(&out, "sops encrypt");
    out.stdout
}
