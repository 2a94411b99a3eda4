//! Deterministic benchmark inputs: a YAML or JSON document with exactly N leaves.
//!
//! `cargo run --release --example gen_bench_input -- --format yaml --leaves 100000 [--seed 1]
//! [--shape plain|values|manifests|certs]` writes to stdout (shapes are YAML only: comments,
//! anchors and manifest streams, block scalars; see `benches/support/gen.rs`). The same (format, leaves, seed) always gives the same bytes, so rsops and
//! sops are timed on identical files and results are comparable across runs.

#[path = "../benches/support/gen.rs"]
mod gen;

use gen::{Format, Shape};
use std::io::Write as _;

fn usage() -> ! {
    eprintln!(
        "usage: gen_bench_input --format yaml|json --leaves N [--seed S] [--shape plain|values|manifests|certs]"
    );
    std::process::exit(2)
}

fn main() {
    let mut format = Format::Yaml;
    let mut leaves = 1000usize;
    let mut seed = 1u64;
    let mut shape = Shape::Plain;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| usage());
        match arg.as_str() {
            "--format" => {
                format = match value().as_str() {
                    "yaml" => Format::Yaml,
                    "json" => Format::Json,
                    _ => usage(),
                }
            }
            "--leaves" => leaves = value().parse().unwrap_or_else(|_| usage()),
            "--seed" => seed = value().parse().unwrap_or_else(|_| usage()),
            "--shape" => shape = Shape::from_name(&value()).unwrap_or_else(|| usage()),
            _ => usage(),
        }
    }
    let out = match (format, shape) {
        (_, Shape::Plain) => gen::generate(format, leaves, seed),
        (Format::Yaml, _) => gen::generate_shaped(shape, leaves, seed),
        (Format::Json, _) => usage(),
    };
    std::io::stdout()
        .lock()
        .write_all(out.as_bytes())
        .expect("write to stdout");
}
