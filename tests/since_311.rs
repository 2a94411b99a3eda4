//! Variables and behaviours sops added after 3.11 (issue 13, item 3). Where sops 3.11.0 has the
//! behaviour, the test runs the real sops too; where only 3.12+ has it, the expectation comes
//! from the upstream source at v3.13.2, cited in each test (getsops/sops: `age/keysource.go`,
//! `cmd/sops/subcommand/exec/`, `stores/json/store.go`, `cmd/sops/main.go`).

mod common;
use common::lab;

use lab::{age1, age2, key_file, Lab, Tool};

const PLAIN: &str = "a: 1\nb: secret value\n";

fn secret_line(file: &str) -> String {
    std::fs::read_to_string(key_file(file))
        .unwrap()
        .lines()
        .find(|l| l.starts_with("AGE-SECRET-KEY-"))
        .unwrap()
        .to_string()
}

/// A lab with `p.yaml` and `s.yaml`, encrypted by sops for `recipient` only.
fn lab_for(recipient: &str) -> Lab {
    let lab = Lab::new();
    lab.write("p.yaml", PLAIN);
    lab.sops_encrypt_age("p.yaml", "s.yaml", recipient);
    lab
}

/// `SOPS_AGE_KEY` with several identities: one per line (sops 3.11 too), and since 3.13
/// separated by spaces on one line (`loadIdentities` parses it with `allowMultipleKeysPerLine`;
/// key files still take one identity per line).
#[test]
fn sops_age_key_holds_several_identities() {
    let lab = lab_for(&age2());
    let (k1, k2) = (secret_line("age1.txt"), secret_line("age2.txt"));
    let per_line = format!("{k1}\n{k2}\n");
    for tool in [Tool::Rsops, Tool::Sops] {
        let run = lab.run(tool, &["decrypt", "s.yaml"], &[("SOPS_AGE_KEY", &per_line)]);
        assert_eq!(run.ok().text(), PLAIN, "{tool:?}, one per line");
    }
    for spaced in [format!("{k1} {k2}"), format!("  {k1}\t{k2}  \n")] {
        let run = lab.rsops(&["decrypt", "s.yaml"], &[("SOPS_AGE_KEY", &spaced)]);
        assert_eq!(run.ok().text(), PLAIN, "{spaced:?}");
    }
    lab.write("two-on-a-line.txt", format!("{k1} {k2}\n"));
    let file = lab.p("two-on-a-line.txt");
    for tool in [Tool::Rsops, Tool::Sops] {
        let run = lab.run(
            tool,
            &["decrypt", "s.yaml"],
            &[("SOPS_AGE_KEY_FILE", &file)],
        );
        assert_eq!(
            run.code, 128,
            "{tool:?}: a key file is one identity per line"
        );
    }
}

/// `SOPS_AGE_KEY_CMD` and (3.12+) `SOPS_AGE_SSH_PRIVATE_KEY_CMD` run without a shell and are
/// told the wanted recipient in `SOPS_AGE_RECIPIENT` (`getOutputFromCmd(…, SOPS_AGE_RECIPIENT=…)`);
/// a passphrase-protected SSH key from the command is refused.
#[test]
fn key_commands_are_told_the_recipient() {
    let lab = lab_for(&age2());
    let seen = lab.p("seen");
    let script = lab.script(
        "keys.sh",
        &format!(
            "echo \"$SOPS_AGE_RECIPIENT\" >> '{seen}'\ncase \"$SOPS_AGE_RECIPIENT\" in\n  {}) cat '{}' ;;\nesac\n",
            age2(),
            key_file("age2.txt")
        ),
    );
    let run = lab.rsops(&["decrypt", "s.yaml"], &[("SOPS_AGE_KEY_CMD", &script)]);
    assert_eq!(run.ok().text(), PLAIN);
    assert_eq!(lab.read_str("seen"), format!("{}\n", age2()));

    let ssh_public = std::fs::read_to_string(key_file("ssh_ed25519.pub")).unwrap();
    let ssh_public = ssh_public.trim();
    lab.sops_encrypt_age("p.yaml", "ssh.yaml", ssh_public);
    std::fs::remove_file(lab.path("seen")).unwrap();
    let ssh_cmd = lab.script(
        "ssh-key.sh",
        &format!(
            "echo \"$SOPS_AGE_RECIPIENT\" >> '{seen}'\ncat '{}'\n",
            key_file("ssh_ed25519")
        ),
    );
    let run = lab.rsops(
        &["decrypt", "ssh.yaml"],
        &[("SOPS_AGE_SSH_PRIVATE_KEY_CMD", &ssh_cmd)],
    );
    assert_eq!(run.ok().text(), PLAIN);
    assert_eq!(lab.read_str("seen"), format!("{ssh_public}\n"));

    // A protected key: refused with sops's reason, not a passphrase prompt.
    let protected = lab.p("protected");
    let made = std::process::Command::new("ssh-keygen")
        .args([
            "-q",
            "-t",
            "ed25519",
            "-N",
            "a passphrase",
            "-C",
            "",
            "-f",
            &protected,
        ])
        .output()
        .expect("ssh-keygen is installed");
    assert!(made.status.success());
    let public = lab.read_str("protected.pub");
    lab.sops_encrypt_age("p.yaml", "protected.yaml", public.trim());
    let cat = lab.script("cat-protected.sh", &format!("cat '{protected}'\n"));
    let run = lab.rsops(
        &["decrypt", "protected.yaml"],
        &[("SOPS_AGE_SSH_PRIVATE_KEY_CMD", &cat)],
    );
    assert_eq!(run.code, 128, "{}", run.stderr);
    assert!(run.stderr.contains("password protected"), "{}", run.stderr);
}

/// An identity file encrypted with a passphrase (`age -p`): on a terminal both tools ask for the
/// passphrase and decrypt; without one, both fail with exit 128 and rsops says why.
#[test]
fn passphrase_protected_identity_file() {
    use std::io::Write;
    let lab = lab_for(&age1());
    // A low scrypt work factor keeps the unoptimised test build fast; sops reads it the same.
    let passphrase = "correct horse battery";
    let mut encryptor = age::scrypt::Recipient::new(passphrase.to_string().into());
    encryptor.set_work_factor(10);
    let identity = std::fs::read(key_file("age1.txt")).unwrap();
    let encrypted = age::encrypt_and_armor(&encryptor, &identity).unwrap();
    lab.write("id.age", encrypted);
    let file = lab.p("id.age");
    let env = [("SOPS_AGE_KEY_FILE", file.as_str())];

    for tool in [Tool::Rsops, Tool::Sops] {
        let run = lab.run(tool, &["decrypt", "s.yaml"], &env);
        assert_eq!(run.code, 128, "{tool:?} without a terminal: {}", run.stderr);
        assert!(run.stdout.is_empty());
    }
    let run = lab.rsops(&["decrypt", "s.yaml"], &env);
    assert!(run.stderr.contains("no terminal"), "{}", run.stderr);

    for (tool, typed) in [
        (Tool::Rsops, passphrase),
        (Tool::Sops, passphrase),
        (Tool::Rsops, "wrong"),
    ] {
        let program = match tool {
            Tool::Rsops => env!("CARGO_BIN_EXE_rsops").to_string(),
            Tool::Sops => lab::sops_bin().to_str().unwrap().to_string(),
        };
        // `script` gives the tool a terminal; what is typed goes to it once the prompt shows.
        let mut child = lab
            .command(tool)
            .env("SOPS_AGE_KEY_FILE", &file)
            .spawn_script(&program, &["decrypt", "s.yaml"]);
        let mut stdin = child.stdin.take().unwrap();
        let out = std::thread::spawn(move || child.wait_with_output().unwrap());
        std::thread::sleep(std::time::Duration::from_secs(2));
        writeln!(stdin, "{typed}").unwrap();
        drop(stdin);
        let out = out.join().unwrap();
        let shown = String::from_utf8_lossy(&out.stdout);
        assert!(shown.contains("passphrase"), "{tool:?}: no prompt: {shown}");
        if typed == passphrase {
            assert!(out.status.success(), "{tool:?}: {shown}");
            assert!(shown.contains("b: secret value"), "{tool:?}: {shown}");
        } else {
            assert!(
                !out.status.success() && !shown.contains("secret value"),
                "{shown}"
            );
            assert!(shown.contains("incorrect passphrase"), "{shown}");
        }
    }
}

/// Runs a program under `script`, which gives it a pseudo-terminal.
trait SpawnScript {
    fn spawn_script(&mut self, program: &str, args: &[&str]) -> std::process::Child;
}

impl SpawnScript for std::process::Command {
    fn spawn_script(&mut self, program: &str, args: &[&str]) -> std::process::Child {
        let mut line = shlex::try_quote(program).unwrap().into_owned();
        for a in args {
            line.push(' ');
            line.push_str(&shlex::try_quote(a).unwrap());
        }
        let mut script = std::process::Command::new("script");
        script.args(["-qec", &line, "/dev/null"]);
        for (k, v) in self.get_envs() {
            match v {
                Some(v) => script.env(k, v),
                None => script.env_remove(k),
            };
        }
        if let Some(dir) = self.get_current_dir() {
            script.current_dir(dir);
        }
        script
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("script (util-linux) is installed")
    }
}

/// `exec-file --filename` must name a file inside the private directory (3.13: "The provided
/// filename is not a local path."): a path is refused before anything runs.
#[test]
fn exec_file_refuses_a_non_local_filename() {
    let lab = lab_for(&age1());
    let k = [("SOPS_AGE_KEY_FILE", key_file("age1.txt"))];
    let k: Vec<(&str, &str)> = k.iter().map(|(a, b)| (*a, b.as_str())).collect();
    for name in ["../escape.yaml", "/tmp/abs.yaml", "sub/x.yaml", ".."] {
        let run = lab.rsops(
            &["exec-file", "--filename", name, "s.yaml", "echo ran {}"],
            &k,
        );
        assert_eq!(run.code, 1, "{name:?}: {}", run.stderr);
        assert!(run.stdout.is_empty(), "{name:?}: the command ran");
        assert!(run.stderr.contains("not a local path"), "{}", run.stderr);
    }
    let run = lab.rsops(
        &["exec-file", "--filename", "ok.yaml", "s.yaml", "cat {}"],
        &k,
    );
    assert_eq!(run.ok().text(), PLAIN);
}

/// `--decryption-order` on `exec-env` and `exec-file` (3.13 has the flag there; 3.11 does not):
/// with both an age and a PGP key able to open the file, the order decides which is tried
/// first; a `gpg` wrapper records whether PGP was used.
#[test]
fn exec_commands_follow_the_decryption_order() {
    let mut lab = Lab::new();
    let gnupg = lab.with_gnupg();
    lab.write("p.yaml", PLAIN);
    let both = lab
        .sops(
            &[
                "encrypt",
                "--age",
                &age1(),
                "--pgp",
                common::PGP_RSA_FP,
                "p.yaml",
            ],
            &[],
        )
        .ok();
    lab.write("both.yaml", both.stdout);
    let calls = lab.p("gpg-calls");
    let gpg = lab.script(
        "gpg.sh",
        &format!("echo called >> '{calls}'\nexec gpg \"$@\"\n"),
    );
    let k = key_file("age1.txt");
    let env = [
        ("SOPS_AGE_KEY_FILE", k.as_str()),
        ("SOPS_GPG_EXEC", gpg.as_str()),
        ("GNUPGHOME", gnupg.as_str()),
    ];
    for command in [
        vec!["exec-env", "both.yaml", "echo \"$b\""],
        vec!["exec-file", "both.yaml", "grep -c secret {}"],
    ] {
        for (order, pgp_used) in [("age,pgp", false), ("pgp,age", true)] {
            let _ = std::fs::remove_file(&calls);
            let mut args = vec![command[0], "--decryption-order", order];
            args.extend(&command[1..]);
            let run = lab.rsops(&args, &env).ok();
            assert!(!run.stdout.is_empty(), "{args:?}");
            assert_eq!(
                std::path::Path::new(&calls).exists(),
                pgp_used,
                "{args:?}: gpg called?"
            );
        }
    }
}

/// `--indent` applies to every subcommand's output (3.13 fixed sops ignoring it there:
/// `outputStore` reads the global flag): JSON written by encrypt, decrypt, set, rotate,
/// updatekeys and exec-file uses the given width.
#[test]
fn indent_is_honoured_by_every_subcommand() {
    let lab = Lab::new();
    let k = key_file("age1.txt");
    let env = [("SOPS_AGE_KEY_FILE", k.as_str())];
    lab.write("p.json", "{\"a\": {\"b\": 1}}");
    lab.write(
        ".sops.yaml",
        format!("creation_rules:\n  - age: {}\n", age1()),
    );
    let indented = |text: &str| text.lines().any(|l| l.starts_with("     \"a\": {"));
    let enc = lab
        .rsops(&["--indent", "5", "encrypt", "p.json"], &env)
        .ok()
        .text();
    assert!(indented(&enc), "encrypt: {enc}");
    lab.write("e.json", &enc);
    let dec = lab
        .rsops(&["--indent", "5", "decrypt", "e.json"], &env)
        .ok()
        .text();
    assert_eq!(dec, "{\n     \"a\": {\n          \"b\": 1\n     }\n}\n");
    for args in [
        vec!["set", "e.json", "[\"c\"]", "2"],
        vec!["rotate", "-i", "e.json"],
        vec!["updatekeys", "-y", "e.json"],
    ] {
        let mut full = vec!["--indent", "5"];
        full.extend(&args);
        lab.rsops(&full, &env).ok();
        let text = lab.read_str("e.json");
        assert!(indented(&text), "{args:?}: {text}");
    }
    let out = lab
        .rsops(&["--indent", "5", "exec-file", "e.json", "cat {}"], &env)
        .ok()
        .text();
    assert!(indented(&out), "exec-file: {out}");
}

/// JSON integers beyond 2^53 that fit in int64 survive a round trip exactly (3.13.2,
/// `normalizeJSONNumber`); sops 3.11 decrypts what rsops wrote to the same digits; smaller
/// numbers stay as 3.11 writes them (`type:float`), so files stay byte-compatible with 3.11.
#[test]
fn json_integers_that_fit_in_int64_are_kept_exactly() {
    let lab = Lab::new();
    let k = key_file("age1.txt");
    let env = [("SOPS_AGE_KEY_FILE", k.as_str())];
    let plain = "{\"big\": 9007199254740993, \"max\": 9223372036854775807, \"min\": -9223372036854775808, \"small\": 42}";
    lab.write("n.json", plain);
    let enc = lab
        .rsops(&["encrypt", "--age", &age1(), "n.json"], &env)
        .ok()
        .text();
    assert!(enc.contains("type:int"), "{enc}");
    lab.write("r.json", &enc);
    let expected = "{\n\t\"big\": 9007199254740993,\n\t\"max\": 9223372036854775807,\n\t\"min\": -9223372036854775808,\n\t\"small\": 42\n}\n";
    for tool in [Tool::Rsops, Tool::Sops] {
        let dec = lab.run(tool, &["decrypt", "r.json"], &env).ok().text();
        assert_eq!(dec, expected, "{tool:?}");
    }
    let small_ours = lab
        .rsops(&["encrypt", "--age", &age1(), "n.json"], &env)
        .ok()
        .text();
    let small_theirs = lab
        .sops(&["encrypt", "--age", &age1(), "n.json"], &env)
        .ok()
        .text();
    let small_type = |t: &str| {
        t.lines()
            .find(|l| l.contains("\"small\""))
            .map(|l| l.contains("type:float"))
    };
    assert_eq!(small_type(&small_ours), Some(true));
    assert_eq!(small_type(&small_theirs), Some(true));
}

/// `edit` refuses a plaintext with a top-level `sops` key (it would shadow the metadata): the
/// file is left as it was. (sops 3.11 accepts it and drops the entry.)
#[test]
fn edit_refuses_a_top_level_sops_key() {
    let lab = lab_for(&age1());
    let k = key_file("age1.txt");
    let editor = lab.script("editor.sh", "printf 'a: 1\\nsops: x\\n' > \"$1\"\n");
    let before = lab.read("s.yaml");
    let run = lab.rsops(
        &["edit", "s.yaml"],
        &[("SOPS_AGE_KEY_FILE", &k), ("EDITOR", &editor)],
    );
    assert_ne!(run.code, 0);
    assert!(run.stderr.contains("`sops`"), "{}", run.stderr);
    assert_eq!(lab.read("s.yaml"), before);
}

/// The user's primary and supplementary groups from /etc/passwd and /etc/group.
fn groups_of(user: &str) -> (String, Vec<u32>) {
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap();
    let fields: Vec<String> = passwd
        .lines()
        .map(|l| l.split(':').map(str::to_string).collect::<Vec<_>>())
        .find(|f| f[0] == user)
        .unwrap();
    let mut groups: Vec<u32> = vec![fields[3].parse().unwrap()];
    for line in std::fs::read_to_string("/etc/group").unwrap().lines() {
        let f: Vec<&str> = line.split(':').collect();
        if f.len() > 3 && f[3].split(',').any(|m| m == user) {
            groups.push(f[2].parse().unwrap());
        }
    }
    groups.sort_unstable();
    groups.dedup();
    (fields[5].clone(), groups)
}

/// `exec-env`/`exec-file --user` (3.13.2: `SwitchUser` sets the user's groups, `UserEnv` sets
/// HOME, USER and LOGNAME): the command runs with exactly the user's groups (none of root's)
/// and the user's HOME/USER/LOGNAME, while values from the file still win.
#[test]
fn exec_user_sets_groups_and_home() {
    if !rustix::process::geteuid().is_root() {
        eprintln!("not root: --user cannot switch; exec_env_user_matches_sops checks the refusal");
        return;
    }
    // A user with a supplementary group when the machine has one, else nobody.
    let group = std::fs::read_to_string("/etc/group").unwrap();
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap();
    let user = group
        .lines()
        .filter_map(|l| l.split(':').nth(3))
        .flat_map(|m| m.split(','))
        .find(|m| !m.is_empty() && passwd.lines().any(|l| l.starts_with(&format!("{m}:"))))
        .unwrap_or("nobody")
        .to_string();
    let (home, groups) = groups_of(&user);
    let lab = Lab::new();
    lab.write("env.yaml", "FOO: bar\nLOGNAME: from-the-file\n");
    lab.sops_encrypt_age("env.yaml", "env.enc.yaml", &age1());
    let k = key_file("age1.txt");
    let env = [("SOPS_AGE_KEY_FILE", k.as_str()), ("HOME", "/root")];
    let report =
        "id -G | tr ' ' '\\n' | sort -n | tr '\\n' ' '; echo; echo \"$HOME|$USER|$LOGNAME|$FOO\"";
    let wanted_groups: Vec<String> = groups.iter().map(u32::to_string).collect();
    let expected = format!(
        "{} \n{home}|{user}|from-the-file|bar\n",
        wanted_groups.join(" ")
    );
    for args in [
        vec!["exec-env", "--user", &user, "env.enc.yaml", report],
        vec![
            "exec-env",
            "--pristine",
            "--user",
            &user,
            "env.enc.yaml",
            report,
        ],
    ] {
        let run = lab.rsops(&args, &env);
        assert_eq!(
            (run.code, run.text()),
            (0, expected.clone()),
            "{args:?}: {}",
            run.stderr
        );
    }
    let file_report = "id -G | tr ' ' '\\n' | sort -n | tr '\\n' ' '; echo; echo \"$HOME|$USER|$LOGNAME\"; cat {} > /dev/null";
    let run = lab.rsops(
        &["exec-file", "--user", &user, "env.enc.yaml", file_report],
        &env,
    );
    let expected = format!("{} \n{home}|{user}|{user}\n", wanted_groups.join(" "));
    assert_eq!((run.code, run.text()), (0, expected), "{}", run.stderr);
}
