//! Interop with the real sops 3.11.0, run at test time in temp dirs.
//!
//! - direction A: `sops encrypt` → `rsops decrypt` must equal `sops decrypt`;
//! - direction B: `rsops encrypt` → `sops decrypt` must succeed (so the MAC verified) and equal
//!   sops's decrypt of its own encryption of the same input; `rsops decrypt` of rsops's file too;
//! - the encrypted file rsops writes has sops's shape (same text once ciphertexts, armored key
//!   blobs and timestamps are masked);
//! - `encrypt -i` / `--output`;
//! - `.sops.yaml` creation rules, `--config` and the recipient env variables, seen by both tools.
//!
//! Every family reports all its failures at once, with the count of cases it ran.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::{
    compare_bytes, diff_summary, expect_failure, expect_output, finish_all, inputs_dir, Key,
    Outcome, Report, Sandbox, Tool,
};

/// Every plaintext input, by format.
const INPUTS: &[&str] = &[
    "basic.yaml",
    "timestamps.yaml",
    "anchors.yaml",
    "anchors_comments.yaml",
    "multidoc.yaml",
    "comments.yaml",
    "dedented_comments.yaml",
    "value_head_comments.yaml",
    "partial.yaml",
    "basic.json",
    "basic.env",
    "basic.ini",
    "text.bin",
    "nonutf8.bin",
    "random.bin",
    "empty.bin",
    "edge.yaml",
    "edge.json",
    "edge.env",
    "edge.ini",
];

/// The inputs partial encryption means something for (binary has a single `data` value).
const STRUCTURED: &[&str] = &[
    "basic.yaml",
    "multidoc.yaml",
    "comments.yaml",
    "partial.yaml",
    "basic.json",
    "basic.env",
    "basic.ini",
];

/// The inputs every other key type is tried on: one or two of each format.
const ONE_PER_FORMAT: &[&str] = &[
    "basic.yaml",
    "multidoc.yaml",
    "basic.json",
    "basic.env",
    "basic.ini",
    "nonutf8.bin",
    "empty.bin",
];

/// One encryption to perform with both tools, and how to decrypt its result.
#[derive(Clone)]
struct Case {
    name: String,
    input: &'static str,
    /// Keys the decrypting side holds (also the sandbox the case runs in).
    keys: Vec<Key>,
    /// Arguments before `encrypt` (e.g. `--config`).
    global: Vec<String>,
    /// Arguments between `encrypt` and the file.
    flags: Vec<String>,
    env: Vec<(String, String)>,
    /// Written as `.sops.yaml` next to the file; the tools run from that dir.
    config: Option<String>,
}

impl Case {
    fn new(name: String, input: &'static str, keys: &[Key]) -> Case {
        Case {
            name,
            input,
            keys: keys.to_vec(),
            global: Vec::new(),
            flags: Vec::new(),
            env: Vec::new(),
            config: None,
        }
    }

    fn with_key_flags(mut self, keys: &[Key]) -> Case {
        self.flags.extend(key_flags(keys));
        self
    }

    fn encrypt_args(&self, file: &str) -> Vec<String> {
        let mut args = self.global.clone();
        args.push("encrypt".into());
        args.extend(self.flags.iter().cloned());
        args.push(file.into());
        args
    }

    fn env(&self) -> Vec<(&str, &str)> {
        self.env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect()
    }
}

/// `--age a,b --pgp c` for a key set, the way a user names several recipients.
fn key_flags(keys: &[Key]) -> Vec<String> {
    let mut flags = Vec::new();
    for (flag, age) in [("--age", true), ("--pgp", false)] {
        let list: Vec<String> = keys
            .iter()
            .filter(|k| k.is_age() == age)
            .map(|k| k.recipient())
            .collect();
        if !list.is_empty() {
            flags.push(flag.to_string());
            flags.push(list.join(","));
        }
    }
    flags
}

fn key_set_name(keys: &[Key]) -> String {
    keys.iter().map(|k| k.name()).collect::<Vec<_>>().join("+")
}

/// Partial-encryption modes given as flags, with patterns that select something in every input.
fn flag_modes() -> Vec<(&'static str, Vec<&'static str>)> {
    vec![
        ("unencrypted_suffix", vec!["--unencrypted-suffix", "word"]),
        ("encrypted_suffix", vec!["--encrypted-suffix", "word"]),
        (
            "unencrypted_regex",
            vec![
                "--unencrypted-regex",
                "(?i)^(pass|db_|name|data|nested|list)",
            ],
        ),
        (
            "encrypted_regex",
            vec!["--encrypted-regex", "(?i)(pass|secret|token|key|database)"],
        ),
    ]
}

/// Modes only a `.sops.yaml` can set in 3.11 (comment regexes, mac_only_encrypted, key groups).
fn config_modes() -> Vec<(&'static str, Vec<Key>, String)> {
    let age1 = Key::Age1.recipient();
    let age2 = Key::Age2.recipient();
    let rsa = Key::PgpRsa.recipient();
    vec![
        (
            "encrypted_comment_regex",
            vec![Key::Age1],
            format!("creation_rules:\n  - age: {age1}\n    encrypted_comment_regex: (?i)sops:encrypt|comment\n"),
        ),
        (
            "unencrypted_comment_regex",
            vec![Key::Age1],
            format!("creation_rules:\n  - age: {age1}\n    unencrypted_comment_regex: sops:plain\n"),
        ),
        (
            "mac_only_encrypted",
            vec![Key::Age1],
            format!("creation_rules:\n  - age: {age1}\n    mac_only_encrypted: true\n"),
        ),
        (
            "mac_only_encrypted_regex",
            vec![Key::Age1],
            format!(
                "creation_rules:\n  - age: {age1}\n    encrypted_regex: (?i)pass|secret\n    mac_only_encrypted: true\n"
            ),
        ),
        (
            "shamir_2_of_2",
            vec![Key::Age1, Key::Age2],
            format!(
                "creation_rules:\n  - shamir_threshold: 2\n    key_groups:\n      - age: [{age1}]\n      - age: [{age2}]\n"
            ),
        ),
        (
            "shamir_2_of_3",
            vec![Key::Age2, Key::PgpRsa],
            format!(
                "creation_rules:\n  - shamir_threshold: 2\n    key_groups:\n      - age: [{age1}]\n      - age: [{age2}]\n      - pgp: [{rsa}]\n"
            ),
        ),
        (
            "group_mixed",
            vec![Key::PgpRsa],
            format!("creation_rules:\n  - key_groups:\n      - age: [{age1}]\n        pgp: [{rsa}]\n"),
        ),
    ]
}

/// The cases of directions A and B: every input × key type, every structured input × mode.
fn cases() -> Vec<Case> {
    let key_sets: [&[Key]; 5] = [
        &[Key::Age1],
        &[Key::PgpRsa],
        &[Key::PgpEd25519],
        &[Key::Age1, Key::PgpRsa],
        &[Key::Age1, Key::Age2],
    ];
    let mut cases = Vec::new();
    for input in INPUTS {
        for keys in key_sets {
            if keys != [Key::Age1] && !ONE_PER_FORMAT.contains(input) {
                continue;
            }
            let name = format!("{input}/{}", key_set_name(keys));
            // The decrypting side holds only the last recipient: any one must be enough.
            let holder = [*keys.last().expect("non-empty key set")];
            cases.push(Case::new(name, input, &holder).with_key_flags(keys));
        }
    }
    for input in STRUCTURED {
        for (mode, flags) in flag_modes() {
            let mut case = Case::new(format!("{input}/age1/{mode}"), input, &[Key::Age1])
                .with_key_flags(&[Key::Age1]);
            case.flags.extend(flags.iter().map(|s| s.to_string()));
            cases.push(case);
        }
        for (mode, keys, config) in config_modes() {
            let mut case = Case::new(format!("{input}/config/{mode}"), input, &keys);
            case.config = Some(config);
            cases.push(case);
        }
    }
    for (input, var, key) in [
        ("basic.yaml", "SOPS_AGE_RECIPIENTS", Key::Age2),
        ("basic.json", "SOPS_AGE_RECIPIENTS", Key::Age1),
        ("basic.env", "SOPS_PGP_FP", Key::PgpEd25519),
        ("basic.ini", "SOPS_PGP_FP", Key::PgpRsa),
    ] {
        let mut case = Case::new(format!("{input}/env/{var}"), input, &[key]);
        case.env.push((var.to_string(), key.recipient()));
        cases.push(case);
    }
    cases
}

/// Sandboxes shared by key set (importing PGP keys is the slow part), one dir per case inside.
struct World {
    sandboxes: BTreeMap<Vec<Key>, Sandbox>,
    next_dir: usize,
}

impl World {
    fn new() -> World {
        World {
            sandboxes: BTreeMap::new(),
            next_dir: 0,
        }
    }

    fn sandbox(&mut self, keys: &[Key]) -> &Sandbox {
        let mut keys = keys.to_vec();
        keys.sort();
        self.sandboxes
            .entry(keys.clone())
            .or_insert_with(|| Sandbox::new(&keys))
    }

    /// A fresh dir for one case in the sandbox of `keys`, holding the input and the config.
    fn case_dir(&mut self, case: &Case) -> PathBuf {
        self.next_dir += 1;
        let dir = self
            .sandbox(&case.keys)
            .work()
            .join(format!("c{}", self.next_dir));
        std::fs::create_dir_all(&dir).expect("mkdir case dir");
        std::fs::copy(inputs_dir().join(case.input), dir.join(case.input)).expect("copy input");
        if let Some(config) = &case.config {
            std::fs::write(dir.join(".sops.yaml"), config).expect("write .sops.yaml");
        }
        dir
    }
}

/// Runs `check` over `items` on a few threads, each with its own World; results in item order.
fn run_parallel<C: Sync, R: Send>(
    items: &[C],
    check: impl Fn(&mut World, &C) -> R + Sync,
) -> Vec<R> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Mutex;
    let workers = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .clamp(2, 4);
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<R>>> = Mutex::new((0..items.len()).map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                let mut world = World::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(item) = items.get(i) else { break };
                    let result = check(&mut world, item);
                    results.lock().expect("results lock")[i] = Some(result);
                }
            });
        }
    });
    results
        .into_inner()
        .expect("results lock")
        .into_iter()
        .map(|r| r.expect("every item ran"))
        .collect()
}

fn run(
    sandbox: &Sandbox,
    tool: &Tool,
    dir: &Path,
    args: &[String],
    env: &[(&str, &str)],
) -> Outcome {
    sandbox.run_in(tool, dir, args, env)
}

/// `decrypt FILE` in `dir`.
fn decrypt(sandbox: &Sandbox, tool: &Tool, dir: &Path, file: &str) -> Outcome {
    run(sandbox, tool, dir, &["decrypt".into(), file.into()], &[])
}

/// Encrypts `case.input` with `tool` into `<prefix>-<input>` (same extension); the outcome of the
/// encrypt, and the written file name when it succeeded.
fn encrypt_to(
    sandbox: &Sandbox,
    tool: &Tool,
    dir: &Path,
    case: &Case,
    prefix: &str,
) -> (Outcome, Option<String>) {
    let out = run(
        sandbox,
        tool,
        dir,
        &case.encrypt_args(case.input),
        &case.env(),
    );
    if !out.ok() {
        return (out, None);
    }
    let name = format!("{prefix}-{}", case.input);
    std::fs::write(dir.join(&name), &out.stdout).expect("write encrypted file");
    (out, Some(name))
}

/// sops's own encrypt + decrypt of the case: the reference every check compares against.
fn sops_reference(sandbox: &Sandbox, dir: &Path, case: &Case) -> Result<(String, Vec<u8>), String> {
    let sops = common::sops();
    let (out, file) = encrypt_to(sandbox, &sops, dir, case, "s");
    let file = file.ok_or_else(|| format!("setup: sops cannot encrypt: {}", out.summary()))?;
    let dec = decrypt(sandbox, &sops, dir, &file);
    if !dec.ok() {
        return Err(format!(
            "setup: sops cannot decrypt its own file: {}",
            dec.summary()
        ));
    }
    Ok((file, dec.stdout))
}

fn direction_a(world: &mut World, case: &Case) -> Result<(), String> {
    let dir = world.case_dir(case);
    let sandbox = world.sandbox(&case.keys);
    let (file, expected) = sops_reference(sandbox, &dir, case)?;
    let got = decrypt(sandbox, &common::rsops(), &dir, &file);
    expect_output(&got, &expected)
}

#[test]
fn direction_a_sops_encrypt_rsops_decrypt() {
    let cases = cases();
    let results = run_parallel(&cases, direction_a);
    let mut report = Report::new("interop A: sops encrypt -> rsops decrypt");
    for (case, result) in cases.iter().zip(results) {
        report.case(&case.name, result);
    }
    report.finish();
}

/// Direction B for one case, and the comparison of the two encrypted files when both exist.
fn direction_b(world: &mut World, case: &Case) -> (Result<(), String>, Option<Result<(), String>>) {
    let mut shape = None;
    let result = direction_b_inner(world, case, &mut shape);
    (result, shape)
}

fn direction_b_inner(
    world: &mut World,
    case: &Case,
    shape: &mut Option<Result<(), String>>,
) -> Result<(), String> {
    let dir = world.case_dir(case);
    let sandbox = world.sandbox(&case.keys);
    let (sops, rsops) = (common::sops(), common::rsops());
    let (s_out, s_file) = encrypt_to(sandbox, &sops, &dir, case, "s");
    let (r_out, r_file) = encrypt_to(sandbox, &rsops, &dir, case, "r");
    let Some(s_file) = s_file else {
        // sops refuses this input: rsops must refuse it the same way.
        return expect_failure(&r_out, s_out.code);
    };
    let r_file = r_file.ok_or_else(|| format!("rsops encrypt: {}", r_out.summary()))?;
    *shape = Some(compare_shape(&s_out.stdout, &r_out.stdout));

    let expected = decrypt(sandbox, &sops, &dir, &s_file);
    if !expected.ok() {
        return Err(format!("setup: {}", expected.summary()));
    }
    let mut errors = Vec::new();
    let by_sops = decrypt(sandbox, &sops, &dir, &r_file);
    if let Err(e) = expect_output(&by_sops, &expected.stdout) {
        errors.push(format!("sops decrypt of rsops's file: {e}"));
    }
    let by_rsops = decrypt(sandbox, &rsops, &dir, &r_file);
    if let Err(e) = expect_output(&by_rsops, &expected.stdout) {
        errors.push(format!("rsops round trip: {e}"));
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors.join("; "))
    }
}

#[test]
fn direction_b_rsops_encrypt_sops_decrypt() {
    let cases = cases();
    let results = run_parallel(&cases, direction_b);
    let mut report = Report::new("interop B: rsops encrypt -> sops decrypt (+ rsops round trip)");
    let mut shape = Report::new("interop B: rsops encrypted file has sops's shape");
    for (case, (result, shape_result)) in cases.iter().zip(results) {
        report.case(&case.name, result);
        if let Some(r) = shape_result {
            shape.case(&case.name, r);
        }
    }
    finish_all(vec![report, shape]);
}

/// The encrypted text with everything random or time-dependent masked: ciphertexts (their type
/// stays), armored age/PGP blobs and RFC 3339 timestamps.
fn mask(bytes: &[u8]) -> String {
    use regex::Regex;
    let text = String::from_utf8_lossy(bytes);
    let enc = Regex::new(r"ENC\[AES256_GCM,data:[^,\]]*,iv:[^,\]]*,tag:[^,\]]*,type:(\w+)\]")
        .expect("regex");
    let armor = Regex::new(
        r"(?s)-----BEGIN (AGE ENCRYPTED FILE|PGP MESSAGE)-----.*?-----END (AGE ENCRYPTED FILE|PGP MESSAGE)-----",
    )
    .expect("regex");
    let time =
        Regex::new(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)").expect("regex");
    let text = enc.replace_all(&text, "ENC[…,type:$1]");
    let text = armor.replace_all(&text, "<$1>");
    sort_ini_metadata(&time.replace_all(&text, "<TIME>"))
}

/// sops writes the INI `[sops]` section in Go map order, which changes from run to run; only the
/// set of lines can be compared.
fn sort_ini_metadata(text: &str) -> String {
    let Some(start) = text.find("[sops]\n") else {
        return text.to_string();
    };
    let body_start = start + "[sops]\n".len();
    let body_end = text[body_start..]
        .find("\n\n")
        .map_or(text.len(), |p| body_start + p + 1);
    let mut lines: Vec<&str> = text[body_start..body_end].lines().collect();
    lines.sort_unstable();
    let mut out = text[..body_start].to_string();
    for line in lines {
        out.push_str(line);
        out.push('\n');
    }
    out.push_str(&text[body_end..]);
    out
}

fn compare_shape(sops_file: &[u8], rsops_file: &[u8]) -> Result<(), String> {
    let (s, r) = (mask(sops_file), mask(rsops_file));
    if s == r {
        Ok(())
    } else {
        Err(format!(
            "masked encrypted files differ: {}",
            diff_summary(s.as_bytes(), r.as_bytes())
        ))
    }
}

/// `rsops encrypt -i FILE` and `rsops encrypt --output OUT FILE`: nothing on stdout, and sops
/// decrypts the written file to what it decrypts from its own encryption.
fn in_place(world: &mut World, case: &Case, output_flag: bool) -> Result<(), String> {
    let dir = world.case_dir(case);
    let sandbox = world.sandbox(&case.keys);
    let (_, expected) = sops_reference(sandbox, &dir, case)?;
    let (sops, rsops) = (common::sops(), common::rsops());
    let target = format!("r-{}", case.input);
    let mut args = case.global.clone();
    args.push("encrypt".into());
    args.extend(case.flags.iter().cloned());
    if output_flag {
        args.extend(["--output".into(), target.clone()]);
    } else {
        std::fs::copy(dir.join(case.input), dir.join(&target)).expect("copy");
        args.push("-i".into());
    }
    args.push(if output_flag {
        case.input.into()
    } else {
        target.clone()
    });
    let out = run(sandbox, &rsops, &dir, &args, &case.env());
    if !out.ok() {
        return Err(out.summary());
    }
    if !out.stdout.is_empty() {
        return Err(format!("wrote {} bytes to stdout", out.stdout.len()));
    }
    if output_flag {
        let input = std::fs::read(inputs_dir().join(case.input)).expect("read input");
        let now = std::fs::read(dir.join(case.input)).expect("read input");
        compare_bytes("input file (must be untouched)", &input, &now)?;
    }
    let dec = decrypt(sandbox, &sops, &dir, &target);
    expect_output(&dec, &expected)
}

#[test]
fn encrypt_in_place_and_output_file() {
    let mut cases = Vec::new();
    for input in INPUTS {
        for output_flag in [false, true] {
            let how = if output_flag { "--output" } else { "-i" };
            let case = Case::new(format!("{input}/{how}"), input, &[Key::Age1])
                .with_key_flags(&[Key::Age1]);
            cases.push((case, output_flag));
        }
    }
    let mut case = Case::new(
        "basic.yaml/-i/encrypted_regex".into(),
        "basic.yaml",
        &[Key::PgpRsa],
    )
    .with_key_flags(&[Key::PgpRsa]);
    case.flags
        .extend(["--encrypted-regex".into(), "pass|secret".into()]);
    cases.push((case, false));
    let results = run_parallel(&cases, |world, (case, output_flag)| {
        in_place(world, case, *output_flag)
    });
    let mut report = Report::new("interop: rsops encrypt -i / --output -> sops decrypt");
    for ((case, _), result) in cases.iter().zip(results) {
        report.case(&case.name, result);
    }
    report.finish();
}

/// A `.sops.yaml` with several creation rules in a project tree, and files placed so each rule
/// (and the no-match error) is hit; both tools run from the project root or a subdir of it.
struct Project {
    config: String,
    /// (path inside the project, input, keys that must suffice to decrypt)
    files: Vec<(&'static str, &'static str, Vec<Key>)>,
}

fn project() -> Project {
    let age1 = Key::Age1.recipient();
    let age2 = Key::Age2.recipient();
    let rsa = Key::PgpRsa.recipient();
    let ed = Key::PgpEd25519.recipient();
    let config = format!(
        "creation_rules:
  - path_regex: ^secrets/.*\\.json$
    pgp: {rsa}
  - path_regex: ^partial/
    age: {age1}
    encrypted_regex: ^(api_key|password)
  - path_regex: \\.env$
    key_groups:
      - age:
          - {age1}
        pgp:
          - {ed}
    unencrypted_suffix: _PASSWORD
  - path_regex: shamir/
    shamir_threshold: 2
    key_groups:
      - age: [{age1}]
      - age: [{age2}]
      - pgp: [{rsa}]
  - path_regex: comments/
    age: {age1},{age2}
    encrypted_comment_regex: sops:encrypt
    mac_only_encrypted: true
  - path_regex: ^public/
    age: []
  - path_regex: ^(app|deep/nested)/
    age: {age2}
"
    );
    Project {
        config,
        files: vec![
            ("secrets/basic.json", "basic.json", vec![Key::PgpRsa]),
            ("partial/partial.yaml", "partial.yaml", vec![Key::Age1]),
            ("conf/basic.env", "basic.env", vec![Key::PgpEd25519]),
            ("conf/basic.env", "basic.env", vec![Key::Age1]),
            (
                "shamir/basic.yaml",
                "basic.yaml",
                vec![Key::Age1, Key::PgpRsa],
            ),
            ("comments/comments.yaml", "comments.yaml", vec![Key::Age2]),
            ("app/basic.ini", "basic.ini", vec![Key::Age2]),
            ("deep/nested/nonutf8.bin", "nonutf8.bin", vec![Key::Age2]),
            // no rule matches: both tools must fail alike
            ("other/basic.yaml", "basic.yaml", vec![Key::Age1]),
            // the rule names no key
            ("public/partial.yaml", "partial.yaml", vec![Key::Age1]),
        ],
    }
}

/// How a project file is encrypted: cwd relative to the project root, extra args before
/// `encrypt`, extra `encrypt` flags, env.
struct Invocation {
    label: &'static str,
    cwd: &'static str,
    global: Vec<String>,
    flags: Vec<String>,
    env: Vec<(String, String)>,
    /// Rewrites the file argument (relative to the project root) as the command sees it.
    file_arg: fn(&str) -> String,
}

fn invocations(root: &Path) -> Vec<Invocation> {
    vec![
        Invocation {
            label: "from project root",
            cwd: ".",
            global: vec![],
            flags: vec![],
            env: vec![],
            file_arg: |s| s.to_string(),
        },
        Invocation {
            label: "from a subdir (config found upwards)",
            cwd: "sub",
            global: vec![],
            flags: vec![],
            env: vec![],
            file_arg: |s| format!("../{s}"),
        },
        Invocation {
            // --config disables the search; rules then match the path relative to the config's
            // dir, taken from the absolute path of the file.
            label: "--config from outside the project",
            cwd: "../x",
            global: vec![
                "--config".into(),
                root.join(".sops.yaml").to_string_lossy().into(),
            ],
            flags: vec![],
            env: vec![],
            file_arg: |s| format!("../p/{s}"),
        },
        Invocation {
            label: "--age overrides the rule's keys",
            cwd: ".",
            global: vec![],
            flags: vec!["--age".into(), Key::Age2.recipient()],
            env: vec![],
            file_arg: |s| s.to_string(),
        },
        Invocation {
            label: "SOPS_AGE_RECIPIENTS overrides the rule's keys",
            cwd: ".",
            global: vec![],
            flags: vec![],
            env: vec![("SOPS_AGE_RECIPIENTS".into(), Key::Age2.recipient())],
            file_arg: |s| s.to_string(),
        },
        Invocation {
            label: "--filename-override picks the rule and the format",
            cwd: ".",
            global: vec![],
            flags: vec!["--filename-override".into()],
            env: vec![],
            file_arg: |s| s.to_string(),
        },
    ]
}

/// Builds `<sandbox>/w/p` (the project) with `sub/` and a sibling `x/` outside it.
fn make_project(sandbox: &Sandbox, project: &Project) -> PathBuf {
    let root = sandbox.work().join("p");
    for d in ["sub", "../x"] {
        std::fs::create_dir_all(root.join(d)).expect("mkdir");
    }
    std::fs::write(root.join(".sops.yaml"), &project.config).expect("write config");
    for (path, input, _) in &project.files {
        let dest = root.join(path);
        std::fs::create_dir_all(dest.parent().expect("parent")).expect("mkdir");
        std::fs::copy(inputs_dir().join(input), &dest).expect("copy input");
        if path.ends_with(".yaml") {
            // --filename-override reads this plain-named copy as the path says.
            std::fs::copy(inputs_dir().join(input), root.join(format!("{path}.data")))
                .expect("copy input");
        }
    }
    root
}

/// One project file encrypted one way by both tools; decrypted by both with only the keys the
/// rule (or the override) names.
fn project_case(
    world: &mut World,
    all: &Sandbox,
    root: &Path,
    inv: &Invocation,
    (path, _input, keys): &(&'static str, &'static str, Vec<Key>),
) -> (Result<(), String>, Option<Result<(), String>>) {
    let mut shape = None;
    let result = project_case_inner(world, all, root, inv, (path, keys), &mut shape);
    (result, shape)
}

fn project_case_inner(
    world: &mut World,
    all: &Sandbox,
    root: &Path,
    inv: &Invocation,
    (path, keys): (&str, &[Key]),
    shape: &mut Option<Result<(), String>>,
) -> Result<(), String> {
    let (sops, rsops) = (common::sops(), common::rsops());
    let cwd = root.join(inv.cwd);
    let mut args = inv.global.clone();
    args.push("encrypt".into());
    args.extend(inv.flags.iter().cloned());
    if inv.flags.first().map(String::as_str) == Some("--filename-override") {
        args.push(path.to_string());
        args.push(format!("{path}.data"));
    } else {
        args.push((inv.file_arg)(path));
    }
    let env: Vec<(&str, &str)> = inv
        .env
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let s_out = all.run_in(&sops, &cwd, &args, &env);
    let r_out = all.run_in(&rsops, &cwd, &args, &env);
    if !s_out.ok() {
        return expect_failure(&r_out, s_out.code);
    }
    if !r_out.ok() {
        return Err(format!("rsops: {}", r_out.summary()));
    }
    *shape = Some(compare_shape(&s_out.stdout, &r_out.stdout));

    // Decrypt with only the keys that should have been used: proves the right rule won.
    let overridden = inv.flags.first().map(String::as_str) == Some("--age") || !env.is_empty();
    let keys: Vec<Key> = if overridden {
        vec![Key::Age2]
    } else {
        keys.to_vec()
    };
    let mut holder_case = Case::new(String::new(), "text.bin", &keys);
    holder_case.keys.sort();
    let out_dir = world.case_dir(&holder_case);
    let holder = world.sandbox(&keys);
    let ext = Path::new(path)
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("bin");
    let s_file = format!("s.{ext}");
    let r_file = format!("r.{ext}");
    std::fs::write(out_dir.join(&s_file), &s_out.stdout).expect("write");
    std::fs::write(out_dir.join(&r_file), &r_out.stdout).expect("write");
    let expected = decrypt(holder, &sops, &out_dir, &s_file);
    if !expected.ok() {
        return Err(format!("setup: {}", expected.summary()));
    }
    let mut errors = Vec::new();
    if let Err(e) = expect_output(&decrypt(holder, &sops, &out_dir, &r_file), &expected.stdout) {
        errors.push(format!("sops decrypt of rsops's file: {e}"));
    }
    if let Err(e) = expect_output(
        &decrypt(holder, &rsops, &out_dir, &r_file),
        &expected.stdout,
    ) {
        errors.push(format!("rsops round trip: {e}"));
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors.join("; "))
    }
}

#[test]
fn sops_yaml_creation_rules() {
    let all = Sandbox::new(&Key::ALL);
    let project = project();
    let root = make_project(&all, &project);
    let invocations = invocations(&root);
    let mut items = Vec::new();
    for inv in &invocations {
        for file in &project.files {
            let is_override = inv.flags.first().map(String::as_str) == Some("--filename-override");
            if is_override && !file.0.ends_with(".yaml") {
                continue;
            }
            items.push((inv, file));
        }
    }
    let results = run_parallel(&items, |world, (inv, file)| {
        project_case(world, &all, &root, inv, file)
    });
    let mut report = Report::new("interop: .sops.yaml creation rules, both tools");
    let mut shape = Report::new("interop: .sops.yaml creation rules, encrypted file shape");
    for ((inv, file), (result, shape_result)) in items.iter().zip(results) {
        let tag = format!("{} [{}] keys {}", file.0, inv.label, key_set_name(&file.2));
        report.case(&tag, result);
        if let Some(r) = shape_result {
            shape.case(&tag, r);
        }
    }
    finish_all(vec![report, shape]);
}

/// `decrypt --output-type T` of a sops-encrypted file, for every structured input and every
/// type: same stdout as sops, or the same exit code and no stdout where sops refuses.
#[test]
fn cross_format_decrypt() {
    let mut items = Vec::new();
    for input in STRUCTURED
        .iter()
        .chain(&["edge.yaml", "edge.json", "edge.env", "edge.ini"])
    {
        for output in ["yaml", "json", "dotenv", "ini", "binary"] {
            items.push((*input, output));
        }
    }
    let results = run_parallel(&items, |world, (input, output)| {
        let case = Case::new(String::new(), input, &[Key::Age1]).with_key_flags(&[Key::Age1]);
        let dir = world.case_dir(&case);
        let sandbox = world.sandbox(&case.keys);
        let (file, _) = sops_reference(sandbox, &dir, &case)?;
        let args: Vec<String> = vec![
            "decrypt".into(),
            "--output-type".into(),
            output.to_string(),
            file,
        ];
        let expected = run(sandbox, &common::sops(), &dir, &args, &[]);
        let got = run(sandbox, &common::rsops(), &dir, &args, &[]);
        if expected.ok() {
            expect_output(&got, &expected.stdout)
        } else {
            expect_failure(&got, expected.code)
        }
    });
    let mut report = Report::new("interop: sops encrypt -> decrypt --output-type T, both tools");
    for ((input, output), result) in items.iter().zip(results) {
        report.case(&format!("{input} -> {output}"), result);
    }
    report.finish();
}

/// A document of `sections` × 100 leaves (90 scalars of three types and a 10-item list each), in
/// the exact text sops emits for it, so a decrypt must give back these very bytes.
fn large_document(format: &str, sections: usize) -> Vec<u8> {
    let mut out = String::new();
    let scalar = |s: usize, k: usize| match k % 3 {
        0 => (format!("secret value {s}-{k}"), true),
        1 => ((s * 1000 + k).to_string(), false),
        _ => ((k % 2 == 0).to_string(), false),
    };
    if format == "yaml" {
        out.push_str("# a document above the threading threshold\n");
        for s in 0..sections {
            out.push_str(&format!("section_{s:03}:\n"));
            for k in 0..90 {
                out.push_str(&format!("    key_{k:02}: {}\n", scalar(s, k).0));
            }
            out.push_str("    list:\n");
            for i in 0..10 {
                out.push_str(&format!("        - item {s}-{i}\n"));
            }
        }
    } else {
        out.push_str("{\n");
        for s in 0..sections {
            out.push_str(&format!("\t\"section_{s:03}\": {{\n"));
            for k in 0..90 {
                let (v, quoted) = scalar(s, k);
                let v = if quoted { format!("\"{v}\"") } else { v };
                out.push_str(&format!("\t\t\"key_{k:02}\": {v},\n"));
            }
            out.push_str("\t\t\"list\": [\n");
            for i in 0..10 {
                let comma = if i < 9 { "," } else { "" };
                out.push_str(&format!("\t\t\t\"item {s}-{i}\"{comma}\n"));
            }
            out.push_str("\t\t]\n");
            out.push_str(if s + 1 < sections { "\t},\n" } else { "\t}\n" });
        }
        out.push_str("}\n");
    }
    out.into_bytes()
}

/// Documents above 8,192 leaves take rsops's threaded path (two or more threads, each with at
/// least 4,096 leaves: src/crypto/document.rs). 20,000 leaves in YAML and JSON, both directions,
/// and both must give back the input byte for byte: a chunk encrypted with the wrong path (AAD)
/// or fed to the MAC out of walk order makes sops refuse the file.
#[test]
fn large_documents_take_the_threaded_path_both_directions() {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    assert!(
        cores >= 2,
        "this test needs 2 cores to exercise rsops's threaded path; this machine offers {cores}"
    );
    let sandbox = Sandbox::new(&[Key::Age1]);
    let (sops, rsops) = (common::sops(), common::rsops());
    let flags = key_flags(&[Key::Age1]);
    let mut report = Report::new("interop: 20,000-leaf documents (threaded path)");
    for format in ["yaml", "json"] {
        let plain = large_document(format, 200);
        let input = format!("large.{format}");
        sandbox.put(&input, &plain);
        let encrypt = |tool: &Tool, out: &str| -> Result<String, String> {
            let mut args = vec!["encrypt".to_string()];
            args.extend(flags.iter().cloned());
            args.push(input.clone());
            let o = sandbox.run(tool, &args);
            if !o.ok() {
                return Err(o.summary());
            }
            // Every one of the 20,000 values is encrypted, plus the MAC (and the YAML comment).
            let count = String::from_utf8_lossy(&o.stdout)
                .matches("ENC[AES256_GCM,")
                .count();
            if count != 20_001 + usize::from(format == "yaml") {
                return Err(format!("{} wrote {count} encrypted values", tool.name));
            }
            sandbox.put(out, &o.stdout);
            Ok(out.to_string())
        };
        let s_file = format!("s-large.{format}");
        let r_file = format!("r-large.{format}");
        report.case(
            &format!("{format}: sops encrypt -> rsops decrypt"),
            encrypt(&sops, &s_file)
                .and_then(|f| expect_output(&sandbox.run(&rsops, &["decrypt", &f]), &plain)),
        );
        report.case(
            &format!("{format}: rsops encrypt -> sops decrypt"),
            encrypt(&rsops, &r_file)
                .and_then(|f| expect_output(&sandbox.run(&sops, &["decrypt", &f]), &plain)),
        );
        // The same file read back by rsops with threading off: the threaded and the one-thread
        // paths agree on what was written.
        report.case(
            &format!("{format}: rsops encrypt -> rsops decrypt, RSOPS_THREADS=1"),
            expect_output(
                &sandbox.run_in(
                    &rsops,
                    &sandbox.work(),
                    &["decrypt", &r_file],
                    &[("RSOPS_THREADS", "1")],
                ),
                &plain,
            ),
        );
    }
    report.finish();
}

/// The partial-encryption flags sops 3.11 has only on its legacy top-level form (`sops -e`):
/// `--encrypted-comment-regex`, `--unencrypted-comment-regex` and `--mac-only-encrypted` as flags,
/// not through `.sops.yaml`. Same arguments to both tools: same exit code, same shape of encrypted
/// file (ciphertexts masked), and each tool decrypts the other's file to what sops decrypts from
/// its own (a MAC taken over the wrong values fails the decrypt).
#[test]
fn legacy_encrypt_partial_flags_match_sops() {
    let sandbox = Sandbox::new(&[Key::Age1]);
    let (sops, rsops) = (common::sops(), common::rsops());
    let age = Key::Age1.recipient();
    let modes: [(&str, &[&str]); 4] = [
        (
            "encrypted_comment_regex",
            &["--encrypted-comment-regex", "(?i)sops:encrypt|comment"],
        ),
        (
            "unencrypted_comment_regex",
            &["--unencrypted-comment-regex", "sops:plain"],
        ),
        ("mac_only_encrypted", &["--mac-only-encrypted"]),
        (
            "mac_only_encrypted_regex",
            &[
                "--mac-only-encrypted",
                "--encrypted-regex",
                "(?i)pass|secret",
            ],
        ),
    ];
    let mut report = Report::new("interop: legacy -e with comment-regex / mac-only flags");
    for input in ["comments.yaml", "basic.yaml", "basic.json", "basic.env"] {
        std::fs::copy(inputs_dir().join(input), sandbox.work().join(input)).expect("copy input");
        for (mode, flags) in modes {
            let mut args: Vec<&str> = vec!["-e", "--age", &age];
            args.extend(flags);
            args.push(input);
            let result = (|| {
                let s = sandbox.run(&sops, &args);
                let r = sandbox.run(&rsops, &args);
                if !s.ok() {
                    return expect_failure(&r, s.code);
                }
                if !r.ok() {
                    return Err(r.summary());
                }
                compare_shape(&s.stdout, &r.stdout)?;
                let (s_file, r_file) = (format!("s-{mode}-{input}"), format!("r-{mode}-{input}"));
                sandbox.put(&s_file, &s.stdout);
                sandbox.put(&r_file, &r.stdout);
                let expected = sandbox.run(&sops, &["-d", &s_file]);
                if !expected.ok() {
                    return Err(format!("setup: {}", expected.summary()));
                }
                expect_output(&sandbox.run(&sops, &["-d", &r_file]), &expected.stdout)
                    .map_err(|e| format!("sops -d of rsops's file: {e}"))?;
                expect_output(&sandbox.run(&rsops, &["-d", &s_file]), &expected.stdout)
                    .map_err(|e| format!("rsops -d of sops's file: {e}"))
            })();
            report.case(&format!("{input}/{mode}"), result);
        }
    }
    report.finish();
}

/// Exit code 8 (`ErrorConflictingParameters`): sops 3.11 returns it when `encrypt` reads stdin
/// without `--filename-override` (cmd/sops/encrypt.go). rsops must return the same, with nothing
/// on stdout.
#[test]
fn exit_code_8_matches_sops() {
    let sandbox = Sandbox::new(&[Key::Age1]);
    let age = Key::Age1.recipient();
    let mut report = Report::new("interop: exit code 8, both tools");
    for args in [
        vec!["encrypt", "--age", age.as_str()],
        vec!["encrypt", "--age", age.as_str(), "--input-type", "yaml"],
    ] {
        let s = sandbox.run(&common::sops(), &args);
        let result = if s.code == 8 {
            expect_failure(&sandbox.run(&common::rsops(), &args), 8)
        } else {
            Err(format!("setup: sops did not exit 8: {}", s.summary()))
        };
        report.case(&args.join(" "), result);
    }
    report.finish();
}

/// `-e`, `-d` and `-r` together on the legacy form: sops 3.11 warns ("More than one command …
/// has been specified") and runs them in the order encrypt, decrypt, rotate on the input file,
/// printing the last one's output; the discarded encrypt still needs its keys (exit 1 without),
/// and a missing file is refused (100) before the warning. rsops must match: exit code, the
/// warning exactly when sops warns, and the same output (plaintext byte for byte; an encrypted
/// output must decrypt to what the input decrypts to, with fresh ciphertexts).
#[test]
fn legacy_command_flags_together_match_sops() {
    let sandbox = Sandbox::new(&[Key::Age1]);
    let (sops, rsops) = (common::sops(), common::rsops());
    let age = Key::Age1.recipient();
    let plain = std::fs::read(inputs_dir().join("basic.yaml")).expect("read input");
    sandbox.put("plain.yaml", &plain);
    let enc = sandbox.run(&sops, &["-e", "--age", &age, "plain.yaml"]);
    assert!(enc.ok(), "setup: {}", enc.summary());
    sandbox.put("enc.yaml", &enc.stdout);
    let decrypted = sandbox.run(&sops, &["-d", "enc.yaml"]);
    assert!(decrypted.ok(), "setup: {}", decrypted.summary());
    let warning =
        "More than one command (--encrypt, --decrypt, --rotate, --set) has been specified";
    let mut report = Report::new("interop: legacy -e/-d/-r together");
    let combos: [&[&str]; 10] = [
        &["-e", "-d", "--age", &age],
        &["-d", "-e", "--age", &age],
        &["-e", "-d"],
        &["-d", "-r"],
        &["-r", "-d"],
        // The decryption's error outlives a successful rotation (sops exits 1).
        &["-d", "-r", "--extract", r#"["no-such-key"]"#],
        &["-r", "-d", "--extract", r#"["no-such-key"]"#, "-i"],
        &["-d", "-r", "--extract", r#"["name"]"#],
        &["-e", "-r", "--age", &age],
        &["-e", "-d", "-r", "--age", &age],
    ];
    for flags in combos {
        for file in ["plain.yaml", "enc.yaml", "missing.yaml"] {
            let mut args = flags.to_vec();
            args.push(file);
            let result = (|| {
                let s = sandbox.run(&sops, &args);
                let r = sandbox.run(&rsops, &args);
                if r.code != s.code {
                    return Err(format!("exit {}, sops {}: {}", r.code, s.code, r.summary()));
                }
                let warns = |o: &Outcome| String::from_utf8_lossy(&o.stderr).contains(warning);
                if warns(&r) != warns(&s) {
                    return Err(format!(
                        "warning printed: {}, by sops: {}: {}",
                        warns(&r),
                        warns(&s),
                        r.summary()
                    ));
                }
                if !s.ok() {
                    return expect_failure(&r, s.code);
                }
                let encrypted = |o: &Outcome| String::from_utf8_lossy(&o.stdout).contains("sops:");
                if !encrypted(&s) {
                    return expect_output(&r, &s.stdout);
                }
                if !encrypted(&r) || r.stdout == enc.stdout {
                    return Err(format!(
                        "sops printed a re-encrypted file, rsops not: {}",
                        r.summary()
                    ));
                }
                sandbox.put("out.yaml", &r.stdout);
                expect_output(&sandbox.run(&sops, &["-d", "out.yaml"]), &decrypted.stdout)
            })();
            report.case(&args.join(" "), result);
        }
    }
    report.finish();
}
