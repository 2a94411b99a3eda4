//! Walk + encrypt, walk + decrypt, the MAC alone, and the floor (parse + AES-GCM of the same
//! values, nothing else; see `support/floor.rs`): `cargo bench --bench crypto`.

mod support;

use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};
use rsops::crypto::{decrypt_document, encrypt_document, Cipher, Mac, Protection};
use rsops::stores::{store_for, StoreOptions};
use rsops::tree::{walk_leaves_mut, LeafMut, Scalar, Selector};

fn crypto(c: &mut Criterion) {
    let key = support::key();
    let cipher = Cipher::new(&key);
    let selector = Selector::default();
    let protection = Protection {
        selector: &selector,
        mac_only_encrypted: false,
    };
    for (format, gen_format) in support::formats() {
        let mut group = c.benchmark_group(format!("crypto/{}", format.name()));
        group.sample_size(10);
        for leaves in support::sizes() {
            let input = support::input(format, gen_format, leaves);
            let store = store_for(format, StoreOptions::default());
            let plain = store.load_plain(&input.plain).expect("parses");
            let (encrypted, _) = store.load_encrypted(&input.encrypted).expect("parses");
            group.throughput(Throughput::Elements(leaves as u64));
            group.bench_function(BenchmarkId::new("walk_encrypt", leaves), |b| {
                b.iter_batched(
                    || plain.clone(),
                    |mut doc| {
                        encrypt_document(&mut doc, &cipher, &protection, None).expect("encrypts");
                        doc
                    },
                    BatchSize::LargeInput,
                )
            });
            group.bench_function(BenchmarkId::new("walk_decrypt", leaves), |b| {
                b.iter_batched(
                    || encrypted.clone(),
                    |mut doc| {
                        decrypt_document(&mut doc, &cipher, &protection, None).expect("decrypts");
                        doc
                    },
                    BatchSize::LargeInput,
                )
            });
            group.bench_function(BenchmarkId::new("mac", leaves), |b| {
                b.iter_batched(
                    || plain.clone(),
                    |mut doc| {
                        let mut mac = Mac::new(false);
                        walk_leaves_mut(&mut doc, &selector, |_, value| {
                            if let LeafMut::Scalar(Scalar::Str(s)) = &value {
                                mac.add(s.as_bytes(), true);
                            }
                            Ok::<_, ()>(value)
                        })
                        .expect("walks");
                        (mac.finish_hex(), doc)
                    },
                    BatchSize::LargeInput,
                )
            });
            group.bench_with_input(BenchmarkId::new("floor", leaves), &input, |b, i| {
                b.iter_with_large_drop(|| {
                    support::floor::floor(store.as_ref(), &i.encrypted, key.as_bytes())
                })
            });
        }
        group.finish();
    }
}

criterion_group!(benches, crypto);
criterion_main!(benches);
