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
    let ignored = output(
        wrapper(&work, "memfd", &helm())
            .env("HELM_SECRETS_IGNORE_MISSING_VALUES", "true")
            .args(["template", "rel"])
            .arg(chart())
            .args(["-f", "secrets.yaml", "-f", "missing-secrets.yaml"]),
    );
    assert_ok(&ignored, "HELM_SECRETS_IGNORE_MISSING_VALUES=true");
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
    // helm secrets edit: the editor runs, the library re-encrypts, sops reads the result.
    std::fs::copy(
        work.path().join("secrets.yaml"),
        work.path().join("edited.yaml"),
    )
    .unwrap();
    let editor = work.path().join("editor.sh");
    std::fs::write(
        &editor,
        "#!/bin/sh\nsed -i 's/apiToken: .*/apiToken: rotated/' \"$1\"\n",
    )
    .unwrap();
    std::fs::set_permissions(&editor, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let edited =
        output(
            work.command(helm)
                .env("EDITOR", &editor)
                .args(["secrets", "edit", "edited.yaml"]),
        );
    assert_ok(&edited, "helm secrets edit");
    let theirs = output(work.command(sops()).args(["decrypt", "edited.yaml"]));
    assert_ok(&theirs, "sops decrypt of the edited file");
    assert!(
        stdout(&theirs).contains("apiToken: rotated"),
        "{}",
        stdout(&theirs)
    );
    std::fs::remove_file(work.path().join("edited.yaml")).unwrap();
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
/// by the next run once its process is gone.
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
            assert_eq!(
                stash_dirs(&work).len(),
                1,
                "SIGKILL cannot be cleaned up after"
            );
            let next = output(
                wrapper(&work, mode, &helm())
                    .args(["template", "rel"])
                    .arg(chart())
                    .arg("-f")
                    .arg(staging()),
            );
            assert_ok(&next, "the next rsops helm run");
            assert!(stash_dirs(&work).is_empty(), "the next run did not sweep");
        }
        work.assert_clean();
    }
}
