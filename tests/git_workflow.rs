//! rsops in git, against the real git and the real sops 3.11.0: churn-free re-encryption, the
//! textconv view in `git diff`/`git log -p`, the merge driver in `git merge`, `rsops git setup`
//! and `rsops git check`. Every repository is a temporary one with its own HOME and TMPDIR, so
//! the plaintext scans cover everything git and rsops could have written.

mod common;
use common::lab::{self, age1, age2, key_file, Lab, Run, Tool};
use std::path::Path;

const FILE: &str = "secrets.enc.yaml";
const PLAIN: &str = "db:\n    user: app\n    password: base-password # rotate\nport: 5432\napi_token: base-token\nlist:\n    - one\n    - two\n";

/// A git repository in `repo/` of a lab, set up with `rsops git setup`, holding `FILE`
/// encrypted by rsops for age key 1 through a `.sops.yaml` creation rule.
struct Repo {
    lab: Lab,
}

impl Repo {
    fn new() -> Repo {
        let lab = Lab::new();
        std::fs::create_dir_all(lab.path("repo")).unwrap();
        std::fs::create_dir_all(lab.path("tmp")).unwrap();
        let repo = Repo { lab };
        repo.git(&["init", "-q", "-b", "main"]).ok();
        repo.git(&["config", "user.email", "test@example.org"]).ok();
        repo.git(&["config", "user.name", "test"]).ok();
        repo.rule(&age1());
        repo.rsops(&["git", "setup"]).ok();
        repo.write(FILE, PLAIN);
        repo.rsops(&["encrypt", "-i", FILE]).ok();
        repo.git(&["add", "."]).ok();
        repo.git(&["commit", "-qm", "base"]).ok();
        repo
    }

    fn rule(&self, age: &str) {
        self.write(
            ".sops.yaml",
            &format!("creation_rules:\n  - path_regex: \\.enc\\.(yaml|json)$\n    age: {age}\n"),
        );
    }

    fn path(&self, name: &str) -> std::path::PathBuf {
        self.lab.path("repo").join(name)
    }

    fn write(&self, name: &str, text: &str) {
        std::fs::write(self.path(name), text).unwrap();
    }

    fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.path(name)).unwrap()
    }

    /// A command in the repository with key 1 at hand (as `SOPS_AGE_KEY_FILE`), or no key.
    fn run(&self, program: impl AsRef<std::ffi::OsStr>, args: &[&str], keys: bool) -> Run {
        let mut cmd = self.lab.command_for(program);
        cmd.current_dir(self.lab.path("repo"))
            .env("TMPDIR", self.lab.path("tmp"))
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .args(args);
        if keys {
            cmd.env("SOPS_AGE_KEY_FILE", key_file("age1.txt"));
        }
        cmd.output().unwrap().into()
    }

    fn git(&self, args: &[&str]) -> Run {
        self.run("git", args, true)
    }

    fn rsops(&self, args: &[&str]) -> Run {
        self.run(env!("CARGO_BIN_EXE_rsops"), args, true)
    }

    /// Decrypts with the real sops and key 1.
    fn sops_plain(&self, name: &str) -> String {
        let mut cmd = self.lab.command(Tool::Sops);
        cmd.current_dir(self.lab.path("repo"))
            .env("SOPS_AGE_KEY_FILE", key_file("age1.txt"))
            .args(["decrypt", name]);
        Run::from(cmd.output().unwrap()).ok().text()
    }

    /// decrypt → edit with a plain text tool → encrypt -i: what a user does without `rsops edit`.
    fn edit_through_plaintext(&self, from: &str, to: &str) {
        self.rsops(&["decrypt", "-i", FILE]).ok();
        let text = self.read(FILE);
        assert!(text.contains(from), "{from} not in the plaintext");
        self.write(FILE, &text.replacen(from, to, 1));
        self.rsops(&["encrypt", "-i", FILE]).ok();
    }

    /// The `+`/`-` lines of `git diff -U0` (headers left out).
    fn changed_lines(&self, args: &[&str]) -> Vec<String> {
        let mut full = vec!["diff", "-U0", "--no-color"];
        full.extend_from_slice(args);
        self.git(&full)
            .ok()
            .text()
            .lines()
            .filter(|l| {
                (l.starts_with('+') || l.starts_with('-'))
                    && !l.starts_with("+++")
                    && !l.starts_with("---")
            })
            .map(str::to_string)
            .collect()
    }

    /// Every file under the lab (repository with `.git`, HOME, TMPDIR) and every git object,
    /// decompressed, that holds one of `secrets`.
    fn plaintext_hits(&self, secrets: &[&str]) -> Vec<String> {
        let mut hits = Vec::new();
        scan(self.lab.dir.path(), secrets, &mut hits);
        let objects = self
            .git(&["cat-file", "--batch-all-objects", "--batch"])
            .ok();
        for secret in secrets {
            if contains(&objects.stdout, secret) {
                hits.push(format!("a git object holds {secret}"));
            }
        }
        hits
    }
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

fn scan(dir: &Path, secrets: &[&str], hits: &mut Vec<String>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        let kind = entry.file_type().unwrap();
        if kind.is_dir() {
            scan(&path, secrets, hits);
        } else if kind.is_file() {
            let bytes = std::fs::read(&path).unwrap_or_default();
            for secret in secrets {
                if contains(&bytes, secret) {
                    hits.push(format!("{} holds {secret}", path.display()));
                }
            }
        }
    }
}

/// The line of `text` that sets `key` (first occurrence).
fn line(text: &str, key: &str) -> String {
    lab::line_of(text, &format!("{key}:"))
}

// ------------------------------------------------------------- churn-free re-encryption

#[test]
fn a_one_value_edit_through_plaintext_is_a_three_line_diff() {
    let repo = Repo::new();
    repo.edit_through_plaintext("base-token", "new-token");
    let changed = repo.changed_lines(&["--no-textconv", FILE]);
    let key_of = |l: &str| {
        let text = l[1..].trim_start();
        text[..text.find(':').unwrap_or(text.len())].to_string()
    };
    let mut in_order: Vec<String> = changed.iter().map(|l| key_of(l)).collect();
    in_order.sort();
    // lastmodified has a resolution of one second: two runs within one second leave it alone.
    let with_time = ["api_token", "lastmodified", "mac"];
    let without_time = ["api_token", "mac"];
    let twice = |keys: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = keys.iter().chain(keys).map(|s| s.to_string()).collect();
        v.sort();
        v
    };
    assert!(
        in_order == twice(&with_time) || in_order == twice(&without_time),
        "{changed:#?}"
    );
    let stat = repo.git(&["diff", "--numstat", FILE]).ok().text();
    let lines_changed = in_order.len() / 2;
    assert!(
        stat.starts_with(&format!("{lines_changed}\t{lines_changed}\t")),
        "{stat}"
    );
    assert!(repo.sops_plain(FILE).contains("api_token: new-token"));

    // Nothing changed: the file comes back byte for byte.
    repo.git(&["commit", "-qam", "token"]).ok();
    let before = repo.read(FILE);
    repo.rsops(&["decrypt", "-i", FILE]).ok();
    repo.rsops(&["encrypt", "-i", FILE]).ok();
    assert_eq!(repo.read(FILE), before);
}

#[test]
fn reuse_keeps_the_data_key_and_every_unchanged_ciphertext() {
    let repo = Repo::new();
    let old = repo.read(FILE);
    repo.write("new.yaml", &PLAIN.replace("5432", "6543"));
    let out = repo
        .rsops(&[
            "encrypt",
            "--reuse",
            FILE,
            "--filename-override",
            FILE,
            "new.yaml",
        ])
        .ok();
    let new = out.text();
    let lines = lab::changed_lines(&old, &new);
    assert_eq!(lines.len(), 1, "{lines:#?}");
    assert!(lines[0].0.trim_start().starts_with("port:"));
    assert_eq!(
        line(&old, "enc"),
        line(&new, "enc"),
        "the wrapped data key is kept"
    );
    repo.write("out.enc.yaml", &new);
    assert!(repo.sops_plain("out.enc.yaml").contains("port: 6543"));

    // --output naming the previous version does the same without --reuse.
    repo.rsops(&[
        "encrypt",
        "--filename-override",
        FILE,
        "--output",
        FILE,
        "new.yaml",
    ])
    .ok();
    assert_eq!(lab::changed_lines(&old, &repo.read(FILE)).len(), 1);
}

#[test]
fn other_keys_in_the_creation_rule_are_rewrapped_and_said() {
    let repo = Repo::new();
    let old = repo.read(FILE);
    repo.rule(&format!("{},{}", age1(), age2()));
    repo.rsops(&["decrypt", "-i", FILE]).ok();
    let out = repo.rsops(&["encrypt", "-i", FILE]).ok();
    assert!(out.stderr.contains("rewrapping"), "{}", out.stderr);
    let new = repo.read(FILE);
    // The last payload is the MAC, sealed again with the new lastmodified.
    let values = |t: &str| {
        let mut p = lab::payloads(t);
        p.pop();
        p
    };
    assert_eq!(values(&old), values(&new), "values keep their ciphertext");
    assert!(new.contains(&age2()));
    let mut cmd = repo.lab.command(Tool::Sops);
    cmd.current_dir(repo.lab.path("repo"))
        .env("SOPS_AGE_KEY_FILE", key_file("age2.txt"))
        .args(["decrypt", FILE]);
    let by_key2 = Run::from(cmd.output().unwrap()).ok().text();
    assert!(by_key2.contains("api_token: base-token"));
}

// ------------------------------------------------------------------------ merge driver

#[test]
fn branches_changing_different_keys_merge_cleanly_keeping_ciphertexts() {
    let repo = Repo::new();
    let base = repo.read(FILE);
    repo.git(&["checkout", "-qb", "feature"]).ok();
    repo.edit_through_plaintext("base-token", "feature-token");
    repo.git(&["commit", "-qam", "feature"]).ok();
    let feature = repo.read(FILE);
    repo.git(&["checkout", "-q", "main"]).ok();
    repo.rsops(&["set", FILE, r#"["db"]["user"]"#, r#""main-user""#])
        .ok();
    repo.git(&["commit", "-qam", "main"]).ok();
    let main = repo.read(FILE);

    let merge = repo.git(&["merge", "--no-edit", "feature"]);
    assert_eq!(merge.code, 0, "{}", merge.stderr);
    let merged = repo.read(FILE);
    let plain = repo.sops_plain(FILE);
    assert!(
        plain.contains("user: main-user") && plain.contains("api_token: feature-token"),
        "{plain}"
    );
    assert!(plain.contains("password: base-password") && plain.contains("- two"));
    assert_eq!(line(&merged, "user"), line(&main, "user"));
    assert_eq!(line(&merged, "api_token"), line(&feature, "api_token"));
    for unchanged in ["password", "port"] {
        assert_eq!(
            line(&merged, unchanged),
            line(&base, unchanged),
            "{unchanged}"
        );
    }
    let list_items = |t: &str| -> Vec<String> {
        t.lines()
            .filter(|l| l.trim_start().starts_with("- ENC["))
            .map(str::to_string)
            .collect()
    };
    assert_eq!(list_items(&merged), list_items(&base));
    assert_eq!(
        line(&merged, "enc"),
        line(&main, "enc"),
        "ours's data key is kept"
    );
}

#[test]
fn the_same_key_changed_on_both_sides_conflicts_without_plaintext_anywhere() {
    let repo = Repo::new();
    let (ours, merge) = conflicting_merge(&repo);
    let all_output = format!("{}{}", merge.text(), merge.stderr);
    assert!(all_output.contains("CONFLICT"), "{all_output}");
    assert!(all_output.contains(r#"["api_token"]"#), "{all_output}");
    let status = repo.git(&["status", "--porcelain"]).ok().text();
    assert!(status.contains(&format!("UU {FILE}")), "{status}");
    assert_eq!(repo.read(FILE), ours, "ours is left in place, encrypted");
    let secrets = [
        "feature-SECRET-7781",
        "main-SECRET-5520",
        "base-token",
        "base-password",
    ];
    for secret in secrets {
        assert!(!all_output.contains(secret), "{secret} printed");
    }
    let hits = repo.plaintext_hits(&secrets);
    assert!(hits.is_empty(), "{hits:#?}");
}

#[test]
fn a_json_file_merges_key_by_key_and_their_new_keys_are_kept() {
    let repo = Repo::new();
    repo.rsops(&["git", "setup", "--pattern", "*.enc.json"])
        .ok();
    repo.rule(&age1());
    repo.write(
        "app.enc.json",
        r#"{"a": "1", "nested": {"b": 2, "c": [1, 2, 3]}}"#,
    );
    repo.rsops(&[
        "encrypt",
        "-i",
        "--input-type",
        "json",
        "--output-type",
        "json",
        "app.enc.json",
    ])
    .ok();
    repo.git(&["add", "."]).ok();
    repo.git(&["commit", "-qm", "json"]).ok();
    repo.git(&["checkout", "-qb", "feature"]).ok();
    repo.rsops(&["set", "app.enc.json", r#"["nested"]["c"][2]"#, "30"])
        .ok();
    // Their side also gives key 2 access (updatekeys from the creation rule).
    repo.rule(&format!("{},{}", age1(), age2()));
    repo.rsops(&["updatekeys", "-y", "app.enc.json"]).ok();
    repo.rsops(&["updatekeys", "-y", FILE]).ok();
    repo.git(&["commit", "-qam", "feature"]).ok();
    repo.git(&["checkout", "-q", "main"]).ok();
    repo.rsops(&["set", "app.enc.json", r#"["nested"]["c"][0]"#, "10"])
        .ok();
    repo.rsops(&["set", FILE, r#"["port"]"#, "6000"]).ok();
    repo.git(&["commit", "-qam", "main"]).ok();

    let merge = repo.git(&["merge", "--no-edit", "feature"]);
    assert_eq!(merge.code, 0, "{}", merge.stderr);
    let json = repo.sops_plain("app.enc.json");
    let compact: String = json.split_whitespace().collect();
    assert!(compact.contains(r#""c":[10,2,30]"#), "{json}");
    for file in ["app.enc.json", FILE] {
        let mut cmd = repo.lab.command(Tool::Sops);
        cmd.current_dir(repo.lab.path("repo"))
            .env("SOPS_AGE_KEY_FILE", key_file("age2.txt"))
            .args(["decrypt", file]);
        let by_key2 = Run::from(cmd.output().unwrap());
        assert_eq!(
            by_key2.code, 0,
            "{file}: key 2 from their side: {}",
            by_key2.stderr
        );
    }
    assert!(repo.sops_plain(FILE).contains("port: 6000"));
}

/// A conflict on `api_token` between `main` (ours) and `feature` (theirs), git merge left
/// unresolved; returns ours's encrypted file as it was, and what `git merge` said.
fn conflicting_merge(repo: &Repo) -> (String, Run) {
    repo.git(&["checkout", "-qb", "feature"]).ok();
    repo.rsops(&["set", FILE, r#"["api_token"]"#, r#""feature-SECRET-7781""#])
        .ok();
    repo.git(&["commit", "-qam", "feature"]).ok();
    repo.git(&["checkout", "-q", "main"]).ok();
    repo.rsops(&["set", FILE, r#"["api_token"]"#, r#""main-SECRET-5520""#])
        .ok();
    repo.git(&["commit", "-qam", "main"]).ok();
    let ours = repo.read(FILE);
    let merge = repo.git(&["merge", "--no-edit", "feature"]);
    assert_ne!(merge.code, 0);
    (ours, merge)
}

#[test]
fn mergetool_resolves_in_private_scratch_then_encrypts_and_stages() {
    let repo = Repo::new();
    let (ours, _) = conflicting_merge(&repo);
    // The "tool" takes their version and records what it was given.
    repo.git(&[
        "config",
        "mergetool.take-theirs.cmd",
        r#"stat -c %a "$(dirname "$MERGED")" "$MERGED" > ../seen; cp "$REMOTE" "$MERGED""#,
    ])
    .ok();
    let run = repo.rsops(&["git", "mergetool", "--tool", "take-theirs"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        std::fs::read_to_string(repo.lab.path("seen")).unwrap(),
        "700\n600\n"
    );
    let status = repo.git(&["status", "--porcelain"]).ok().text();
    assert_eq!(status.trim(), format!("M  {FILE}"), "{status}");
    let merged = repo.read(FILE);
    assert!(repo
        .sops_plain(FILE)
        .contains("api_token: feature-SECRET-7781"));
    for unchanged in ["password", "port", "enc"] {
        assert_eq!(
            line(&merged, unchanged),
            line(&ours, unchanged),
            "{unchanged}"
        );
    }
    let tmp_left: Vec<_> = std::fs::read_dir(repo.lab.path("tmp")).unwrap().collect();
    assert!(tmp_left.is_empty(), "scratch left behind: {tmp_left:?}");
    let hits = repo.plaintext_hits(&["feature-SECRET-7781", "main-SECRET-5520", "base-password"]);
    assert!(hits.is_empty(), "{hits:#?}");
}

#[test]
fn mergetool_writes_nothing_when_the_conflict_is_left_unresolved() {
    let repo = Repo::new();
    let (ours, _) = conflicting_merge(&repo);
    repo.git(&["config", "merge.tool", "give-up"]).ok();
    repo.git(&["config", "mergetool.give-up.cmd", "true"]).ok();
    let run = repo.rsops(&["git", "mergetool"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("conflict markers"), "{}", run.stderr);
    assert_eq!(repo.read(FILE), ours);
    assert!(std::fs::read_dir(repo.lab.path("tmp"))
        .unwrap()
        .next()
        .is_none());
    let hits = repo.plaintext_hits(&["feature-SECRET-7781", "main-SECRET-5520", "base-password"]);
    assert!(hits.is_empty(), "{hits:#?}");
}

// ---------------------------------------------------------------------------- textconv

#[test]
fn diff_and_log_show_decrypted_changes_with_keys_and_a_masked_view_without() {
    let repo = Repo::new();
    repo.rsops(&["set", FILE, r#"["api_token"]"#, r#""next-token""#])
        .ok();

    let with_keys = repo.changed_lines(&[FILE]);
    assert_eq!(
        with_keys,
        ["-api_token: base-token", "+api_token: next-token"]
    );

    let without = repo.run("git", &["diff", "-U0", "--no-color", FILE], false);
    assert_eq!(without.code, 0, "{}", without.stderr);
    let text = without.text();
    // Without a key the textconv says nothing on stderr either: git shows its output as is.
    assert!(without.stderr.is_empty(), "{}", without.stderr);
    let changed: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("-api") || l.starts_with("+api"))
        .collect();
    assert_eq!(changed.len(), 2, "{text}");
    assert!(changed.iter().all(|l| l.contains("ENC<str:")), "{text}");
    assert!(!text.contains("base-token") && !text.contains("next-token"));
    assert!(
        !text.contains("lastmodified") && !text.contains("mac:"),
        "{text}"
    );

    repo.git(&["commit", "-qam", "next"]).ok();
    let log = repo.git(&["log", "-p", "--no-color", "-1"]).ok().text();
    assert!(log.contains("+api_token: next-token"), "{log}");
    let masked_log = repo.run("git", &["log", "-p", "--no-color", "-1"], false);
    assert_eq!(masked_log.code, 0);
    assert!(masked_log.text().contains("+api_token: ENC<str:"));
    assert!(!masked_log.text().contains("next-token"));
}

// -------------------------------------------------------------------- setup and check

#[test]
fn setup_is_idempotent_here_and_globally() {
    let repo = Repo::new();
    let attributes = repo.read(".gitattributes");
    repo.rsops(&["git", "setup"]).ok();
    assert_eq!(repo.read(".gitattributes"), attributes);
    let drivers = repo
        .git(&["config", "--get-all", "merge.sops.driver"])
        .ok()
        .text();
    assert_eq!(drivers.lines().count(), 1, "{drivers}");
    assert!(drivers.ends_with("git merge-driver %O %A %B %P\n"));

    for _ in 0..2 {
        repo.rsops(&["git", "setup", "--global", "--pattern", "*.secret.json"])
            .ok();
    }
    let global = std::fs::read_to_string(repo.lab.path("home/.config/git/attributes")).unwrap();
    assert_eq!(global, "*.secret.json diff=sops merge=sops\n");
    let textconv = repo
        .git(&["config", "--global", "--get-all", "diff.sops.textconv"])
        .ok()
        .text();
    assert_eq!(textconv.lines().count(), 1);
}

#[test]
fn check_refuses_staged_files_a_rule_matches_that_are_not_encrypted() {
    let repo = Repo::new();
    repo.write("plain.enc.yaml", "password: oops\n");
    repo.write("notes.yaml", "not: secret\n");
    repo.write("other.enc.yaml", "token: fine\n");
    repo.rsops(&["encrypt", "-i", "other.enc.yaml"]).ok();
    repo.git(&["add", "."]).ok();
    let refused = repo.rsops(&["git", "check"]);
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    assert!(
        refused.stderr.contains("plain.enc.yaml"),
        "{}",
        refused.stderr
    );
    assert!(!refused.stderr.contains("other.enc.yaml") && !refused.stderr.contains("notes.yaml"));
    assert!(!refused.stderr.contains("oops"));

    // pre-commit passes the file names.
    assert_eq!(
        repo.rsops(&["git", "check", "notes.yaml", "other.enc.yaml"])
            .code,
        0
    );
    assert_eq!(repo.rsops(&["git", "check", "plain.enc.yaml"]).code, 1);

    repo.rsops(&["encrypt", "-i", "plain.enc.yaml"]).ok();
    repo.git(&["add", "plain.enc.yaml"]).ok();
    let passed = repo.rsops(&["git", "check"]);
    assert_eq!(passed.code, 0, "{}", passed.stderr);
    assert_eq!(repo.rsops(&["git", "check", "--all"]).code, 0);
}
