//! `rsops k8s secret` and the kustomize generator (both as a legacy exec plugin run by the real
//! `kubectl kustomize --enable-alpha-plugins` and as a KRM function): what they write is checked
//! against the Kubernetes OpenAPI schema offline (`kubernetes-validate --strict`).

mod common;
use common::k8s as k8s_support;

use k8s_support::*;
use std::io::Write;
use std::process::{Command, Output, Stdio};

fn with_stdin(cmd: &mut Command, input: &[u8]) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    child.wait_with_output().unwrap()
}

/// Kubernetes version whose OpenAPI schema the manifests are checked against (the kubectl in
/// `.tools` is 1.35; kubernetes-validate 1.37.0 ships the schemas offline).
const KUBERNETES_VERSION: &str = "1.35.0";

/// Checks every document of `manifest` against the Kubernetes schema offline with
/// `kubernetes-validate --strict` (unknown fields rejected); `Err` carries its report.
fn schema_check(work: &Work, manifest: &[u8]) -> Result<(), String> {
    let out = with_stdin(
        work.command(kubernetes_validate()).args([
            "--strict",
            "--kubernetes-version",
            KUBERNETES_VERSION,
            "-",
        ]),
        manifest,
    );
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if !out.status.success() {
        return Err(report);
    }
    // One "passed" line per document, so a document it skipped cannot pass unnoticed.
    let documents = parse_yaml(manifest).branches.len();
    let passed = report.matches(" passed for resource ").count();
    if passed != documents {
        return Err(format!(
            "{passed} of {documents} documents validated: {report}"
        ));
    }
    Ok(())
}

/// `manifest` passes the schema check; returns its documents.
fn validated(work: &Work, manifest: &[u8]) -> rsops::tree::Document {
    if let Err(report) = schema_check(work, manifest) {
        panic!(
            "not a valid Kubernetes manifest: {report}\n{}",
            String::from_utf8_lossy(manifest)
        );
    }
    parse_yaml(manifest)
}

/// The schema check fails on broken Secrets: each is a valid generated one with one defect.
#[test]
fn schema_check_rejects_broken_secrets() {
    let work = Work::new();
    work.encrypt("app_secrets.yaml", &app_secrets_yaml(), "yaml");
    let out = output(
        work.command(rsops())
            .args(["k8s", "secret", "--name", "app", "--label", "team=web"])
            .arg("app_secrets.yaml"),
    );
    assert_ok(&out, "rsops k8s secret");
    let good = String::from_utf8(out.stdout).unwrap();
    validated(&work, good.as_bytes());
    let broken = [
        ("a misspelt field", good.replacen("data:", "dta:", 1)),
        ("no kind", good.replacen("kind: Secret\n", "", 1)),
        (
            "a number as a label",
            good.replacen("team: web", "team: 7", 1),
        ),
        (
            "a list as a data value",
            good.replacen("data:\n", "data:\n  extra: [1]\n", 1),
        ),
        (
            "a valid document, then a broken one",
            format!("{good}---\n{}", good.replacen("metadata:", "metdata:", 1)),
        ),
    ];
    for (what, manifest) in broken {
        assert_ne!(manifest, good, "{what}: the defect was not applied");
        assert!(
            schema_check(&work, manifest.as_bytes()).is_err(),
            "{what} passed the schema check:\n{manifest}"
        );
    }
}

fn pairs(items: &[(&str, &str)]) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<(String, Vec<u8>)> = items
        .iter()
        .map(|(k, v)| (k.to_string(), v.as_bytes().to_vec()))
        .collect();
    v.sort();
    v
}

#[test]
fn secret_from_top_level_values_is_a_valid_manifest() {
    let work = Work::new();
    work.encrypt("app_secrets.yaml", &app_secrets_yaml(), "yaml");
    work.encrypt("db.env", &format!("DB_PASSWORD={DB_PASSWORD}\n"), "dotenv");
    for extra in [&[][..], &["--string-data"][..]] {
        let out = output(
            work.command(rsops())
                .args(["k8s", "secret", "--name", "app", "--namespace", "prod"])
                .args([
                    "--label",
                    "team=web",
                    "--annotation",
                    "note=x",
                    "--immutable",
                ])
                .args(extra)
                .arg("app_secrets.yaml"),
        );
        assert_ok(&out, "rsops k8s secret");
        let doc = validated(&work, &out.stdout);
        let secret = &doc.branches[0];
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(
            text.contains("namespace: prod") && text.contains("immutable: true"),
            "{text}"
        );
        assert_eq!(
            secret_values(secret),
            pairs(&[("stripe_key", STRIPE_KEY), ("smtp_password", SMTP_PASSWORD)])
        );
    }
    // Several files: one Secret each, named after the file.
    let out = output(
        work.command(rsops())
            .args(["k8s", "secret", "app_secrets.yaml", "db.env"]),
    );
    assert_ok(&out, "rsops k8s secret (two files)");
    let doc = validated(&work, &out.stdout);
    assert_eq!(doc.branches.len(), 2);
    assert_eq!(
        secret_values(&doc.branches[1]),
        pairs(&[("DB_PASSWORD", DB_PASSWORD)])
    );
    work.assert_clean();
}

#[test]
fn whole_files_nested_values_and_typed_secrets() {
    let work = Work::new();
    work.encrypt("secrets.yaml", &secrets_yaml(), "yaml");
    work.encrypt("app_secrets.yaml", &app_secrets_yaml(), "yaml");
    work.encrypt(
        "tls.key",
        "-----BEGIN KEY-----\nk\n-----END KEY-----\n",
        "binary",
    );
    // Nested values: an error that names both ways out.
    let out = output(
        work.command(rsops())
            .args(["k8s", "secret", "secrets.yaml"]),
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--extract") && err.contains("--from-file"),
        "{err}"
    );
    assert!(!err.contains(DB_PASSWORD));
    // --extract picks the mapping; --from-file adds whole files; --merge makes one Secret.
    let out = output(
        work.command(rsops())
            .args([
                "k8s",
                "secret",
                "--merge",
                "--name",
                "all",
                "--extract",
                "[\"secret\"]",
            ])
            .args([
                "--from-file=app_secrets.yaml=app_secrets.yaml",
                "secrets.yaml",
            ]),
    );
    assert_ok(&out, "rsops k8s secret --merge");
    let doc = validated(&work, &out.stdout);
    assert_eq!(
        secret_values(&doc.branches[0]),
        pairs(&[
            ("apiToken", API_TOKEN),
            ("app_secrets.yaml", &app_secrets_yaml()),
            ("dbPassword", DB_PASSWORD),
        ])
    );
    // A TLS Secret needs tls.crt and tls.key.
    let out = output(work.command(rsops()).args([
        "k8s",
        "secret",
        "--type",
        "kubernetes.io/tls",
        "--from-file=tls.key=tls.key",
    ]));
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("tls.crt"));
    work.assert_clean();
}

const GENERATOR: &str = "apiVersion: viaduct.ai/v1
kind: ksops
metadata:
  name: gen
secretFrom:
  - metadata:
      name: app
      labels:
        team: web
    type: Opaque
    files:
      - app_secrets.yaml=app_secrets.yaml
    binaryFiles:
      - raw=app_secrets.yaml
    envs:
      - secrets.env
";

fn generator_fixtures(work: &Work) {
    work.encrypt("app_secrets.yaml", &app_secrets_yaml(), "yaml");
    work.encrypt(
        "secrets.env",
        &format!("DB_PASSWORD={DB_PASSWORD}\nAPI_TOKEN={API_TOKEN}\n"),
        "dotenv",
    );
}

fn expected_generated() -> Vec<(String, Vec<u8>)> {
    pairs(&[
        ("API_TOKEN", API_TOKEN),
        ("DB_PASSWORD", DB_PASSWORD),
        ("app_secrets.yaml", &app_secrets_yaml()),
        ("raw", &app_secrets_yaml()),
    ])
}

#[test]
fn legacy_exec_plugin_through_kubectl_kustomize() {
    let work = Work::new();
    generator_fixtures(&work);
    let plugin_dir = work.path().join("xdg/kustomize/plugin/viaduct.ai/v1/ksops");
    std::fs::create_dir_all(&plugin_dir).unwrap();
    std::os::unix::fs::symlink(rsops(), plugin_dir.join("ksops")).unwrap();
    std::fs::write(work.path().join("gen.yaml"), GENERATOR).unwrap();
    std::fs::write(
        work.path().join("kustomization.yaml"),
        "generators:\n  - gen.yaml\n",
    )
    .unwrap();
    let out = output(
        work.command(kubectl())
            .args(["kustomize", "--enable-alpha-plugins", "."])
            .env("XDG_CONFIG_HOME", work.path().join("xdg")),
    );
    assert_ok(&out, "kubectl kustomize");
    let doc = validated(&work, &out.stdout);
    assert_eq!(doc.branches.len(), 1);
    assert_eq!(secret_values(&doc.branches[0]), expected_generated());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("team: web") && text.contains("name: app"),
        "{text}"
    );
    // The same Secret as `rsops k8s secret` makes from the same files.
    let ours = output(
        work.command(rsops())
            .args(["k8s", "secret", "--merge", "--name", "app"])
            .args([
                "--from-file=app_secrets.yaml=app_secrets.yaml",
                "--from-file=raw=app_secrets.yaml",
            ])
            .arg("secrets.env"),
    );
    assert_ok(&ours, "rsops k8s secret");
    assert_eq!(
        secret_values(&parse_yaml(&ours.stdout).branches[0]),
        expected_generated()
    );
    work.assert_clean();
}

#[test]
fn krm_function_with_a_resource_list_on_stdin() {
    let work = Work::new();
    generator_fixtures(&work);
    let config: String = GENERATOR.lines().map(|l| format!("  {l}\n")).collect();
    let list = format!(
        "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n  - apiVersion: v1\n    kind: ConfigMap\n    metadata:\n      name: keep-me\nfunctionConfig:\n{config}"
    );
    let out = with_stdin(work.command(rsops()).arg("kustomize"), list.as_bytes());
    assert_ok(&out, "rsops kustomize (KRM)");
    let doc = parse_yaml(&out.stdout);
    let root = &doc.branches[0];
    assert_eq!(
        root.get("kind").and_then(|k| k.as_str()),
        Some("ResourceList")
    );
    let Some(rsops::tree::Node::List(items)) = root.get("items") else {
        panic!("no items");
    };
    let maps: Vec<&rsops::tree::Map> = items
        .iter()
        .filter_map(|i| match i {
            rsops::tree::ListItem::Value(rsops::tree::Node::Map(m)) => Some(m),
            _ => None,
        })
        .collect();
    assert_eq!(maps.len(), 2);
    assert_eq!(
        maps[0].get("kind").and_then(|k| k.as_str()),
        Some("ConfigMap")
    );
    assert_eq!(secret_values(maps[1]), expected_generated());
    let generated = rsops::stores::store_for(rsops::stores::Format::Yaml, Default::default())
        .emit_value(&rsops::tree::Node::Map(maps[1].clone()))
        .unwrap();
    validated(&work, &generated);
    // A tampered source fails the whole function (the MAC is always verified).
    let good = std::fs::read_to_string(work.path().join("app_secrets.yaml")).unwrap();
    std::fs::write(
        work.path().join("app_secrets.yaml"),
        good.replacen("stripe_key:", "extra_unencrypted: 1\nstripe_key:", 1),
    )
    .unwrap();
    let out = with_stdin(work.command(rsops()).arg("kustomize"), list.as_bytes());
    assert_eq!(out.status.code(), Some(51));
    assert!(out.stdout.is_empty());
    work.assert_clean();
}

// KSOPS parity: the legacy cases of viaduct-ai/kustomize-sops v4.5.1 (test/legacy/*: each a
// kustomization, a generator config and the `want.yaml` that `kustomize build` prints with KSOPS),
// run through the real `kubectl kustomize --enable-alpha-plugins` with rsops installed as the
// ksops plugin. The inputs are KSOPS's plaintexts, encrypted here by the real sops for age (KSOPS's
// own fixtures are encrypted for its PGP test key); the outputs must equal KSOPS's byte for byte.

const KSOPS_PASSWORD: &str = "1f2d1e2e67df";
/// base64 of the password, as it sits in the manifests' `data` (it must not reach the disk either).
const KSOPS_PASSWORD_B64: &str = "MWYyZDFlMmU2N2Rm";
const KSOPS_CREDENTIALS: &str = "username: admin\npassword: 1f2d1e2e67df\n";
const KSOPS_ENV: &str = "password=1f2d1e2e67df\nusername=admin\n";
/// KSOPS's manifests keep metadata readable (`--unencrypted-regex`), so kustomize's annotations
/// on them work.
const KSOPS_UNENCRYPTED: [&str; 2] = ["--unencrypted-regex", "^(apiVersion|metadata|kind|type)$"];

fn ksops_manifest(name: &str, annotation: Option<&str>) -> String {
    let annotations = annotation
        .map(|a| format!("    annotations:\n        {a}\n"))
        .unwrap_or_default();
    format!(
        "apiVersion: v1\ndata:\n    password: {KSOPS_PASSWORD_B64}\n    username: YWRtaW4=\nkind: Secret\nmetadata:\n    name: {name}\n{annotations}stringData:\n    application: kustomize-sops\ntype: Opaque\n"
    )
}

fn ksops_secret_doc(name: &str) -> String {
    format!(
        "apiVersion: v1\ndata:\n  password: {KSOPS_PASSWORD_B64}\n  username: YWRtaW4=\nkind: Secret\nmetadata:\n  name: {name}\nstringData:\n  application: kustomize-sops\ntype: Opaque\n"
    )
}

/// What one KSOPS case encrypts: (file name, plaintext, sops input type, manifest?).
type Inputs = Vec<(&'static str, String, &'static str, bool)>;

struct KsopsCase {
    name: &'static str,
    inputs: Inputs,
    generator: &'static str,
    want: String,
}

fn ksops_cases() -> Vec<KsopsCase> {
    let credentials = || {
        (
            "secret.enc.yaml",
            KSOPS_CREDENTIALS.to_string(),
            "yaml",
            false,
        )
    };
    let env = || ("secret.enc.env", KSOPS_ENV.to_string(), "dotenv", false);
    let file_want = |key: &str| {
        format!("apiVersion: v1\nkind: Secret\nmetadata:\n  name: mysecret\nstringData:\n  {key}: |\n    username: admin\n    password: 1f2d1e2e67df\ntype: Opaque\n")
    };
    let binary_want = "apiVersion: v1\ndata:\n  secret.enc.yaml: dXNlcm5hbWU6IGFkbWluCnBhc3N3b3JkOiAxZjJkMWUyZTY3ZGYK\nkind: Secret\nmetadata:\n  name: mysecret\ntype: Opaque\n";
    vec![
        KsopsCase {
            name: "single",
            inputs: vec![("secret.enc.yaml", ksops_manifest("mysecret", None), "yaml", true)],
            generator: "apiVersion: viaduct.ai/v1\nkind: ksops\nmetadata:\n  name: ksops-single-file-generator\nfiles:\n  - ./secret.enc.yaml\n",
            want: ksops_secret_doc("mysecret"),
        },
        KsopsCase {
            name: "hash",
            inputs: vec![(
                "secret.enc.yaml",
                ksops_manifest("mysecret-hash", Some("kustomize.config.k8s.io/needs-hash: \"true\"")),
                "yaml",
                true,
            )],
            generator: "apiVersion: viaduct.ai/v1\nkind: ksops\nmetadata:\n  name: ksops-hashed-file-generator\nfiles:\n  - ./secret.enc.yaml\n",
            want: ksops_secret_doc("mysecret-hash-h55dbmfg7b"),
        },
        KsopsCase {
            name: "behaviors",
            inputs: vec![(
                "secret.enc.yaml",
                ksops_manifest("my-base-secret", Some("kustomize.config.k8s.io/behavior: replace")),
                "yaml",
                true,
            )],
            generator: "apiVersion: viaduct.ai/v1\nkind: ksops\nmetadata:\n  name: ksops-behavior-replace-file-generator\nfiles:\n  - ./secret.enc.yaml\n",
            want: ksops_secret_doc("my-base-secret"),
        },
        KsopsCase {
            name: "file",
            inputs: vec![credentials()],
            generator: "apiVersion: viaduct.ai/v1\nkind: ksops\nmetadata:\n  name: ksops-secret-from-generator\nsecretFrom:\n- metadata:\n    name: mysecret\n  type: Opaque\n  files:\n  - ./secret.enc.yaml\n",
            want: file_want("secret.enc.yaml"),
        },
        KsopsCase {
            name: "override",
            inputs: vec![credentials()],
            generator: "apiVersion: viaduct.ai/v1\nkind: ksops\nmetadata:\n  name: ksops-secret-from-generator\nsecretFrom:\n- metadata:\n    name: mysecret\n  type: Opaque\n  files:\n  - secret.yaml=secret.enc.yaml\n",
            want: file_want("secret.yaml"),
        },
        KsopsCase {
            name: "binaryfile",
            inputs: vec![credentials()],
            generator: "apiVersion: viaduct.ai/v1\nkind: ksops\nmetadata:\n  name: ksops-secret-from-generator\nsecretFrom:\n- metadata:\n    name: mysecret\n  type: Opaque\n  binaryFiles:\n  - ./secret.enc.yaml\n",
            want: binary_want.to_string(),
        },
        KsopsCase {
            name: "envs",
            inputs: vec![env()],
            generator: "apiVersion: viaduct.ai/v1\nkind: ksops\nmetadata:\n  name: ksops-secret-from-generator\nsecretFrom:\n- metadata:\n    name: mysecret\n  envs:\n  - ./secret.enc.env\n",
            want: "apiVersion: v1\nkind: Secret\nmetadata:\n  name: mysecret\nstringData:\n  password: 1f2d1e2e67df\n  username: admin\n".to_string(),
        },
        KsopsCase {
            name: "metadata",
            inputs: vec![env()],
            generator: "apiVersion: viaduct.ai/v1\nkind: ksops\nmetadata:\n  name: ksops-secret-from-generator\nsecretFrom:\n- metadata:\n    name: mysecret\n    namespace: test\n    labels:\n      foo: bar\n    annotations:\n      abc: xyz\n  envs:\n  - ./secret.enc.env\n",
            want: "apiVersion: v1\nkind: Secret\nmetadata:\n  annotations:\n    abc: xyz\n  labels:\n    foo: bar\n  name: mysecret\n  namespace: test\nstringData:\n  password: 1f2d1e2e67df\n  username: admin\n".to_string(),
        },
        KsopsCase {
            name: "multiple",
            inputs: vec![
                ("secret-A.enc.yaml", ksops_manifest("mysecret-A", None), "yaml", true),
                ("secret-B.enc.yaml", ksops_manifest("mysecret-B", None), "yaml", true),
                ("secret-C.enc.yaml", ksops_manifest("mysecret-C", None), "yaml", true),
                credentials(),
            ],
            generator: "apiVersion: viaduct.ai/v1\nkind: ksops\nmetadata:\n  name: ksops-multiple-generator\nfiles:\n  - ./secret-A.enc.yaml\n  - ./secret-B.enc.yaml\n  - ./secret-C.enc.yaml\nsecretFrom:\n  - metadata:\n      name: mysecret\n    type: Opaque\n    binaryFiles:\n      - ./secret.enc.yaml\n",
            want: format!(
                "{binary_want}---\n{}---\n{}---\n{}",
                ksops_secret_doc("mysecret-A"),
                ksops_secret_doc("mysecret-B"),
                ksops_secret_doc("mysecret-C")
            ),
        },
    ]
}

/// rsops as kustomize's legacy exec plugin for `viaduct.ai/v1 ksops` under `work`'s XDG dir.
fn install_ksops_plugin(work: &Work) {
    let plugin_dir = work.path().join("xdg/kustomize/plugin/viaduct.ai/v1/ksops");
    std::fs::create_dir_all(&plugin_dir).unwrap();
    std::os::unix::fs::symlink(rsops(), plugin_dir.join("ksops")).unwrap();
}

fn kubectl_kustomize(work: &Work, dir: &str) -> Output {
    output(
        work.command(kubectl())
            .args(["kustomize", "--enable-alpha-plugins", dir])
            .env("XDG_CONFIG_HOME", work.path().join("xdg")),
    )
}

#[test]
fn ksops_legacy_examples_give_ksops_output_through_kubectl() {
    let work = Work::new();
    install_ksops_plugin(&work);
    let mut failures = Vec::new();
    for case in ksops_cases() {
        let dir = work.path().join(case.name);
        std::fs::create_dir_all(&dir).unwrap();
        for (file, plaintext, input_type, manifest) in &case.inputs {
            let flags: &[&str] = if *manifest { &KSOPS_UNENCRYPTED } else { &[] };
            let name = format!("{}/{file}", case.name);
            work.encrypt_with(&name, plaintext, input_type, flags);
        }
        std::fs::write(dir.join("generate-resources.yaml"), case.generator).unwrap();
        let mut kustomization = String::from("generators:\n  - ./generate-resources.yaml\n");
        if case.name == "behaviors" {
            // The base Secret that the generated one replaces (KSOPS's test/legacy/behaviors/base).
            std::fs::create_dir_all(dir.join("base")).unwrap();
            std::fs::write(
                dir.join("base/kustomization.yaml"),
                "resources:\n  - ./secret.yaml\n",
            )
            .unwrap();
            std::fs::write(
                dir.join("base/secret.yaml"),
                "apiVersion: v1\nkind: Secret\nmetadata:\n  name: my-base-secret\nstringData:\n  application: kustomize-sops\ntype: Opaque\n",
            )
            .unwrap();
            kustomization = format!("resources:\n  - ./base\n\n{kustomization}");
        }
        std::fs::write(dir.join("kustomization.yaml"), kustomization).unwrap();
        let out = kubectl_kustomize(&work, case.name);
        if !out.status.success() {
            failures.push(format!(
                "{}: kubectl kustomize failed: {}",
                case.name,
                String::from_utf8_lossy(&out.stderr)
            ));
            continue;
        }
        let got = String::from_utf8_lossy(&out.stdout).to_string();
        if got != case.want {
            failures.push(format!(
                "{}: differs from KSOPS's want.yaml\n--- got\n{got}--- want\n{}",
                case.name, case.want
            ));
            continue;
        }
        if let Err(report) = schema_check(&work, &out.stdout) {
            failures.push(format!("{}: schema: {report}", case.name));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    work.assert_clean_of(&[KSOPS_PASSWORD, KSOPS_PASSWORD_B64]);
}

/// rsops's extensions through the real kubectl: `behavior: merge` onto a base Secret,
/// `disableNameSuffixHash: false` (kustomize hashes the name and rewrites the reference in a
/// Deployment), and `configMapFrom` mixing an encrypted file, a plain file and an encrypted env.
#[test]
fn merge_hash_and_config_maps_through_kubectl() {
    let work = Work::new();
    install_ksops_plugin(&work);
    work.encrypt("app_secrets.yaml", &app_secrets_yaml(), "yaml");
    work.encrypt("db.env", &format!("DB_PASSWORD={DB_PASSWORD}\n"), "dotenv");
    std::fs::write(work.path().join("settings.ini"), "[log]\nlevel = info\n").unwrap();
    std::fs::create_dir_all(work.path().join("base")).unwrap();
    std::fs::write(
        work.path().join("base/kustomization.yaml"),
        "resources:\n  - secret.yaml\n  - deployment.yaml\n",
    )
    .unwrap();
    std::fs::write(
        work.path().join("base/secret.yaml"),
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: app\ndata:\n  from-base: a2VwdA==\n",
    )
    .unwrap();
    std::fs::write(
        work.path().join("base/deployment.yaml"),
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  selector:\n    matchLabels:\n      app: web\n  template:\n    metadata:\n      labels:\n        app: web\n    spec:\n      containers:\n        - name: web\n          image: nginx\n          envFrom:\n            - secretRef:\n                name: app\n            - configMapRef:\n                name: settings\n",
    )
    .unwrap();
    std::fs::write(
        work.path().join("gen.yaml"),
        "apiVersion: viaduct.ai/v1\nkind: ksops\nmetadata:\n  name: gen\nsecretFrom:\n  - metadata:\n      name: app\n    behavior: merge\n    envs:\n      - db.env\nconfigMapFrom:\n  - metadata:\n      name: settings\n    disableNameSuffixHash: false\n    files:\n      - app.yaml=app_secrets.yaml\n      - settings.ini\n    envs:\n      - db.env\n",
    )
    .unwrap();
    std::fs::write(
        work.path().join("kustomization.yaml"),
        "resources:\n  - base\ngenerators:\n  - gen.yaml\n",
    )
    .unwrap();
    let out = kubectl_kustomize(&work, ".");
    assert_ok(&out, "kubectl kustomize");
    let doc = validated(&work, &out.stdout);
    let find = |kind: &str| {
        doc.branches
            .iter()
            .find(|m| m.get("kind").and_then(|k| k.as_str()) == Some(kind))
            .unwrap_or_else(|| panic!("no {kind}"))
    };
    let name = |m: &rsops::tree::Map| {
        m.get("metadata")
            .and_then(|n| n.as_map())
            .and_then(|m| m.get("name"))
            .and_then(|n| n.as_str())
            .unwrap()
            .to_string()
    };
    let secret = find("Secret");
    assert_eq!(name(secret), "app", "merged into the base Secret");
    assert_eq!(
        secret_values(secret),
        pairs(&[("DB_PASSWORD", DB_PASSWORD), ("from-base", "kept")])
    );
    let config_map = find("ConfigMap");
    let hashed = name(config_map);
    assert!(
        hashed.starts_with("settings-") && hashed.len() == "settings-".len() + 10,
        "{hashed}"
    );
    let data = config_map.get("data").and_then(|n| n.as_map()).unwrap();
    let text = |k: &str| data.get(k).and_then(|n| n.as_str()).map(str::to_string);
    assert_eq!(text("app.yaml"), Some(app_secrets_yaml()));
    assert_eq!(
        text("settings.ini").as_deref(),
        Some("[log]\nlevel = info\n")
    );
    assert_eq!(text("DB_PASSWORD").as_deref(), Some(DB_PASSWORD));
    let manifests = String::from_utf8_lossy(&out.stdout);
    assert!(
        manifests.contains(&format!("name: {hashed}")) && !manifests.contains("kustomize.config"),
        "the Deployment refers to the hashed ConfigMap and kustomize consumed its annotations:\n{manifests}"
    );
    work.assert_clean();
}

/// Many files in one generator: decrypted side by side within KSOPS's bound, the keys in the
/// config's order; a bad bound and a tampered file are errors that name their cause.
#[test]
fn many_files_are_decrypted_together_and_one_bad_file_fails_the_run() {
    let work = Work::new();
    let count = 12;
    let mut envs = String::new();
    for i in 0..count {
        work.encrypt(
            &format!("part{i:02}.env"),
            &format!("KEY_{i:02}={DB_PASSWORD}-{i}\n"),
            "dotenv",
        );
        envs.push_str(&format!("      - part{i:02}.env\n"));
    }
    std::fs::write(
        work.path().join("gen.yaml"),
        format!("apiVersion: viaduct.ai/v1\nkind: ksops\nmetadata:\n  name: gen\nsecretFrom:\n  - metadata:\n      name: many\n    envs:\n{envs}"),
    )
    .unwrap();
    let out = output(
        work.command(rsops())
            .args(["kustomize", "gen.yaml"])
            .env("KSOPS_CONCURRENCY_LIMIT", "4"),
    );
    assert_ok(&out, "rsops kustomize with 12 files");
    let doc = validated(&work, &out.stdout);
    let keys: Vec<String> = secret_values(&doc.branches[0])
        .into_iter()
        .map(|(k, v)| {
            let i: usize = k["KEY_".len()..].parse().unwrap();
            assert_eq!(v, format!("{DB_PASSWORD}-{i}").into_bytes());
            k
        })
        .collect();
    assert_eq!(keys.len(), count);
    let text = String::from_utf8_lossy(&out.stdout);
    let positions: Vec<usize> = (0..count)
        .map(|i| text.find(&format!("KEY_{i:02}:")).unwrap())
        .collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{text}");

    let bad = output(
        work.command(rsops())
            .args(["kustomize", "gen.yaml"])
            .env("KSOPS_CONCURRENCY_LIMIT", "0"),
    );
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("KSOPS_CONCURRENCY_LIMIT"));

    let victim = work.path().join("part07.env");
    let good = std::fs::read_to_string(&victim).unwrap();
    std::fs::write(&victim, good.replacen("KEY_07=", "KEY_07X=", 1)).unwrap();
    let tampered = output(work.command(rsops()).args(["kustomize", "gen.yaml"]));
    assert_ne!(tampered.status.code(), Some(0));
    assert!(tampered.stdout.is_empty());
    let err = String::from_utf8_lossy(&tampered.stderr);
    assert!(
        err.contains("part07.env") && !err.contains(DB_PASSWORD),
        "{err}"
    );
    work.assert_clean();
}
