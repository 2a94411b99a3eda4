//! The deterministic benchmark input generator, shared by `examples/gen_bench_input.rs` and
//! the criterion benches.
//!
//! Shape, like a generated multi-tenant values file: `tenants` maps ids to records of ten
//! leaves (strings, an int, a float, a bool, a nested map, a list of maps); leaves that do not
//! fill a whole record go to a flat `extra` map.
//!
//! [`generate_shaped`] writes the same kind of data the way real YAML files look (see [`Shape`]):
//! commented values files, Kubernetes manifest streams with anchors, and certificate blocks.

#![allow(dead_code)]

use std::fmt::Write as _;

/// splitmix64: tiny, seedable, and stable across platforms and Rust versions.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// A string that every YAML resolver reads as a plain string (letter-led, no specials).
    fn word(&mut self, min: usize, max: usize) -> String {
        const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
        let len = min + self.below((max - min + 1) as u64) as usize;
        let mut s = String::with_capacity(len + 2);
        s.push_str("s-");
        for _ in 0..len {
            s.push(ALPHABET[self.below(ALPHABET.len() as u64) as usize] as char);
        }
        s
    }
}

#[derive(Clone, Copy, PartialEq)]
pub enum Format {
    Yaml,
    Json,
}

enum Value {
    Str(String),
    Int(i64),
    Float(String),
    Bool(bool),
    Map(Vec<(String, Value)>),
    List(Vec<Value>),
}

const LEAVES_PER_RECORD: usize = 10;

fn record(rng: &mut Rng) -> Value {
    let port = |rng: &mut Rng, name: &str| {
        Value::Map(vec![
            ("name".into(), Value::Str(name.to_string())),
            ("port".into(), Value::Int(1024 + rng.below(60000) as i64)),
        ])
    };
    Value::Map(vec![
        ("name".into(), Value::Str(rng.word(8, 24))),
        ("replicas".into(), Value::Int(rng.below(100) as i64)),
        (
            "ratio".into(),
            Value::Float(format!("{}.{:03}", rng.below(10), 1 + rng.below(999))),
        ),
        ("enabled".into(), Value::Bool(rng.below(2) == 1)),
        (
            "labels".into(),
            Value::Map(vec![
                ("app".into(), Value::Str(rng.word(4, 12))),
                ("tier".into(), Value::Str(rng.word(4, 8))),
            ]),
        ),
        (
            "ports".into(),
            Value::List(vec![port(rng, "http"), port(rng, "grpc")]),
        ),
    ])
}

fn document(leaves: usize, seed: u64) -> Value {
    let mut rng = Rng(seed);
    let records = leaves / LEAVES_PER_RECORD;
    let tenants = (0..records)
        .map(|i| (format!("t{i:07}"), record(&mut rng)))
        .collect();
    let mut top = vec![("tenants".to_string(), Value::Map(tenants))];
    let rest = leaves % LEAVES_PER_RECORD;
    if rest > 0 {
        let extra = (0..rest)
            .map(|i| (format!("k{i}"), Value::Str(rng.word(8, 32))))
            .collect();
        top.push(("extra".to_string(), Value::Map(extra)));
    }
    Value::Map(top)
}

fn scalar(out: &mut String, v: &Value, format: Format) {
    match v {
        Value::Str(s) if format == Format::Json => {
            let _ = write!(out, "\"{s}\"");
        }
        Value::Str(s) | Value::Float(s) => out.push_str(s),
        Value::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Value::Bool(b) => {
            let _ = write!(out, "{b}");
        }
        Value::Map(_) | Value::List(_) => unreachable!("not a scalar"),
    }
}

/// Block YAML; `inline` means the cursor already sits after `- ` for the first key.
fn yaml(out: &mut String, v: &Value, indent: usize, inline: bool) {
    let pad = |out: &mut String, n: usize| out.extend(std::iter::repeat_n(' ', n));
    match v {
        Value::Map(entries) => {
            for (i, (k, val)) in entries.iter().enumerate() {
                if i > 0 || !inline {
                    pad(out, indent);
                }
                out.push_str(k);
                out.push(':');
                match val {
                    Value::Map(_) | Value::List(_) => {
                        out.push('\n');
                        yaml(out, val, indent + 2, false);
                    }
                    _ => {
                        out.push(' ');
                        scalar(out, val, Format::Yaml);
                        out.push('\n');
                    }
                }
            }
        }
        Value::List(items) => {
            for item in items {
                pad(out, indent);
                out.push_str("- ");
                match item {
                    Value::Map(_) | Value::List(_) => yaml(out, item, indent + 2, true),
                    _ => {
                        scalar(out, item, Format::Yaml);
                        out.push('\n');
                    }
                }
            }
        }
        _ => scalar(out, v, Format::Yaml),
    }
}

fn json(out: &mut String, v: &Value, indent: usize) {
    let pad = |out: &mut String, n: usize| out.extend(std::iter::repeat_n(' ', n));
    match v {
        Value::Map(entries) => {
            out.push_str("{\n");
            for (i, (k, val)) in entries.iter().enumerate() {
                pad(out, indent + 2);
                let _ = write!(out, "\"{k}\": ");
                json(out, val, indent + 2);
                out.push_str(if i + 1 < entries.len() { ",\n" } else { "\n" });
            }
            pad(out, indent);
            out.push('}');
        }
        Value::List(items) => {
            out.push_str("[\n");
            for (i, item) in items.iter().enumerate() {
                pad(out, indent + 2);
                json(out, item, indent + 2);
                out.push_str(if i + 1 < items.len() { ",\n" } else { "\n" });
            }
            pad(out, indent);
            out.push(']');
        }
        _ => scalar(out, v, Format::Json),
    }
}

/// The document with exactly `leaves` leaves, as YAML (2-space block style) or JSON.
pub fn generate(format: Format, leaves: usize, seed: u64) -> String {
    let doc = document(leaves, seed);
    let mut out = String::with_capacity(leaves * 64);
    match format {
        Format::Yaml => yaml(&mut out, &doc, 0, false),
        Format::Json => {
            json(&mut out, &doc, 0);
            out.push('\n');
        }
    }
    out
}

/// How a YAML input is written. Every shape holds exactly the requested number of leaves (as
/// sops counts them: aliases expanded, comments not counted).
#[derive(Clone, Copy, PartialEq, Debug)]
pub enum Shape {
    /// [`generate`]'s block YAML: no comments, anchors or block scalars.
    Plain,
    /// A values file as helm charts ship them: a comment block before each record, commented-out
    /// settings, line comments after values, blank lines between records.
    Values,
    /// A stream of Kubernetes-like manifests (`---` between documents) sharing labels through
    /// an anchor and aliases and a `<<:` merge key, with quoted strings and flow sequences.
    Manifests,
    /// Secrets carrying PEM certificates and keys as `|` and `|-` block scalars, and `>` notes.
    Certs,
}

impl Shape {
    pub const ALL: [Shape; 4] = [Shape::Plain, Shape::Values, Shape::Manifests, Shape::Certs];

    pub fn name(self) -> &'static str {
        match self {
            Shape::Plain => "plain",
            Shape::Values => "values",
            Shape::Manifests => "manifests",
            Shape::Certs => "certs",
        }
    }

    pub fn from_name(name: &str) -> Option<Shape> {
        Shape::ALL.into_iter().find(|s| s.name() == name)
    }
}

/// A YAML document with exactly `leaves` leaves, written in `shape`.
pub fn generate_shaped(shape: Shape, leaves: usize, seed: u64) -> String {
    let mut rng = Rng(seed);
    let mut out = String::with_capacity(leaves * 80);
    match shape {
        Shape::Plain => return generate(Format::Yaml, leaves, seed),
        Shape::Values => values_file(&mut out, &mut rng, leaves),
        Shape::Manifests => manifest_stream(&mut out, &mut rng, leaves),
        Shape::Certs => cert_secrets(&mut out, &mut rng, leaves),
    }
    out
}

/// Leaves that do not fill a whole record: a flat map of strings under `key`, at column 0.
fn extra_leaves(out: &mut String, rng: &mut Rng, key: &str, count: usize) {
    if count == 0 {
        return;
    }
    let _ = writeln!(out, "{key}:");
    for i in 0..count {
        let _ = writeln!(out, "  k{i}: {}", rng.word(8, 32));
    }
}

/// Ten leaves per record, as in [`record`]. Every record has a head comment and a blank line
/// before it; every fourth one also documents its fields like a chart's values file does (about
/// 2.5 comment lines per ten leaves in all).
fn values_file(out: &mut String, rng: &mut Rng, leaves: usize) {
    out.push_str("## Default values for the tenants chart.\n## This is a YAML-formatted file.\n\n");
    if leaves >= LEAVES_PER_RECORD {
        out.push_str("# -- Tenants served by this release, by id\ntenants:\n");
    }
    for i in 0..leaves / LEAVES_PER_RECORD {
        let documented = i % 4 == 0;
        let _ = writeln!(out, "  # -- Tenant t{i:07}\n  t{i:07}:");
        let name = rng.word(8, 24);
        if documented {
            let _ = writeln!(out, "    name: {name}  # display name");
            out.push_str("    # replicas: 1\n");
        } else {
            let _ = writeln!(out, "    name: {name}");
        }
        let _ = writeln!(out, "    replicas: {}", rng.below(100));
        let _ = writeln!(
            out,
            "    ratio: {}.{:03}",
            rng.below(10),
            1 + rng.below(999)
        );
        let _ = writeln!(out, "    enabled: {}", rng.below(2) == 1);
        if documented {
            out.push_str("    # -- Labels added to every object\n");
        }
        let _ = writeln!(
            out,
            "    labels:\n      app: {}\n      tier: {}",
            rng.word(4, 12),
            rng.word(4, 8)
        );
        out.push_str("    ports:\n");
        for name in ["http", "grpc"] {
            if documented {
                let _ = writeln!(out, "      # the {name} listener");
            }
            let _ = writeln!(
                out,
                "      - name: {name}\n        port: {}",
                1024 + rng.below(60000)
            );
        }
        out.push('\n');
    }
    if leaves % LEAVES_PER_RECORD > 0 {
        out.push_str("# -- Settings that fit no tenant\n");
    }
    extra_leaves(out, rng, "extra", leaves % LEAVES_PER_RECORD);
}

/// Documents of up to 50 manifests of ten leaves each; the first manifest of a document anchors
/// its labels, the others repeat them through an alias.
fn manifest_stream(out: &mut String, rng: &mut Rng, leaves: usize) {
    const PER_DOC: usize = 50;
    let records = leaves / LEAVES_PER_RECORD;
    for i in 0..records {
        let first = i % PER_DOC == 0;
        if first {
            if i > 0 {
                out.push_str("---\n");
            }
            out.push_str("# Source: tenants/templates/deployments.yaml\ndeployments:\n");
        }
        let _ = writeln!(
            out,
            "  - kind: Deployment\n    metadata:\n      name: 'd{i:07}'\n      namespace: \"default\""
        );
        if first {
            let _ = writeln!(
                out,
                "      labels: &labels\n        app.kubernetes.io/part-of: \"{}\"\n        app.kubernetes.io/managed-by: Helm",
                rng.word(4, 10)
            );
        } else {
            out.push_str("      labels: *labels\n");
        }
        out.push_str("      annotations:\n        <<: {owner: team}\n");
        let _ = writeln!(
            out,
            "    spec:\n      replicas: {}\n      image: \"registry.example.com/{}:1.{}\"\n      args: [\"--port\", \"{}\"]",
            rng.below(10),
            rng.word(4, 10),
            rng.below(30),
            1024 + rng.below(60000)
        );
    }
    let rest = leaves % LEAVES_PER_RECORD;
    if records == 0 || rest > 0 {
        if records > 0 {
            out.push_str("---\n");
        }
        extra_leaves(out, rng, "extra", rest.max(1));
    }
}

/// Ten leaves per secret: a certificate (`|`), a key (`|-`), a folded note (`>`), and seven
/// one-line fields.
fn cert_secrets(out: &mut String, rng: &mut Rng, leaves: usize) {
    let pem = |out: &mut String, rng: &mut Rng, label: &str, lines: usize| {
        let _ = writeln!(out, "      -----BEGIN {label}-----");
        for _ in 0..lines {
            let _ = writeln!(out, "      {}", rng.word(62, 62).replace('-', "+"));
        }
        let _ = writeln!(out, "      -----END {label}-----");
    };
    out.push_str("secrets:\n");
    for i in 0..leaves / LEAVES_PER_RECORD {
        let _ = writeln!(
            out,
            "  s{i:07}:\n    type: kubernetes.io/tls\n    tls.crt: |"
        );
        pem(out, rng, "CERTIFICATE", 6);
        out.push_str("    tls.key: |-\n");
        pem(out, rng, "PRIVATE KEY", 3);
        let _ = writeln!(
            out,
            "    note: >\n      rotated by {}\n      every 90 days",
            rng.word(4, 8)
        );
        let _ = writeln!(
            out,
            "    issuer: {}\n    serial: {}\n    days: {}\n    ca: {}\n    host: \"{}.example.com\"\n    port: {}",
            rng.word(6, 12),
            rng.next() >> 12,
            rng.below(400),
            rng.below(2) == 1,
            rng.word(4, 10),
            1024 + rng.below(60000),
        );
    }
    extra_leaves(out, rng, "extra", leaves % LEAVES_PER_RECORD);
}
