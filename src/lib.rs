//! rsops: SOPS-compatible encryption of structured documents.
//!
//! Layers (each may use only those below it): `config`, `stores`, `keys` → `crypto` → `tree`.

#![forbid(unsafe_code)]

pub mod compat;
pub mod config;
pub mod crypto;
pub mod file;
pub mod k8s;
pub mod keys;
pub mod metadata;
pub mod publish;
pub mod stores;
pub mod sys;
pub mod tree;
