//! Parse and emit per format and size, and for YAML per shape (plain, commented values file,
//! manifest stream with anchors, certificate blocks): `cargo bench --bench stores`.

mod support;

use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};
use rsops::stores::{store_for, Format, StoreOptions};

fn stores(c: &mut Criterion) {
    for (format, gen_format) in support::formats() {
        let mut group = c.benchmark_group(format!("store/{}", format.name()));
        group.sample_size(10);
        for leaves in support::sizes() {
            let input = support::input(format, gen_format, leaves);
            let store = store_for(format, StoreOptions::default());
            group.throughput(Throughput::Elements(leaves as u64));
            group.bench_with_input(BenchmarkId::new("parse_plain", leaves), &input, |b, i| {
                b.iter(|| store.load_plain(&i.plain).expect("parses"))
            });
            group.bench_with_input(
                BenchmarkId::new("parse_encrypted", leaves),
                &input,
                |b, i| b.iter(|| store.load_encrypted(&i.encrypted).expect("parses")),
            );
            let plain_doc = store.load_plain(&input.plain).expect("parses");
            group.bench_function(BenchmarkId::new("emit_plain", leaves), |b| {
                b.iter(|| store.emit_plain(&plain_doc).expect("emits"))
            });
            let (enc_doc, meta) = store.load_encrypted(&input.encrypted).expect("parses");
            let meta = meta.expect("has metadata");
            group.bench_function(BenchmarkId::new("emit_encrypted", leaves), |b| {
                b.iter_batched(
                    || enc_doc.clone(),
                    |doc| store.emit_encrypted(doc, &meta).expect("emits"),
                    BatchSize::LargeInput,
                )
            });
        }
        group.finish();
    }
}

/// YAML written like real files: parse (the fast reader must take all of them) and emit.
fn yaml_shapes(c: &mut Criterion) {
    let store = store_for(Format::Yaml, StoreOptions::default());
    for shape in support::gen::Shape::ALL {
        let mut group = c.benchmark_group(format!("store/yaml-{}", shape.name()));
        group.sample_size(10);
        for leaves in support::sizes() {
            let input = support::shaped_input(shape, leaves);
            group.throughput(Throughput::Elements(leaves as u64));
            group.bench_with_input(BenchmarkId::new("parse_plain", leaves), &input, |b, i| {
                b.iter(|| store.load_plain(&i.plain).expect("parses"))
            });
            group.bench_with_input(
                BenchmarkId::new("parse_encrypted", leaves),
                &input,
                |b, i| b.iter(|| store.load_encrypted(&i.encrypted).expect("parses")),
            );
            let plain_doc = store.load_plain(&input.plain).expect("parses");
            group.bench_function(BenchmarkId::new("emit_plain", leaves), |b| {
                b.iter(|| store.emit_plain(&plain_doc).expect("emits"))
            });
        }
        group.finish();
    }
}

criterion_group!(benches, stores, yaml_shapes);
criterion_main!(benches);
