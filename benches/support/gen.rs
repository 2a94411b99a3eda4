//! The deterministic benchmark input generator, shared by `examples/gen_bench_input.rs` and
//! the criterion benches.
//!
//! Shape, like a generated multi-tenant values file: `tenants` maps ids to records of ten
//! leaves (strings, an int, a float, a bool, a nested map, a list of maps); leaves that do not
//! fill a whole record go to a flat `extra` map.

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
