//! `rsops helm` and the helm plugins against the real helm v4 and v3: decrypted values reach the
//! templates, and no plaintext is left under the work dir or $TMPDIR after success, helm failure,
//! signals to the wrapper, or helm being killed. Tampered files stop helm from ever running.

mod common;
use common::k8s as k8s_support;

use k8s_support::*;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const MODES: [&str; 2] = ["pipe", "tempdir"];

fn chart() -> PathBuf {
    repo().join("testdata/k8s/chart")
}

fn staging() -> PathBuf {
    repo().join("testdata/k8s/values-staging.yaml")
}

fn fixtures(work: &Work) {
    work.encrypt("secrets.yaml", &secrets_yaml(), "yaml");
    work.encrypt("app_secrets.yaml", &app_secrets_yaml(), "yaml");
}

fn wrapper(work: &Work, mode: &str, helm: &Path) -> Command {
    let mut cmd = work.command(rsops());
    cmd.env("HELM_BIN", helm)
        .env("RSOPS_HELM_VALUES", mode)
        .arg("helm");
    cmd
}

/// The rendered Secret's decoded values and the Deployment's env label.
fn check_render(stdout: &[u8], with_app_file: bool) {
    let doc = parse_yaml(stdout);
    let secret = doc
        .branches
        .iter()
        .find(|m| m.get("kind").and_then(|k| k.as_str()) == Some("Secret"))
        .expect("a Secret in the output");
    let values = secret_values(secret);
    let get = |k: &str| {
        values
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| String::from_utf8(v.clone()).unwrap())
    };
    assert_eq!(get("DB_PASSWORD").as_deref(), Some(DB_PASSWORD));
    assert_eq!(get("API_TOKEN").as_deref(), Some(API_TOKEN));
    assert_eq!(get("config.txt").as_deref(), Some("log_level: info\n"));
    if with_app_file {
        // sops decrypt prints this flat mapping exactly as it was written.
        assert_eq!(get("app_secrets.yaml"), Some(app_secrets_yaml()));
    }
    let text = String::from_utf8_lossy(stdout);
    assert!(
        text.contains("env: \"staging\"") && text.contains("replicas: 2"),
        "{text}"
    );
}

#[test]
fn wrapper_renders_decrypted_values_and_leaves_nothing() {
    for mode in MODES {
        let work = Work::new();
        fixtures(&work);
        let out = output(
            wrapper(&work, mode, &helm())
                .args(["template", "rel"])
                .arg(chart())
                .arg("-f")
                .arg(staging())
                .args([
                    "-f",
                    "secrets.yaml",
                    "--set-file",
                    "appSecretsFile=app_secrets.yaml",
                ]),
        );
        assert_ok(&out, &format!("rsops helm template ({mode})"));
        check_render(&out.stdout, true);
        work.assert_clean();
    }
}

#[test]
fn comma_lists_and_equals_forms_are_decrypted() {
    let work = Work::new();
    fixtures(&work);
    let values = format!("--values={},secrets.yaml", staging().display());
    let out = output(
        wrapper(&work, "memfd", &helm())
            .args(["template", "rel"])
            .arg(chart())
            .args([
                values.as_str(),
                "--set-file=appSecretsFile=app_secrets.yaml",
            ]),
    );
    assert_ok(&out, "rsops helm template");
    check_render(&out.stdout, true);
}

/// helm-secrets's `?path`: a missing optional values file is left out, an existing one is used
/// (decrypted); without the `?` a missing file is helm's error, as before.
#[test]
fn optional_values_files_with_a_question_mark() {
    let work = Work::new();
    fixtures(&work);
    let out = output(
        wrapper(&work, "memfd", &helm())
            .args(["template", "rel"])
            .arg(chart())
            .arg("-f")
            .arg(format!("?{}", staging().display()))
            .args([
                "-f",
                "?secrets.yaml,?missing-secrets.yaml",
                "-f",
                "?also-missing.yaml",
                "--set-file",
                "appSecretsFile=app_secrets.yaml",
            ]),
    );
    assert_ok(&out, "rsops helm template with ?files");
    check_render(&out.stdout, true);
    work.assert_clean();
    let missing = output(
        wrapper(&work, "memfd", &helm())
            .args(["template", "rel"])
            .arg(chart())
            .args(["-f", "missing-secrets.yaml"]),
    );
    assert_ne!(
        missing.status.code(),
        Some(0),
        "a missing file without `?` is an error"
    );
}

/// `HELM_SECRETS_IGNORE_MISSING_VALUES=true`: every missing values file (no `?` needed, alone or
/// in a comma list) is left out and the others still reach the templates, decrypted, in order;
/// with helm 4 and helm 3.
#[test]
fn ignore_missing_values_renders_the_files_that_exist() {
    let work = Work::new();
    fixtures(&work);
    for helm in [helm(), helm3()] {
        let args = |cmd: &mut Command| {
            cmd.args(["template", "rel"])
                .arg(chart())
                .args(["-f", "missing-values.yaml", "-f"])
                .arg(staging())
                .args([
                    "-f",
                    "secrets.yaml,missing-secrets.yaml",
                    "--values=also-missing.yaml",
                    "--set-file",
                    "appSecretsFile=app_secrets.yaml",
                ]);
        };
        let mut strict = wrapper(&work, "memfd", &helm);
        args(&mut strict);
        let strict = output(&mut strict);
        assert!(
            !strict.status.success() && strict.stdout.is_empty(),
            "without the variable a missing file must stop helm ({})",
            helm.display()
        );
        let mut ignoring = wrapper(&work, "memfd", &helm);
        ignoring.env("HELM_SECRETS_IGNORE_MISSING_VALUES", "true");
        args(&mut ignoring);
        let out = output(&mut ignoring);
        assert_ok(
            &out,
            &format!(
                "HELM_SECRETS_IGNORE_MISSING_VALUES=true ({})",
                helm.display()
            ),
        );
        check_render(&out.stdout, true);
    }
    work.assert_clean();
}

#[test]
fn plain_values_pass_through_untouched() {
    let work = Work::new();
    let out = output(
        wrapper(&work, "memfd", &helm())
            .args(["template", "rel"])
            .arg(chart())
            .arg("-f")
            .arg(staging())
            .args(["--debug"]),
    );
    assert_ok(&out, "rsops helm template");
    assert!(stdout(&out).contains("env: \"staging\""));
}

#[test]
fn helm_failure_passes_its_exit_code_and_leaves_nothing() {
    for mode in MODES {
        let work = Work::new();
        fixtures(&work);
        let direct = output(
            work.command(helm())
                .args(["template", "rel", "no-such-chart"]),
        );
        let out = output(wrapper(&work, mode, &helm()).args([
            "template",
            "rel",
            "no-such-chart",
            "-f",
            "secrets.yaml",
        ]));
        assert!(!direct.status.success());
        assert_eq!(out.status.code(), direct.status.code(), "{mode}");
        assert_eq!(
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&direct.stderr)
        );
        work.assert_clean();
    }
}

#[test]
fn parallel_runs_on_the_same_files_do_not_collide() {
    for mode in MODES {
        let work = Work::new();
        fixtures(&work);
        let children: Vec<Child> = (0..6)
            .map(|_| {
                wrapper(&work, mode, &helm())
                    .args(["template", "rel"])
                    .arg(chart())
                    .arg("-f")
                    .arg(staging())
                    .args([
                        "-f",
                        "secrets.yaml",
                        "--set-file",
                        "appSecretsFile=app_secrets.yaml",
                    ])
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for child in children {
            let out = child.wait_with_output().unwrap();
            assert_ok(&out, "parallel rsops helm");
            check_render(&out.stdout, true);
        }
        work.assert_clean();
    }
}

/// A stand-in for helm that proves it could read the decrypted values, records its pid, and
/// waits to be signalled. It lives outside the work dir; it only records whether it saw the
/// secret, never the secret itself.
struct FakeHelm {
    dir: tempfile::TempDir,
}

impl FakeHelm {
    fn new() -> FakeHelm {
        let dir = tempfile::tempdir().unwrap();
        let script = format!(
            "#!/bin/sh\nfor a in \"$@\"; do\n  case \"$a\" in\n    /dev/fd/*|*rsops-helm-*) grep -q '{}' \"$a\" && : > '{dir}/seen' ;;\n  esac\ndone\n: > '{dir}/ran'\necho $$ > '{dir}/pid.tmp' && mv '{dir}/pid.tmp' '{dir}/pid'\nexec sleep 60\n",
            &DB_PASSWORD[..9],
            dir = dir.path().display()
        );
        let path = dir.path().join("helm");
        std::fs::write(&path, script).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        FakeHelm { dir }
    }

    fn bin(&self) -> PathBuf {
        self.dir.path().join("helm")
    }

    fn ran(&self) -> bool {
        self.dir.path().join("ran").exists()
    }

    fn saw_secret(&self) -> bool {
        self.dir.path().join("seen").exists()
    }

    fn wait_pid(&self) -> rustix::process::Pid {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(text) = std::fs::read_to_string(self.dir.path().join("pid")) {
                return rustix::process::Pid::from_raw(text.trim().parse().unwrap()).unwrap();
            }
            assert!(Instant::now() < deadline, "fake helm did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn stash_dirs(work: &Work) -> Vec<PathBuf> {
    std::fs::read_dir(work.tmp())
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("rsops-helm-")
        })
        .collect()
}

enum Interrupt {
    WrapperSignal(rustix::process::Signal),
    KillHelm,
}

fn interrupted_run(mode: &str, interrupt: Interrupt, expected_code: i32) {
    let work = Work::new();
    fixtures(&work);
    let fake = FakeHelm::new();
    let mut child = wrapper(&work, mode, &fake.bin())
        .args(["template", "rel", "chart", "-f", "secrets.yaml"])
        .args(["--set-file", "appSecretsFile=app_secrets.yaml"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let helm_pid = fake.wait_pid();
    assert!(
        fake.saw_secret(),
        "helm could not read the decrypted values ({mode})"
    );
    if mode == "tempdir" {
        // The scan below is meaningful: while helm runs, the plaintext is in the private dir.
        assert_eq!(stash_dirs(&work).len(), 1);
    }
    match interrupt {
        Interrupt::WrapperSignal(signal) => {
            rustix::process::kill_process(rustix::process::Pid::from_child(&child), signal).unwrap()
        }
        Interrupt::KillHelm => {
            rustix::process::kill_process(helm_pid, rustix::process::Signal::KILL).unwrap()
        }
    }
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(expected_code), "{mode}");
    work.assert_clean();
}

#[test]
fn sigterm_to_the_wrapper_is_forwarded_and_nothing_is_left() {
    for mode in MODES {
        interrupted_run(
            mode,
            Interrupt::WrapperSignal(rustix::process::Signal::TERM),
            143,
        );
    }
}

#[test]
fn sigint_to_the_wrapper_is_forwarded_and_nothing_is_left() {
    for mode in MODES {
        interrupted_run(
            mode,
            Interrupt::WrapperSignal(rustix::process::Signal::INT),
            130,
        );
    }
}

#[test]
fn helm_killed_leaves_nothing() {
    for mode in MODES {
        interrupted_run(mode, Interrupt::KillHelm, 137);
    }
}

/// Same file tampered two ways: a ciphertext (AES-GCM tag fails, sops exits 25) and an added
/// plain value (MAC mismatch, sops exits 51).
fn tampered(work: &Work) -> Vec<(String, i32)> {
    let good = std::fs::read_to_string(work.path().join("secrets.yaml")).unwrap();
    let line = good.lines().find(|l| l.contains("dbPassword")).unwrap();
    let at = line.find("data:").unwrap() + 5;
    let flipped_char = if &line[at..at + 1] == "A" { "B" } else { "A" };
    let flipped = format!("{}{}{}", &line[..at], flipped_char, &line[at + 1..]);
    std::fs::write(
        work.path().join("bad-tag.yaml"),
        good.replace(line, &flipped),
    )
    .unwrap();
    std::fs::write(
        work.path().join("bad-mac.yaml"),
        good.replacen("secret:\n", "extra_unencrypted: 1\nsecret:\n", 1),
    )
    .unwrap();
    ["bad-tag.yaml", "bad-mac.yaml"]
        .iter()
        .map(|name| {
            let sops_out = output(work.command(sops()).args(["decrypt", name]));
            (name.to_string(), sops_out.status.code().unwrap())
        })
        .collect()
}

#[test]
fn tampered_files_stop_helm_with_sops_exit_code() {
    let work = Work::new();
    fixtures(&work);
    let cases = tampered(&work);
    assert_eq!(cases.iter().map(|c| c.1).collect::<Vec<_>>(), [25, 51]);
    for (name, code) in cases {
        let fake = FakeHelm::new();
        let out = output(
            wrapper(&work, "memfd", &fake.bin()).args(["template", "rel", "chart", "-f", &name]),
        );
        assert_eq!(out.status.code(), Some(code), "{name}");
        assert!(!fake.ran(), "helm ran on {name}");
    }
    work.assert_clean();
}

fn install_plugin(work: &Work, helm: &Path, dir: &str) {
    let out = output(
        work.command(helm)
            .args(["plugin", "install"])
            .arg(repo().join("helm-plugin").join(dir)),
    );
    assert_ok(&out, &format!("helm plugin install {dir}"));
}

fn plugin_renders(work: &Work, helm: &Path) {
    // The wrapper form: helm secrets template …
    let out = output(
        work.command(helm)
            .args(["secrets", "template", "rel"])
            .arg(chart())
            .arg("-f")
            .arg(staging())
            .args([
                "-f",
                "secrets.yaml",
                "--set-file",
                "appSecretsFile=app_secrets.yaml",
            ]),
    );
    assert_ok(&out, "helm secrets template");
    check_render(&out.stdout, true);
    // The downloader form, without the wrapper.
    let out = output(
        work.command(helm)
            .args(["template", "rel"])
            .arg(chart())
            .arg("-f")
            .arg(staging())
            .args(["-f", "secrets://secrets.yaml"]),
    );
    assert_ok(&out, "helm template -f secrets://");
    check_render(&out.stdout, false);
    // helm secrets decrypt prints what sops prints.
    let ours = output(
        work.command(helm)
            .args(["secrets", "decrypt", "secrets.yaml"]),
    );
    let theirs = output(work.command(sops()).args(["decrypt", "secrets.yaml"]));
    assert_ok(&ours, "helm secrets decrypt");
    assert_eq!(ours.stdout, theirs.stdout);
    // A tampered file: helm's plugin runner passes the exit code through.
    let cases = tampered(work);
    for (name, code) in cases {
        let out = output(
            work.command(helm)
                .args(["secrets", "template", "rel"])
                .arg(chart())
                .args(["-f", &name]),
        );
        assert_eq!(out.status.code(), Some(code), "{name}");
        assert!(out.stdout.is_empty());
    }
    work.assert_clean();
}

#[test]
fn helm4_plugins_cli_and_getter() {
    let work = Work::new();
    fixtures(&work);
    install_plugin(&work, &helm(), "secrets");
    install_plugin(&work, &helm(), "secrets-getter");
    plugin_renders(&work, &helm());
}

#[test]
fn helm3_legacy_plugin() {
    let work = Work::new();
    fixtures(&work);
    install_plugin(&work, &helm3(), "helm3");
    plugin_renders(&work, &helm3());
}

/// The plaintext `helm secrets encrypt` gets: laid out as sops prints YAML, so "decrypts to the
/// same bytes" can be compared exactly.
fn plugin_plaintext() -> String {
    format!("secret:\n    dbPassword: {DB_PASSWORD}\n    apiToken: {API_TOKEN}\n")
}

/// The value `helm secrets edit`'s editor writes (it counts as a secret in the scans).
const ROTATED_TOKEN: &str = "rotated-tok-5e6f7a8b";

fn sops_decrypt(work: &Work, name: &str) -> String {
    let out = output(work.command(sops()).args(["decrypt", name]));
    assert_ok(&out, &format!("sops decrypt {name}"));
    stdout(&out)
}

/// `name` on disk is a sops file: none of `plain_values` is in it, sops says it is encrypted.
fn assert_encrypted_on_disk(work: &Work, name: &str, plain_values: &[&str]) {
    let raw = std::fs::read_to_string(work.path().join(name)).unwrap();
    for value in plain_values {
        assert!(!raw.contains(value), "{name} holds a plaintext value");
    }
    assert!(raw.contains(&age_recipient()), "{name}: no age stanza");
    let status = output(work.command(sops()).args(["filestatus", name]));
    assert_ok(&status, &format!("sops filestatus {name}"));
    assert_eq!(stdout(&status).trim(), r#"{"encrypted":true}"#, "{name}");
}

/// `helm secrets encrypt|view|edit FILE` through the installed plugin: encrypt's output (to
/// stdout with `--age`, and in place with `-i` and the recipients of `.sops.yaml`) is a file the
/// real sops decrypts to the original bytes; view prints the plaintext; edit runs $EDITOR on the
/// plaintext and writes back a file that stays encrypted and that sops reads with the new value.
/// No plaintext is left under the work dir or its TMPDIR.
fn plugin_file_commands(work: &Work, helm: &Path) {
    let plain = plugin_plaintext();
    let secrets = [DB_PASSWORD, API_TOKEN, ROTATED_TOKEN];
    // The plaintext must exist as a file to be encrypted; `-i` below replaces it.
    std::fs::write(work.path().join("values.yaml"), &plain).unwrap();
    let out = output(work.command(helm).args([
        "secrets",
        "encrypt",
        "--age",
        &age_recipient(),
        "values.yaml",
    ]));
    assert_ok(&out, "helm secrets encrypt --age");
    std::fs::write(work.path().join("to-stdout.yaml"), &out.stdout).unwrap();
    assert_encrypted_on_disk(work, "to-stdout.yaml", &secrets);
    assert_eq!(sops_decrypt(work, "to-stdout.yaml"), plain);

    std::fs::write(
        work.path().join(".sops.yaml"),
        format!(
            "creation_rules:\n  - path_regex: values\\.yaml$\n    age: {}\n",
            age_recipient()
        ),
    )
    .unwrap();
    let out = output(
        work.command(helm)
            .args(["secrets", "encrypt", "-i", "values.yaml"]),
    );
    assert_ok(&out, "helm secrets encrypt -i");
    assert!(out.stdout.is_empty(), "encrypt -i printed to stdout");
    assert_encrypted_on_disk(work, "values.yaml", &secrets);
    assert_eq!(sops_decrypt(work, "values.yaml"), plain);

    let view = output(work.command(helm).args(["secrets", "view", "values.yaml"]));
    assert_ok(&view, "helm secrets view");
    assert_eq!(stdout(&view), plain);

    // The editor lives outside the work dir: it holds the new value, which the scan looks for.
    let editor_dir = tempfile::tempdir().unwrap();
    let editor = editor_dir.path().join("editor.sh");
    executable(
        &editor,
        &format!("sed -i 's/apiToken: .*/apiToken: {ROTATED_TOKEN}/' \"$1\"\n"),
    );
    let before = std::fs::read_to_string(work.path().join("values.yaml")).unwrap();
    let edited =
        output(
            work.command(helm)
                .env("EDITOR", &editor)
                .args(["secrets", "edit", "values.yaml"]),
        );
    assert_ok(&edited, "helm secrets edit");
    assert!(edited.stdout.is_empty(), "edit printed to stdout");
    assert_encrypted_on_disk(work, "values.yaml", &secrets);
    let after = std::fs::read_to_string(work.path().join("values.yaml")).unwrap();
    let enc_line = |text: &str, key: &str| {
        text.lines()
            .find(|l| l.trim_start().starts_with(key))
            .unwrap()
            .to_string()
    };
    // The untouched value keeps its ciphertext (sops's minimal diff), the edited one changes.
    assert_eq!(
        enc_line(&before, "dbPassword:"),
        enc_line(&after, "dbPassword:")
    );
    assert_ne!(
        enc_line(&before, "apiToken:"),
        enc_line(&after, "apiToken:")
    );
    assert_eq!(
        sops_decrypt(work, "values.yaml"),
        plain.replace(API_TOKEN, ROTATED_TOKEN)
    );
    let view = output(work.command(helm).args(["secrets", "view", "values.yaml"]));
    assert_ok(&view, "helm secrets view after edit");
    assert_eq!(stdout(&view), plain.replace(API_TOKEN, ROTATED_TOKEN));
    work.assert_clean_of(&secrets);
}

#[test]
fn helm4_plugin_encrypt_view_edit() {
    let work = Work::new();
    install_plugin(&work, &helm(), "secrets");
    plugin_file_commands(&work, &helm());
}

#[test]
fn helm3_plugin_encrypt_view_edit() {
    let work = Work::new();
    install_plugin(&work, &helm3(), "helm3");
    plugin_file_commands(&work, &helm3());
}

/// A script that copies whatever it can read from its inherited descriptors (and, with `$1`
/// set, from those of process `$1`) to `loot`; blocking pipes get a second each.
fn looter(loot: &Path) -> String {
    format!(
        "loot() {{ for f in /proc/self/fd/* ${{1:+/proc/$1/fd/*}}; do\n  \
         case \"${{f##*/}}\" in 0|1|2) continue;; esac\n  \
         timeout 1 cat \"$f\" >> '{l}' 2>/dev/null\n\
         done; }}\n",
        l = loot.display()
    )
}

fn executable(path: &Path, body: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, format!("#!/bin/sh\n{body}")).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn assert_no_secret(loot: &Path, what: &str) {
    let got = std::fs::read_to_string(loot).unwrap_or_default();
    for secret in SECRETS {
        assert!(!got.contains(secret), "{what} read a secret value");
    }
}

/// An unrelated getter plugin (`foo://`), run by helm after it read the secret values, finds
/// nothing in the descriptors it inherited from helm nor in helm's own.
#[test]
fn a_getter_plugin_after_the_values_reads_nothing() {
    let work = Work::new();
    fixtures(&work);
    let loot = work.path().join("getter-loot");
    let plugins = work.path().join("plugins");
    let plugin = plugins.join("foo-getter");
    std::fs::create_dir_all(&plugin).unwrap();
    std::fs::write(
        plugin.join("plugin.yaml"),
        "name: foo-getter\nversion: 0.1.0\nusage: spy\ndescription: spy\n\
         command: \"$HELM_PLUGIN_DIR/get.sh\"\n\
         downloaders:\n  - command: \"get.sh\"\n    protocols:\n      - \"foo\"\n",
    )
    .unwrap();
    let body = format!("{}loot $PPID\necho 'spied: true'\n", looter(&loot));
    executable(&plugin.join("get.sh"), &body);
    let out = output(
        wrapper(&work, "pipe", &helm())
            .env("HELM_PLUGINS", &plugins)
            .args(["template", "rel"])
            .arg(chart())
            .arg("-f")
            .arg(staging())
            .args(["-f", "secrets.yaml", "-f", "foo://x"]),
    );
    assert_ok(&out, "rsops helm template with a foo:// getter");
    assert!(loot.exists(), "the getter did not run");
    check_render(&out.stdout, false);
    assert_no_secret(&loot, "the getter");
    std::fs::remove_file(&loot).unwrap();
    work.assert_clean();
}

/// A post-renderer leaves a grandchild behind that waits until rsops has exited and then reads
/// every descriptor it inherited: the values are not among them any more.
#[test]
fn a_grandchild_of_helm_reads_nothing_after_rsops_exits() {
    let work = Work::new();
    fixtures(&work);
    let loot = work.path().join("grandchild-loot");
    let done = work.path().join("grandchild-done");
    let renderer = work.path().join("post-render.sh");
    let body = format!(
        "{looter}rsops=$(cut -d' ' -f4 /proc/$PPID/stat)\n\
         ( i=0; while kill -0 $rsops 2>/dev/null && [ $i -lt 400 ]; do sleep 0.05; i=$((i+1)); done\n  \
           loot; touch '{d}' ) </dev/null >/dev/null 2>&1 &\n\
         cat\n",
        looter = looter(&loot),
        d = done.display()
    );
    executable(&renderer, &body);
    let out = output(
        wrapper(&work, "pipe", &helm3())
            .args(["template", "rel"])
            .arg(chart())
            .arg("-f")
            .arg(staging())
            .args(["-f", "secrets.yaml", "--post-renderer"])
            .arg(&renderer),
    );
    assert_ok(&out, "rsops helm template with a post-renderer");
    check_render(&out.stdout, false);
    let deadline = Instant::now() + Duration::from_secs(40);
    while !done.exists() {
        assert!(Instant::now() < deadline, "the grandchild never finished");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_no_secret(&loot, "the grandchild");
    let _ = std::fs::remove_file(&loot);
    std::fs::remove_file(&done).unwrap();
    work.assert_clean();
}

/// The wrapper with helm 3 itself (not through the plugin), in both modes: the decrypted values
/// reach the templates and nothing is left.
#[test]
fn wrapper_renders_with_helm3_and_leaves_nothing() {
    for mode in MODES {
        let work = Work::new();
        fixtures(&work);
        let out = output(
            wrapper(&work, mode, &helm3())
                .args(["template", "rel"])
                .arg(chart())
                .arg("-f")
                .arg(staging())
                .args(["-f", "secrets.yaml"])
                .args(["--set-file", "appSecretsFile=app_secrets.yaml"]),
        );
        assert_ok(&out, &format!("rsops helm template with helm 3 ({mode})"));
        check_render(&out.stdout, true);
        work.assert_clean();
    }
}

/// SIGKILL of the wrapper itself, while helm holds the values: nothing can run at that moment,
/// so with pipes nothing is on disk at all, and a temp dir left behind (tempdir mode) is removed
/// by the next run once its process is gone, while the dir of a run still going stays.
#[test]
fn sigkill_of_the_wrapper_leaves_no_plaintext() {
    use std::os::unix::process::ExitStatusExt;
    for mode in MODES {
        let work = Work::new();
        fixtures(&work);
        let fake = FakeHelm::new();
        let mut child = wrapper(&work, mode, &fake.bin())
            .args(["template", "rel", "chart", "-f", "secrets.yaml"])
            .args(["--set-file", "appSecretsFile=app_secrets.yaml"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let helm_pid = fake.wait_pid();
        assert!(fake.saw_secret(), "helm could not read the values ({mode})");
        let kill = |pid| rustix::process::kill_process(pid, rustix::process::Signal::KILL);
        kill(rustix::process::Pid::from_child(&child)).unwrap();
        let status = child.wait().unwrap();
        assert_eq!(status.signal(), Some(9), "{mode}");
        // The orphaned helm goes too, as a killed CI job's process group would.
        let _ = kill(helm_pid);
        if mode == "tempdir" {
            let dead = stash_dirs(&work);
            assert_eq!(dead.len(), 1, "SIGKILL cannot be cleaned up after");
            // A directory of a run that is still going (this test's pid) must stay.
            let live = work
                .tmp()
                .join(format!("rsops-helm-{}-live", std::process::id()));
            std::fs::create_dir(&live).unwrap();
            std::fs::write(live.join("1-values.yaml"), "in: use\n").unwrap();
            let next = output(
                wrapper(&work, mode, &helm())
                    .args(["template", "rel"])
                    .arg(chart())
                    .arg("-f")
                    .arg(staging()),
            );
            assert_ok(&next, "the next rsops helm run");
            assert!(!dead[0].exists(), "the next run did not sweep");
            assert_eq!(
                stash_dirs(&work),
                std::slice::from_ref(&live),
                "only the dead run's dir goes"
            );
            assert!(live.join("1-values.yaml").exists());
            std::fs::remove_dir_all(&live).unwrap();
        }
        work.assert_clean();
    }
}

// --evaluate-templates (helm-secrets' flag and its helm 4 `postrenderer/v1` plugin): references
// in the rendered manifests are resolved by rsops. The chart holds helm-secrets' documented
// example (`ref+awsssm://foo/bar?mode=singleparam#/BAR` in a Secret's stringData), which rsops
// leaves as it is with a warning, next to sops and file references it resolves.

const REFS_TEMPLATE: &str = r#"apiVersion: v1
kind: Secret
metadata:
  name: refs
stringData:
  password: ref+sops://secrets.yaml#/secret/dbPassword
  dsn: "postgres://app:ref+sops://secrets.yaml#/secret/dbPassword+@db:5432/app"
  documented: "ref+awsssm://foo/bar?mode=singleparam#/BAR"
data:
  token: {{ "ref+sops://secrets.yaml#/secret/apiToken" | b64enc }}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  level: ref+file://settings.yaml#/log/level
"#;

fn refs_chart(work: &Work) -> PathBuf {
    work.encrypt("secrets.yaml", &secrets_yaml(), "yaml");
    std::fs::write(work.path().join("settings.yaml"), "log:\n  level: debug\n").unwrap();
    let chart = work.path().join("refs-chart");
    std::fs::create_dir_all(chart.join("templates")).unwrap();
    std::fs::write(
        chart.join("Chart.yaml"),
        "apiVersion: v2\nname: refs\nversion: 0.1.0\n",
    )
    .unwrap();
    std::fs::write(chart.join("templates/refs.yaml"), REFS_TEMPLATE).unwrap();
    chart
}

/// Checks one render: the references resolved, the documented awsssm one untouched, and the
/// base64 `data` value resolved only when Secrets are decoded.
fn check_resolved(out: &std::process::Output, decoded: bool, what: &str) {
    assert_ok(out, what);
    let doc = parse_yaml(&out.stdout);
    let find = |kind: &str| {
        doc.branches
            .iter()
            .find(|m| m.get("kind").and_then(|k| k.as_str()) == Some(kind))
            .unwrap_or_else(|| panic!("{what}: no {kind}"))
    };
    let values = secret_values(find("Secret"));
    let get = |k: &str| {
        values
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| String::from_utf8(v.clone()).unwrap())
            .unwrap_or_else(|| panic!("{what}: no {k}"))
    };
    assert_eq!(get("password"), DB_PASSWORD, "{what}");
    assert_eq!(
        get("dsn"),
        format!("postgres://app:{DB_PASSWORD}@db:5432/app"),
        "{what}"
    );
    assert_eq!(
        get("documented"),
        "ref+awsssm://foo/bar?mode=singleparam#/BAR",
        "{what}"
    );
    let token = if decoded {
        API_TOKEN
    } else {
        "ref+sops://secrets.yaml#/secret/apiToken"
    };
    assert_eq!(get("token"), token, "{what}");
    let level = find("ConfigMap")
        .get("data")
        .and_then(|d| d.as_map())
        .and_then(|d| d.get("level"))
        .and_then(|l| l.as_str());
    assert_eq!(level, Some("debug"), "{what}");
}

const AWSSSM_WARNING: &str = "ref+awsssm:// references are left as they are";

#[test]
fn helm4_post_renderer_plugin_resolves_references() {
    let work = Work::new();
    let chart = refs_chart(&work);
    install_plugin(&work, &helm(), "secrets-post-renderer");
    let template = |extra: &[&str]| {
        output(
            work.command(helm())
                .args(["template", "rel"])
                .arg(&chart)
                .args(["--post-renderer", "secrets-post-renderer"])
                .args(extra),
        )
    };
    check_resolved(&template(&[]), false, "helm template --post-renderer");
    work.assert_clean();
    check_resolved(
        &template(&[
            "--post-renderer-args",
            "--evaluate-templates-decode-secrets",
        ]),
        true,
        "helm template --post-renderer (decode secrets)",
    );
    work.assert_clean();
    // The wrapper adds the plugin itself and shows the post-renderer's warning, which helm
    // would otherwise keep to itself.
    let out = output(
        work.command(rsops())
            .env("HELM_BIN", helm())
            .args(["helm", "--evaluate-templates", "template", "rel"])
            .arg(&chart),
    );
    check_resolved(&out, false, "rsops helm --evaluate-templates");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(AWSSSM_WARNING), "{err}");
    assert!(!err.contains(DB_PASSWORD) && !err.contains(API_TOKEN));
    // helm-secrets' spelling through the cli/v1 plugin, with the environment switch.
    install_plugin(&work, &helm(), "secrets");
    let out = output(
        work.command(helm())
            .env("HELM_SECRETS_EVALUATE_TEMPLATES_DECODE_SECRETS", "true")
            .args(["secrets", "--evaluate-templates", "template", "rel"])
            .arg(&chart),
    );
    check_resolved(&out, true, "helm secrets --evaluate-templates");
    work.assert_clean();
    // A tampered file: helm reports the post-renderer's failure and prints no manifest.
    let good = std::fs::read_to_string(work.path().join("secrets.yaml")).unwrap();
    std::fs::write(
        work.path().join("secrets.yaml"),
        good.replacen("secret:", "extra: 1\nsecret:", 1),
    )
    .unwrap();
    // helm 4 drops the plugin's stderr, so only the wrapper can say why.
    let out = template(&[]);
    assert!(!out.status.success());
    assert!(out.stdout.is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("secrets-post-renderer"), "{err}");
    let out = output(
        work.command(rsops())
            .env("HELM_BIN", helm())
            .args(["helm", "--evaluate-templates", "template", "rel"])
            .arg(&chart),
    );
    assert!(!out.status.success());
    assert!(out.stdout.is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("secrets.yaml: could not decrypt") && !err.contains(DB_PASSWORD),
        "{err}"
    );
    work.assert_clean();
}

#[test]
fn helm3_evaluate_templates_runs_rsops_as_the_post_renderer() {
    let work = Work::new();
    let chart = refs_chart(&work);
    let out = output(
        work.command(rsops())
            .env("HELM_BIN", helm3())
            .args([
                "helm",
                "--evaluate-templates",
                "--evaluate-templates-decode-secrets",
                "template",
                "rel",
            ])
            .arg(&chart),
    );
    check_resolved(&out, true, "rsops helm --evaluate-templates (helm 3)");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(AWSSSM_WARNING), "{err}");
    work.assert_clean();
}
