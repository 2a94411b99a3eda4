//! The sops operations on a whole file: open, decrypt, reseal, set, unset, extract, rotate,
//! update the keys, add and remove key groups. The CLI, the Kubernetes integrations and any Rust
//! program that reads its encrypted config call these; where bytes come from and go to is the
//! caller's business, and keys come from the [`KeyService`] it passes in.
//!
//! Two states: an [`EncryptedFile`] is what a store read (values still encrypted; enough to
//! change who can open it), a [`SopsFile`] has been opened (values decrypted, data key held).
//! `examples/read_config.rs` is a whole program reading its config this way.

mod error;
mod extract;
mod rewrap;
mod seal;

pub use error::Error;
pub use rewrap::{master_keys, spec_groups, SpecGroups};

use crate::config::KeySpec;
use crate::crypto::{DataKey, IvStash};
use crate::keys::groups::{self, DEFAULT_DECRYPTION_ORDER};
use crate::keys::{KeyService, MasterKey};
use crate::metadata::{Metadata, PartialRule, WRITTEN_VERSION};
use crate::stores::Store;
use crate::tree::path::{self, PathComponent};
use crate::tree::{Document, Node};
use zeroize::Zeroizing;

/// Whether opening a file checks its MAC (`--ignore-mac` is the only reason not to).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MacCheck {
    Verify,
    Ignore,
}

/// How a new file is to be encrypted: its master keys (already resolved, see [`master_keys`]),
/// threshold and partial-encryption options.
pub struct EncryptPlan<'a> {
    pub key_groups: &'a [Vec<Box<dyn MasterKey>>],
    pub shamir_threshold: usize,
    pub rule: PartialRule,
    pub mac_only_encrypted: bool,
}

/// A file as a store read it: the document with its values still encrypted, and the metadata.
/// Changing who can open the file needs no more than this and the data key.
pub struct EncryptedFile {
    pub doc: Document,
    pub meta: Metadata,
}

impl EncryptedFile {
    /// Parses an encrypted file; [`Error::NotEncrypted`] when it has no sops metadata.
    pub fn load(store: &dyn Store, bytes: &[u8]) -> Result<EncryptedFile, Error> {
        let (doc, meta) = store.load_encrypted(bytes).map_err(Error::Load)?;
        let meta = meta.ok_or(Error::NotEncrypted)?;
        Ok(EncryptedFile { doc, meta })
    }

    /// Recovers the data key and decrypts every value, remembering each IV so that
    /// [`SopsFile::reseal`] reproduces the ciphertext of every value that did not change.
    pub fn open(
        self,
        keys: &dyn KeyService,
        decryption_order: &[String],
        mac: MacCheck,
    ) -> Result<SopsFile, Error> {
        self.unseal(keys, decryption_order, mac, Some(IvStash::default()))
    }

    /// Like [`EncryptedFile::open`] for a file that is only read: no IVs are remembered, which
    /// makes decryption faster (a later reseal then gives every value a new IV).
    pub fn decrypt(
        self,
        keys: &dyn KeyService,
        decryption_order: &[String],
        mac: MacCheck,
    ) -> Result<SopsFile, Error> {
        self.unseal(keys, decryption_order, mac, None)
    }

    fn unseal(
        self,
        keys: &dyn KeyService,
        decryption_order: &[String],
        mac: MacCheck,
        stash: Option<IvStash>,
    ) -> Result<SopsFile, Error> {
        let EncryptedFile { mut doc, meta } = self;
        let data_key = groups::recover(&meta, keys, decryption_order)?;
        let plain_comments = seal::unseal(
            &mut doc,
            &meta,
            &data_key,
            stash.as_ref(),
            mac == MacCheck::Verify,
        )?;
        Ok(SopsFile {
            doc,
            meta,
            data_key,
            stash,
            plain_comments,
        })
    }

    /// Rewraps the data key for `groups` (values and MAC untouched): `updatekeys`.
    pub fn update_keys(
        &mut self,
        keys: &dyn KeyService,
        decryption_order: &[String],
        groups: &[Vec<KeySpec>],
        threshold: usize,
    ) -> Result<(), Error> {
        let data_key = groups::recover(&self.meta, keys, decryption_order)?;
        rewrap::rewrap(&mut self.meta, &data_key, keys, groups, threshold)
    }

    /// Adds a key group (the data key is split again); `threshold` `None` keeps the file's.
    pub fn add_group(
        &mut self,
        keys: &dyn KeyService,
        decryption_order: &[String],
        group: Vec<KeySpec>,
        threshold: Option<usize>,
    ) -> Result<(), Error> {
        let data_key = groups::recover(&self.meta, keys, decryption_order)?;
        let (groups, threshold) = rewrap::with_added(&self.meta, group, threshold);
        rewrap::rewrap(&mut self.meta, &data_key, keys, &groups, threshold)
    }

    /// Removes key group `index`; refused when the threshold could no longer be met.
    pub fn remove_group(
        &mut self,
        keys: &dyn KeyService,
        decryption_order: &[String],
        index: usize,
        threshold: Option<usize>,
    ) -> Result<(), Error> {
        let data_key = groups::recover(&self.meta, keys, decryption_order)?;
        let (groups, threshold) = rewrap::with_removed(&self.meta, index, threshold)?;
        rewrap::rewrap(&mut self.meta, &data_key, keys, &groups, threshold)
    }

    /// The file's bytes in `store`'s format.
    pub fn emit(self, store: &dyn Store) -> Result<Vec<u8>, Error> {
        Ok(store.emit_encrypted(self.doc, &self.meta)?)
    }
}

/// An opened sops file: the plaintext document, its metadata and the data key. The document
/// and the data key are wiped when it is dropped.
///
/// Reading a value, as a service reading its config would (keys as sops finds them):
///
/// ```no_run
/// use rsops::file::SopsFile;
/// use rsops::keys::EnvKeys;
/// use rsops::stores::{store_for, Format, StoreOptions};
///
/// let store = store_for(Format::Yaml, StoreOptions::default());
/// let bytes = std::fs::read("config.enc.yaml")?;
/// let config = SopsFile::decrypt(store.as_ref(), &bytes, &EnvKeys::from_env(), &SopsFile::default_order())?;
/// let host = config.document().branches[0].get("db_host").and_then(|v| v.as_str());
/// println!("connecting to {}", host.unwrap_or("localhost"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// Changing a value and writing the file back, keeping every other value's ciphertext:
///
/// ```no_run
/// # use rsops::file::SopsFile;
/// # use rsops::keys::EnvKeys;
/// # use rsops::stores::{store_for, Format, StoreOptions};
/// use rsops::tree::{path::parse_tree_path, Node};
///
/// let store = store_for(Format::Yaml, StoreOptions::default());
/// let keys = EnvKeys::from_env();
/// let bytes = std::fs::read("config.enc.yaml")?;
/// let mut file = SopsFile::open(store.as_ref(), &bytes, &keys, &SopsFile::default_order())?;
/// file.set(&parse_tree_path(r#"["db_host"]"#)?, Node::str("db2.local"))?;
/// std::fs::write("config.enc.yaml", file.reseal(store.as_ref())?)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct SopsFile {
    doc: Document,
    meta: Metadata,
    data_key: DataKey,
    /// The IVs of the values as opened; a new file has none to keep.
    stash: Option<IvStash>,
    plain_comments: usize,
}

impl SopsFile {
    /// Parses and decrypts an encrypted file, verifying its MAC, ready to be changed and
    /// [resealed](SopsFile::reseal) with the ciphertext of unchanged values kept.
    pub fn open(
        store: &dyn Store,
        bytes: &[u8],
        keys: &dyn KeyService,
        decryption_order: &[String],
    ) -> Result<SopsFile, Error> {
        EncryptedFile::load(store, bytes)?.open(keys, decryption_order, MacCheck::Verify)
    }

    /// Parses and decrypts an encrypted file that is only to be read, verifying its MAC.
    pub fn decrypt(
        store: &dyn Store,
        bytes: &[u8],
        keys: &dyn KeyService,
        decryption_order: &[String],
    ) -> Result<SopsFile, Error> {
        EncryptedFile::load(store, bytes)?.decrypt(keys, decryption_order, MacCheck::Verify)
    }

    /// sops's default `--decryption-order`: offline keys first.
    pub fn default_order() -> Vec<String> {
        DEFAULT_DECRYPTION_ORDER
            .iter()
            .map(|s| s.to_string())
            .collect()
    }

    /// A new file holding plaintext `doc`, with a fresh data key wrapped for the plan's keys.
    /// Nothing is encrypted until [`SopsFile::reseal`].
    pub fn create(doc: Document, plan: &EncryptPlan) -> Result<SopsFile, Error> {
        if doc.branches.is_empty() {
            return Err(Error::EmptyDocument);
        }
        let data_key = DataKey::generate();
        let (key_groups, shamir_threshold) =
            groups::wrap_groups(&data_key, plan.key_groups, plan.shamir_threshold)?;
        let meta = Metadata {
            key_groups,
            shamir_threshold,
            rule: plan.rule.clone(),
            mac_only_encrypted: plan.mac_only_encrypted,
            version: WRITTEN_VERSION.to_string(),
            ..Metadata::default()
        };
        Ok(SopsFile {
            doc,
            meta,
            data_key,
            stash: None,
            plain_comments: 0,
        })
    }

    /// The plaintext document.
    pub fn document(&self) -> &Document {
        &self.doc
    }

    pub fn document_mut(&mut self) -> &mut Document {
        &mut self.doc
    }

    pub fn metadata(&self) -> &Metadata {
        &self.meta
    }

    /// Comments that were stored in plaintext (files written by old sops versions).
    pub fn plain_comments(&self) -> usize {
        self.plain_comments
    }

    /// Takes the plaintext document out (the data key is dropped and wiped).
    pub fn into_document(mut self) -> Document {
        std::mem::take(&mut self.doc)
    }

    /// Replaces the document, and the metadata when given (an edit with `--show-master-keys`).
    pub fn replace(&mut self, doc: Document, meta: Option<Metadata>) {
        self.doc = doc;
        if let Some(meta) = meta {
            self.meta = meta;
        }
    }

    /// Records another partial-encryption rule and MAC mode; the next reseal applies them.
    pub fn set_partial(&mut self, rule: PartialRule, mac_only_encrypted: bool) {
        self.meta.rule = rule;
        self.meta.mac_only_encrypted = mac_only_encrypted;
    }

    /// When `other` was opened with the same data key, remembers its IVs too, so that a value
    /// taken over from it (a merge taking their side) keeps its ciphertext on reseal. False, and
    /// nothing done, for another data key or a file opened without remembering IVs.
    pub fn adopt_ivs(&mut self, other: &SopsFile) -> bool {
        match (&self.stash, &other.stash) {
            (Some(ours), Some(theirs)) if self.data_key.same_as(&other.data_key) => {
                ours.absorb(theirs);
                true
            }
            _ => false,
        }
    }

    /// Sets the value at `path` (creating what is missing); false when nothing changed.
    pub fn set(&mut self, path: &[PathComponent], value: Node) -> Result<bool, Error> {
        let root = self.doc.branches.first_mut().ok_or(Error::NoDocument)?;
        Ok(path::set(root, path, value))
    }

    /// Removes the value at `path` ([`Error::Unset`] when it is not there).
    pub fn unset(&mut self, path: &[PathComponent]) -> Result<(), Error> {
        let root = self.doc.branches.first_mut().ok_or(Error::NoDocument)?;
        path::unset(root, path).map_err(Error::Unset)
    }

    /// One value's plaintext as `decrypt --extract` prints it in `store`'s format.
    pub fn extract(
        &mut self,
        path: &[PathComponent],
        store: &dyn Store,
    ) -> Result<Zeroizing<Vec<u8>>, Error> {
        extract::extract(&mut self.doc, path, store)
    }

    /// The plaintext in `store`'s format.
    pub fn emit_plain(&self, store: &dyn Store) -> Result<Zeroizing<Vec<u8>>, Error> {
        Ok(Zeroizing::new(store.emit_plain(&self.doc)?))
    }

    /// The plaintext with the metadata block, as `edit --show-master-keys` shows it.
    pub fn emit_with_metadata(&self, store: &dyn Store) -> Result<Zeroizing<Vec<u8>>, Error> {
        Ok(Zeroizing::new(
            store.emit_encrypted(self.doc.clone(), &self.meta)?,
        ))
    }

    /// A new data key, wrapped for `groups` with the file's threshold; every value is
    /// re-encrypted under it by [`SopsFile::reseal`].
    pub fn rotate(&mut self, keys: &dyn KeyService, groups: &[Vec<KeySpec>]) -> Result<(), Error> {
        let data_key = DataKey::generate();
        let threshold = self.meta.shamir_threshold;
        rewrap::rewrap(&mut self.meta, &data_key, keys, groups, threshold)?;
        self.data_key = data_key;
        Ok(())
    }

    /// Rewraps the same data key for `groups` with `threshold`.
    pub fn update_keys(
        &mut self,
        keys: &dyn KeyService,
        groups: &[Vec<KeySpec>],
        threshold: usize,
    ) -> Result<(), Error> {
        rewrap::rewrap(&mut self.meta, &self.data_key, keys, groups, threshold)
    }

    /// Encrypts the document again and returns the file's bytes in `store`'s format. Every value
    /// whose path, type and plaintext did not change keeps its IV, so its ciphertext too; the
    /// MAC and `lastmodified` are new, and an older sops version is bumped.
    pub fn reseal(mut self, store: &dyn Store) -> Result<Vec<u8>, Error> {
        seal::bump_version(&mut self.meta);
        self.seal_into(store)
    }

    /// Like [`SopsFile::reseal`] but keeps the version a new file was created with.
    fn seal_into(mut self, store: &dyn Store) -> Result<Vec<u8>, Error> {
        seal::seal(
            &mut self.doc,
            &mut self.meta,
            &self.data_key,
            self.stash.as_ref(),
        )?;
        let doc = std::mem::take(&mut self.doc);
        Ok(store.emit_encrypted(doc, &self.meta)?)
    }

    /// Encrypts a new file (see [`SopsFile::create`]) and returns its bytes.
    pub fn encrypt_new(
        doc: Document,
        plan: &EncryptPlan,
        store: &dyn Store,
    ) -> Result<Vec<u8>, Error> {
        Self::create(doc, plan)?.seal_into(store)
    }
}

#[cfg(test)]
mod tests;
