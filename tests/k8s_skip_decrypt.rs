//! `rsops helm template|lint --skip-decrypt` and `HELM_SECRETS_SKIP_DECRYPT=true` (helm-secrets
//! #678) with the real helm 4 and helm 3, and no key anywhere in the environment: the chart
//! renders with a placeholder of the right type for every encrypted value, the structure and
//! the file's plain values kept, and no real value printed.

mod common;
use common::k8s as k8s_support;

use k8s_support::*;
use std::path::{Path, PathBuf};
use std::process::Command;

const PASSWORD: &str = "pa55-never-printed";
const TOKEN: &str = "tok-never-printed";

/// Encrypted values of every type, one plain value (`_unencrypted`), a list and a nested map.
fn values() -> String {
    format!(
        "replicas: 3\ndebug: true\nratio: 1.5\ndb:\n  password: {PASSWORD}\n  host_unencrypted: db.internal\ntokens:\n  - {TOKEN}\n  - second-{TOKEN}\n"
    )
}

/// The templates refuse a value of the wrong type, so a string placeholder where a number or a
/// boolean belongs would fail the render.
const TEMPLATE: &str = r#"{{- if not (kindIs "float64" .Values.replicas) }}{{ fail "replicas must be a number" }}{{ end }}
{{- if not (kindIs "bool" .Values.debug) }}{{ fail "debug must be a boolean" }}{{ end }}
{{- if not (kindIs "float64" .Values.ratio) }}{{ fail "ratio must be a number" }}{{ end }}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}
spec:
  replicas: {{ .Values.replicas | int }}
  selector:
    matchLabels:
      app: {{ .Release.Name }}
  template:
    metadata:
      labels:
        app: {{ .Release.Name }}
        debug: {{ .Values.debug | quote }}
    spec:
      containers:
        - name: app
          image: nginx:1.27
          env:
            - name: DB_HOST
              value: {{ .Values.db.host_unencrypted | quote }}
            - name: TOKENS
              value: {{ len .Values.tokens | quote }}
---
apiVersion: v1
kind: Secret
metadata:
  name: {{ .Release.Name }}-db
type: Opaque
stringData:
  password: {{ .Values.db.password | quote }}
  firstToken: {{ index .Values.tokens 0 | quote }}
"#;

fn chart(work: &Work) -> PathBuf {
    let dir = work.path().join("chart");
    std::fs::create_dir_all(dir.join("templates")).unwrap();
    std::fs::write(
        dir.join("Chart.yaml"),
        "apiVersion: v2\nname: demo\nversion: 0.1.0\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("values.yaml"),
        "replicas: 1\ndebug: false\nratio: 1.0\ndb:\n  password: \"\"\n  host_unencrypted: \"\"\ntokens: []\n",
    )
    .unwrap();
    std::fs::write(dir.join("templates/app.yaml"), TEMPLATE).unwrap();
    dir
}

/// A command with no key of any kind: no age key file, an empty HOME, no GNUPGHOME keys.
fn keyless(work: &Work, program: impl AsRef<std::ffi::OsStr>) -> Command {
    let mut cmd = work.command(program);
    cmd.env_remove("SOPS_AGE_KEY_FILE")
        .env_remove("SOPS_AGE_KEY")
        .env_remove("SOPS_AGE_KEY_CMD")
        .env("GNUPGHOME", work.path().join("no-gnupg"))
        .env_remove("HELM_SECRETS_SKIP_DECRYPT");
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy().into_owned();
        if ["AWS_", "VAULT_", "GOOGLE_", "AZURE_"]
            .iter()
            .any(|p| name.starts_with(p))
        {
            cmd.env_remove(name);
        }
    }
    cmd
}

fn check_placeholders(out: &std::process::Output, what: &str) {
    assert_ok(out, what);
    let text = stdout(out);
    let all = format!("{text}{}", String::from_utf8_lossy(&out.stderr));
    for secret in [PASSWORD, TOKEN] {
        assert!(!all.contains(secret), "{what} printed a real value:\n{all}");
    }
    for expected in [
        "replicas: 0",
        "debug: \"false\"",
        "value: \"db.internal\"",
        "value: \"2\"",
        "password: \"REDACTED\"",
        "firstToken: \"REDACTED\"",
    ] {
        assert!(
            text.contains(expected),
            "{what}: no `{expected}` in:\n{text}"
        );
    }
}

fn rsops_helm(work: &Work, helm: &Path) -> Command {
    let mut cmd = keyless(work, rsops());
    cmd.env("HELM_BIN", helm).arg("helm");
    cmd
}

fn renders_without_keys(helm: &Path) {
    let work = Work::new();
    let chart = chart(&work);
    work.encrypt("secrets.yaml", &values(), "yaml");

    // Without the flag and without keys, the file cannot be opened: the keys really are absent.
    let refused = output(
        rsops_helm(&work, helm)
            .args(["template", "rel"])
            .arg(&chart)
            .args(["-f", "secrets.yaml"]),
    );
    assert_eq!(refused.status.code(), Some(128), "{}", stdout(&refused));

    let out = output(
        rsops_helm(&work, helm)
            .args(["template", "rel"])
            .arg(&chart)
            .args(["--skip-decrypt", "-f", "secrets.yaml"]),
    );
    check_placeholders(&out, "rsops helm template --skip-decrypt");

    let out = output(
        rsops_helm(&work, helm)
            .env("HELM_SECRETS_SKIP_DECRYPT", "true")
            .args(["template", "rel"])
            .arg(&chart)
            .args(["-f", "secrets.yaml"]),
    );
    check_placeholders(&out, "HELM_SECRETS_SKIP_DECRYPT=true rsops helm template");

    let lint = output(
        rsops_helm(&work, helm)
            .args(["lint", "--skip-decrypt"])
            .arg(&chart)
            .args(["-f", "secrets.yaml"]),
    );
    assert_ok(&lint, "rsops helm lint --skip-decrypt");

    // Placeholders never reach a cluster.
    let install = output(
        rsops_helm(&work, helm)
            .args(["upgrade", "--install", "--skip-decrypt", "rel"])
            .arg(&chart)
            .args(["-f", "secrets.yaml"]),
    );
    assert_eq!(install.status.code(), Some(8), "{}", stdout(&install));
    work.assert_clean();
}

#[test]
fn helm4_renders_placeholders_without_keys() {
    renders_without_keys(&helm());
}

#[test]
fn helm3_renders_placeholders_without_keys() {
    renders_without_keys(&helm3());
}

/// The helm 4 plugins (cli/v1 and the secrets:// getter) with `HELM_SECRETS_SKIP_DECRYPT=true`.
#[test]
fn helm4_plugins_honour_the_environment_variable() {
    let work = Work::new();
    let chart = chart(&work);
    work.encrypt("secrets.yaml", &values(), "yaml");
    for plugin in ["secrets", "secrets-getter"] {
        let out = output(
            work.command(helm())
                .args(["plugin", "install"])
                .arg(repo().join("helm-plugin").join(plugin)),
        );
        assert_ok(&out, &format!("helm plugin install {plugin}"));
    }
    let wrapper = output(
        keyless(&work, helm())
            .env("HELM_SECRETS_SKIP_DECRYPT", "true")
            .args(["secrets", "template", "rel"])
            .arg(&chart)
            .args(["-f", "secrets.yaml"]),
    );
    check_placeholders(&wrapper, "helm secrets template");
    let getter = output(
        keyless(&work, helm())
            .env("HELM_SECRETS_SKIP_DECRYPT", "true")
            .args(["template", "rel"])
            .arg(&chart)
            .args(["-f", "secrets://secrets.yaml"]),
    );
    check_placeholders(&getter, "helm template -f secrets://");
    work.assert_clean();
}
