//! Many files in one process (`encrypt`/`decrypt` with `--output-dir` or `-i`, `exec-env` over
//! several files), against the real sops 3.11.0 both ways; one KMS Decrypt per distinct data key
//! (counted at a proxy in front of moto); and one bad file among good ones.

mod common;

use common::{sops, Key, Outcome, Sandbox};
use rand::Rng;
use std::path::{Path, PathBuf};

/// Plaintexts of every text format, with values drawn from the seeded generator.
fn plaintexts(rng: &mut impl Rng) -> Vec<(String, String)> {
    let mut v = || rng.gen_range(0..1_000_000u32);
    vec![
        (
            "app.yaml".into(),
            format!(
                "db:\n    user: app\n    password: pw{}\nport: {}\n",
                v(),
                v()
            ),
        ),
        (
            "list.yaml".into(),
            format!("tokens:\n    - t{}\n    - t{}\nenabled: true\n", v(), v()),
        ),
        (
            "api.json".into(),
            format!("{{\n    \"key\": \"k{}\",\n    \"n\": {}\n}}\n", v(), v()),
        ),
        (
            "web.env".into(),
            format!("SECRET=s{}\nOTHER=o{}\n", v(), v()),
        ),
        ("svc.ini".into(), format!("[db]\npass = p{}\n", v())),
    ]
}

fn ok(out: &Outcome) -> &Outcome {
    assert!(out.ok(), "{}", out.summary());
    out
}

fn age_recipient() -> String {
    Key::Age1.recipient()
}

/// Writes the plaintexts into `dir` and returns their paths.
fn write_all(sandbox: &Sandbox, dir: &str, files: &[(String, String)]) -> Vec<PathBuf> {
    files
        .iter()
        .map(|(name, text)| sandbox.put(&format!("{dir}/{name}"), text.as_bytes()))
        .collect()
}

fn args_with_files<'a>(args: &[&'a str], files: &'a [PathBuf]) -> Vec<&'a std::ffi::OsStr> {
    let mut all: Vec<&std::ffi::OsStr> = args.iter().map(|a| std::ffi::OsStr::new(*a)).collect();
    all.extend(files.iter().map(|f| f.as_os_str()));
    all
}

/// What the real sops prints for `sops decrypt FILE`.
fn sops_plaintext(sandbox: &Sandbox, file: &Path, env: &[(&str, &str)]) -> Vec<u8> {
    let out = sandbox.run_in(&sops(), &sandbox.work(), &[Path::new("decrypt"), file], env);
    ok(&out).stdout.clone()
}

#[test]
fn decrypt_output_dir_reads_what_sops_wrote() {
    let mut rng = common::seeded_rng("decrypt_output_dir_reads_what_sops_wrote");
    let sandbox = Sandbox::new(&[Key::Age1]);
    let files = plaintexts(&mut rng);
    let plain = write_all(&sandbox, "plain", &files);
    let recipient = age_recipient();
    let encrypted: Vec<PathBuf> = plain
        .iter()
        .map(|p| {
            let out = sandbox.run(
                &sops(),
                &[
                    "encrypt".as_ref(),
                    "--age".as_ref(),
                    recipient.as_ref(),
                    p.as_os_str(),
                ],
            );
            sandbox.put(
                &format!("enc/{}", p.file_name().unwrap().to_str().unwrap()),
                &ok(&out).stdout,
            )
        })
        .collect();

    let out_dir = sandbox.work().join("out");
    let args = args_with_files(&["decrypt", "--output-dir", "out"], &encrypted);
    let run = sandbox.run(&common::rsops(), &args);
    ok(&run);
    assert!(
        run.stdout.is_empty(),
        "nothing on stdout in --output-dir mode"
    );
    for file in &encrypted {
        let expected = sops_plaintext(&sandbox, file, &[]);
        let got = std::fs::read(out_dir.join(file.file_name().unwrap())).unwrap();
        common::compare_bytes(&file.display().to_string(), &expected, &got).unwrap();
    }
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(out_dir.join("app.yaml"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o077, 0, "plaintext outputs are private: {mode:o}");

    // -i on each file: every file becomes its plaintext.
    let in_place: Vec<PathBuf> = encrypted
        .iter()
        .map(|f| {
            let name = format!("inplace/{}", f.file_name().unwrap().to_str().unwrap());
            sandbox.put(&name, &std::fs::read(f).unwrap())
        })
        .collect();
    ok(&sandbox.run(
        &common::rsops(),
        &args_with_files(&["decrypt", "-i"], &in_place),
    ));
    for (file, enc) in in_place.iter().zip(&encrypted) {
        let expected = sops_plaintext(&sandbox, enc, &[]);
        common::compare_bytes("in place", &expected, &std::fs::read(file).unwrap()).unwrap();
    }
}

#[test]
fn sops_decrypts_what_encrypt_output_dir_wrote() {
    let mut rng = common::seeded_rng("sops_decrypts_what_encrypt_output_dir_wrote");
    let sandbox = Sandbox::new(&[Key::Age1]);
    let files = plaintexts(&mut rng);
    let plain = write_all(&sandbox, "plain", &files);
    let recipient = age_recipient();
    let args = args_with_files(
        &["encrypt", "--age", &recipient, "--output-dir", "enc"],
        &plain,
    );
    ok(&sandbox.run(&common::rsops(), &args));
    let copies = write_all(&sandbox, "copies", &files);
    ok(&sandbox.run(
        &common::rsops(),
        &args_with_files(&["encrypt", "--age", &recipient, "-i"], &copies),
    ));
    for (name, _) in &files {
        // sops's own decryption of its own encryption is the reference (it normalises JSON
        // and INI the same way for both).
        let by_sops = sandbox.run(
            &sops(),
            &[
                "encrypt".as_ref(),
                "--age".as_ref(),
                recipient.as_ref(),
                sandbox.work().join("plain").join(name).as_os_str(),
            ],
        );
        let reference = sandbox.put(&format!("ref/{name}"), &ok(&by_sops).stdout);
        let expected = sops_plaintext(&sandbox, &reference, &[]);
        for dir in ["enc", "copies"] {
            let file = sandbox.work().join(dir).join(name);
            let text = std::fs::read_to_string(&file).unwrap();
            assert!(
                text.contains("ENC[AES256_GCM,"),
                "{dir}/{name} is encrypted"
            );
            let got = sops_plaintext(&sandbox, &file, &[]);
            common::compare_bytes(&format!("sops decrypt {dir}/{name}"), &expected, &got).unwrap();
        }
    }
}

/// Flips one character of the first encrypted value's ciphertext.
fn tamper(text: &str) -> String {
    let at = text.find("ENC[AES256_GCM,data:").unwrap() + "ENC[AES256_GCM,data:".len();
    let mut bytes = text.as_bytes().to_vec();
    bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
    String::from_utf8(bytes).unwrap()
}

#[test]
fn one_bad_file_fails_the_run_and_leaves_the_others_complete_or_untouched() {
    let mut rng = common::seeded_rng("one_bad_file_fails_the_run");
    let sandbox = Sandbox::new(&[Key::Age1]);
    let files = plaintexts(&mut rng);
    let plain = write_all(&sandbox, "plain", &files[..3]);
    let recipient = age_recipient();
    let mut encrypted = Vec::new();
    for p in &plain {
        let out = sandbox.run(
            &sops(),
            &[
                "encrypt".as_ref(),
                "--age".as_ref(),
                recipient.as_ref(),
                p.as_os_str(),
            ],
        );
        let name = p.file_name().unwrap().to_str().unwrap();
        encrypted.push(sandbox.put(&format!("enc/{name}"), &ok(&out).stdout));
    }
    let bad = &encrypted[1];
    std::fs::write(bad, tamper(&std::fs::read_to_string(bad).unwrap())).unwrap();
    let sops_alone = sandbox.run(&sops(), &[Path::new("decrypt"), bad]);
    assert!(!sops_alone.ok(), "sops refuses the tampered file");
    // An older output of the bad file must stay as it was.
    let stale = sandbox.put("out/list.yaml", b"previous contents\n");

    let run = sandbox.run(
        &common::rsops(),
        &args_with_files(&["decrypt", "--output-dir", "out"], &encrypted),
    );
    assert_eq!(
        run.code,
        sops_alone.code,
        "the bad file's exit code: {}",
        run.summary()
    );
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        stderr.contains(&bad.display().to_string()),
        "names the file: {stderr}"
    );
    for good in [&encrypted[0], &encrypted[2]] {
        assert!(!stderr.contains(&good.display().to_string()), "{stderr}");
        let expected = sops_plaintext(&sandbox, good, &[]);
        let got = std::fs::read(sandbox.work().join("out").join(good.file_name().unwrap()));
        common::compare_bytes("good output", &expected, &got.unwrap()).unwrap();
    }
    assert_eq!(std::fs::read(&stale).unwrap(), b"previous contents\n");
    let mut left: Vec<_> = std::fs::read_dir(sandbox.work().join("out"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    left.sort();
    assert_eq!(
        left,
        ["api.json", "app.yaml", "list.yaml"],
        "no temporary files left"
    );

    // encrypt -i: an already encrypted file among plain ones (sops: 203), the others done.
    let mixed = vec![
        sandbox.put("mixed/a.yaml", files[0].1.as_bytes()),
        sandbox.put("mixed/done.yaml", &std::fs::read(&encrypted[0]).unwrap()),
        sandbox.put("mixed/c.json", files[2].1.as_bytes()),
    ];
    let before = std::fs::read(&mixed[1]).unwrap();
    let run = sandbox.run(
        &common::rsops(),
        &args_with_files(&["encrypt", "--age", &recipient, "-i"], &mixed),
    );
    let sops_alone = sandbox.run(
        &sops(),
        &[
            "encrypt".as_ref(),
            "--age".as_ref(),
            recipient.as_ref(),
            encrypted[0].as_os_str(),
        ],
    );
    assert_eq!(run.code, sops_alone.code, "{}", run.summary());
    assert_eq!(
        std::fs::read(&mixed[1]).unwrap(),
        before,
        "the bad file is untouched"
    );
    for (file, same_plaintext) in [(&mixed[0], &encrypted[0]), (&mixed[2], &encrypted[2])] {
        let expected = sops_plaintext(&sandbox, same_plaintext, &[]);
        let got = sops_plaintext(&sandbox, file, &[]);
        common::compare_bytes("sops decrypt of encrypt -i", &expected, &got).unwrap();
    }
}

#[test]
fn exec_env_takes_several_files_and_the_later_one_wins() {
    let sandbox = Sandbox::new(&[Key::Age1]);
    let recipient = age_recipient();
    let first = sandbox.put("first.env", b"X=from-first\nY=from-first\n");
    let second = sandbox.put("second.yaml", b"Y: from-second\nZ: 3\n");
    for file in [&first, &second] {
        ok(&sandbox.run(
            &common::rsops(),
            &[
                "encrypt".as_ref(),
                "-i".as_ref(),
                "--age".as_ref(),
                recipient.as_ref(),
                file.as_os_str(),
            ],
        ));
    }
    let out = sandbox.run(
        &common::rsops(),
        &[
            "exec-env".as_ref(),
            first.as_os_str(),
            second.as_os_str(),
            "echo \"$X $Y $Z\"".as_ref(),
        ],
    );
    assert_eq!(
        String::from_utf8_lossy(&ok(&out).stdout),
        "from-first from-second 3\n"
    );
}

#[cfg(feature = "aws-kms")]
#[test]
fn one_kms_decrypt_per_distinct_data_key() {
    use common::{cloud, services};
    let moto = services::moto();
    let proxy = cloud::counting_proxy(&moto);
    let arn = services::create_kms_key(&moto);
    let env = cloud::aws_env(&proxy);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let sandbox = Sandbox::new(&[]);
    let run = |tool: &common::Tool, args: &[&str]| {
        let out = sandbox.run_in(tool, &sandbox.work(), args, &env);
        assert!(out.ok(), "{}", out.summary());
        out
    };
    // Two data keys, each shared by three files: sops set keeps a file's data key.
    let mut names = Vec::new();
    for (base, text) in [
        ("a", "secret: one\ncount: 1\n"),
        ("b", "secret: two\ncount: 2\n"),
    ] {
        sandbox.put(&format!("{base}.plain.yaml"), text.as_bytes());
        let enc = run(
            &sops(),
            &["encrypt", "--kms", &arn, &format!("{base}.plain.yaml")],
        );
        sandbox.put(&format!("{base}0.yaml"), &enc.stdout);
        names.push(format!("{base}0.yaml"));
        for i in 1..3 {
            let name = format!("{base}{i}.yaml");
            sandbox.put(&name, &enc.stdout);
            run(
                &sops(),
                &["set", &name, r#"["count"]"#, &format!("{}", 10 + i)],
            );
            names.push(name);
        }
    }
    proxy.reset_counts();
    let mut args = vec!["decrypt", "--output-dir", "out"];
    args.extend(names.iter().map(String::as_str));
    run(&common::rsops(), &args);
    assert_eq!(
        proxy.count("TrentService.Decrypt"),
        2,
        "6 files under 2 data keys: one KMS Decrypt per data key"
    );
    for name in &names {
        let expected = sops_plaintext(&sandbox, &sandbox.work().join(name), &env);
        let got = std::fs::read(sandbox.work().join("out").join(name)).unwrap();
        common::compare_bytes(name, &expected, &got).unwrap();
    }
    let a2 = std::fs::read_to_string(sandbox.work().join("out/a2.yaml")).unwrap();
    assert_eq!(
        a2, "secret: one\ncount: 12\n",
        "the set value, under the shared data key"
    );
}

#[test]
fn exec_file_takes_several_files_each_under_its_own_name() {
    let sandbox = Sandbox::new(&[Key::Age1]);
    let recipient = age_recipient();
    let first = sandbox.put("a/first.yaml", b"db:\n    password: one\n");
    let second = sandbox.put("b/second.env", b"TOKEN=two\n");
    for file in [&first, &second] {
        ok(&sandbox.run(
            &common::rsops(),
            &[
                "encrypt".as_ref(),
                "-i".as_ref(),
                "--age".as_ref(),
                recipient.as_ref(),
                file.as_os_str(),
            ],
        ));
    }
    let mut expected = sops_plaintext(&sandbox, &first, &[]);
    expected.extend(sops_plaintext(&sandbox, &second, &[]));
    for fifo in [&[][..], &["--no-fifo"][..]] {
        let mut args: Vec<&std::ffi::OsStr> = vec!["exec-file".as_ref()];
        args.extend(fifo.iter().map(|a| std::ffi::OsStr::new(*a)));
        args.extend([
            first.as_os_str(),
            second.as_os_str(),
            "for f in {}; do basename \"$f\"; done; cat {}".as_ref(),
        ]);
        let out = sandbox.run(&common::rsops(), &args);
        let mut wanted = b"first.yaml\nsecond.env\n".to_vec();
        wanted.extend(&expected);
        common::expect_output(&out, &wanted).unwrap();
    }
    // Two files of the same name cannot share the private directory.
    let clash = sandbox.put("c/first.yaml", &std::fs::read(&first).unwrap());
    let out = sandbox.run(
        &common::rsops(),
        &[
            "exec-file".as_ref(),
            first.as_os_str(),
            clash.as_os_str(),
            "true".as_ref(),
        ],
    );
    common::expect_failure(&out, 8).unwrap();
}

/// `rsops helm` with two values files that share a data key (one made from the other with
/// `sops set`) asks KMS once; the real helm renders both files' values.
#[cfg(feature = "aws-kms")]
#[test]
fn helm_values_files_sharing_a_data_key_cost_one_kms_decrypt() {
    use common::{cloud, services};
    let moto = services::moto();
    let proxy = cloud::counting_proxy(&moto);
    let arn = services::create_kms_key(&moto);
    let env = cloud::aws_env(&proxy);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let sandbox = Sandbox::new(&[]);
    let run = |tool: &common::Tool, args: &[&str], extra: &[(&str, &str)]| {
        let mut all = env.clone();
        all.extend_from_slice(extra);
        let out = sandbox.run_in(tool, &sandbox.work(), args, &all);
        assert!(out.ok(), "{}", out.summary());
        out
    };
    sandbox.put(
        "chart/Chart.yaml",
        b"apiVersion: v2\nname: demo\nversion: 0.1.0\n",
    );
    sandbox.put(
        "chart/templates/cm.yaml",
        b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: demo\ndata:\n  a: {{ .Values.a | quote }}\n  b: {{ .Values.b | quote }}\n",
    );
    sandbox.put("base.plain.yaml", b"a: from-base\n");
    let base = run(&sops(), &["encrypt", "--kms", &arn, "base.plain.yaml"], &[]);
    sandbox.put("base.yaml", &base.stdout);
    sandbox.put("env.yaml", &base.stdout);
    run(
        &sops(),
        &["set", "env.yaml", r#"["b"]"#, r#""from-env""#],
        &[],
    );
    proxy.reset_counts();
    let helm = common::k8s::helm();
    let out = run(
        &common::rsops(),
        &[
            "helm",
            "template",
            "rel",
            "chart",
            "-f",
            "base.yaml",
            "-f",
            "env.yaml",
        ],
        &[("HELM_BIN", helm.to_str().unwrap())],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("a: \"from-base\"") && text.contains("b: \"from-env\""),
        "{text}"
    );
    assert_eq!(
        proxy.count("TrentService.Decrypt"),
        1,
        "one data key, one call"
    );
}
