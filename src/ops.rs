//! The library's operations on whole files: what the CLI and the Kubernetes wrapper call.
//! Everything here is independent of where bytes come from and go to.

use crate::crypto::{
    decrypt_document, encrypt_document, Cipher, CryptoError, DataKey, IvStash, Protection,
};
use crate::keys::groups::{self, GroupError, RecoverError};
use crate::keys::{KeyService, MasterKey};
use crate::metadata::{BadRegex, Metadata, PartialRule, WRITTEN_VERSION};
use crate::stores::{metadata_wire, Store, StoreError};
use crate::tree::Document;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// An encrypted file that cannot be read as one (sops reports these with exit 1).
    #[error("could not load the encrypted file: {0}")]
    Load(StoreError),
    #[error("the file has no sops metadata, so it is not encrypted (or not in this format); check the file, or pass --input-type")]
    NotEncrypted,
    #[error("the file is already encrypted (it has a top-level `sops` entry); decrypt it first or use `rsops rotate`/`updatekeys`")]
    AlreadyEncrypted,
    #[error("the file has no document to encrypt; it must contain at least one document")]
    EmptyDocument,
    #[error(transparent)]
    Regex(#[from] BadRegex),
    #[error(transparent)]
    Keys(#[from] GroupError),
    #[error("{0}")]
    Recover(#[from] RecoverError),
    #[error("could not decrypt the file: {0}")]
    Decrypt(CryptoError),
    #[error("could not encrypt the file: {0}")]
    Encrypt(CryptoError),
    /// Neither MAC is carried or printed: both are unsalted hashes of the plaintext values, and
    /// printing one lets a reader of stderr brute-force short values (sops prints both).
    #[error("MAC mismatch: the file's MAC does not match its values (neither MAC is shown: they are hashes of the plaintext); the file was modified outside sops/rsops or is corrupted (use --ignore-mac only if you know why)")]
    MacMismatch,
    #[error("MAC mismatch: the file has no MAC; the file is incomplete or was modified (use --ignore-mac to read it anyway)")]
    MacMissing,
    #[error("the MAC cannot be decrypted: {0}")]
    MacUnreadable(String),
}

/// How a new file is to be encrypted.
pub struct EncryptPlan<'a> {
    pub key_groups: &'a [Vec<Box<dyn MasterKey>>],
    pub shamir_threshold: usize,
    pub rule: PartialRule,
    pub mac_only_encrypted: bool,
}

/// Encrypts a plaintext document for new keys, returning the encrypted document and metadata.
pub fn encrypt_new(mut doc: Document, plan: &EncryptPlan) -> Result<(Document, Metadata), Error> {
    if doc.branches.is_empty() {
        return Err(Error::EmptyDocument);
    }
    let data_key = DataKey::generate();
    let (key_groups, threshold) =
        groups::wrap_groups(&data_key, plan.key_groups, plan.shamir_threshold)?;
    let mut meta = Metadata {
        key_groups,
        shamir_threshold: threshold,
        last_modified: String::new(),
        mac: None,
        rule: plan.rule.clone(),
        mac_only_encrypted: plan.mac_only_encrypted,
        version: WRITTEN_VERSION.to_string(),
    };
    seal(&mut doc, &mut meta, &data_key, None)?;
    Ok((doc, meta))
}

/// Encrypts `doc` in place under `data_key` and sets a fresh `lastmodified` and MAC.
pub fn seal(
    doc: &mut Document,
    meta: &mut Metadata,
    data_key: &DataKey,
    stash: Option<&IvStash>,
) -> Result<(), Error> {
    let selector = meta.rule.selector()?;
    let cipher = Cipher::new(data_key);
    let protection = Protection {
        selector: &selector,
        mac_only_encrypted: meta.mac_only_encrypted,
    };
    let mac = encrypt_document(doc, &cipher, &protection, stash).map_err(Error::Encrypt)?;
    meta.last_modified = crate::timefmt::now_rfc3339();
    meta.mac = Some(cipher.seal(
        mac.as_bytes(),
        crate::crypto::ValueType::Str,
        &meta.last_modified,
        None,
    ));
    Ok(())
}

/// A file parsed into its encrypted document and metadata.
pub struct EncryptedFile {
    pub doc: Document,
    pub meta: Metadata,
}

pub fn load_encrypted(store: &dyn Store, bytes: &[u8]) -> Result<EncryptedFile, Error> {
    let (doc, node) = store.load_encrypted(bytes).map_err(Error::Load)?;
    let node = node.ok_or(Error::NotEncrypted)?;
    let meta = metadata_wire::from_node(&node).map_err(Error::Load)?;
    Ok(EncryptedFile { doc, meta })
}

/// Options for decryption.
pub struct DecryptOptions<'a> {
    pub keys: &'a dyn KeyService,
    pub decryption_order: &'a [String],
    pub ignore_mac: bool,
    /// Filled with the IVs of the values, so a later re-encryption keeps unchanged ciphertexts.
    pub stash: Option<&'a IvStash>,
}

/// A decrypted file: the plaintext document, its metadata and data key (for re-encryption).
pub struct Decrypted {
    pub doc: Document,
    pub meta: Metadata,
    pub data_key: DataKey,
    /// Comments left verbatim because they were not encrypted (files from old sops versions).
    pub plain_comments: usize,
}

/// Recovers the data key, decrypts every value and verifies the MAC (unless told not to).
pub fn decrypt(file: EncryptedFile, options: &DecryptOptions) -> Result<Decrypted, Error> {
    let EncryptedFile { mut doc, meta } = file;
    let data_key = groups::recover(&meta, options.keys, options.decryption_order)?;
    let selector = meta.rule.selector()?;
    let cipher = Cipher::new(&data_key);
    let protection = Protection {
        selector: &selector,
        mac_only_encrypted: meta.mac_only_encrypted,
    };
    let outcome =
        decrypt_document(&mut doc, &cipher, &protection, options.stash).map_err(Error::Decrypt)?;
    if !options.ignore_mac {
        verify_mac(&cipher, &meta, &outcome.mac)?;
    }
    Ok(Decrypted {
        doc,
        meta,
        data_key,
        plain_comments: outcome.plain_comments,
    })
}

fn verify_mac(cipher: &Cipher, meta: &Metadata, computed: &str) -> Result<(), Error> {
    let stored = meta.mac.as_deref().ok_or(Error::MacMissing)?;
    // sops re-formats lastmodified before using it as the MAC's additional data.
    let aad = crate::timefmt::normalize_rfc3339(&meta.last_modified)
        .unwrap_or_else(|| meta.last_modified.clone());
    let leaf = cipher
        .decrypt_leaf(stored, &aad, None)
        .map_err(|e| Error::MacUnreadable(e.to_string()))?;
    let stored_mac = match leaf {
        crate::tree::LeafMut::Scalar(crate::tree::Scalar::Str(s)) => zeroize::Zeroizing::new(s),
        _ => return Err(Error::MacUnreadable("the MAC is not a string value".into())),
    };
    if !crate::crypto::Mac::equal(&stored_mac, computed) {
        return Err(Error::MacMismatch);
    }
    Ok(())
}

/// Emits an encrypted document with its metadata.
pub fn emit_encrypted(store: &dyn Store, doc: Document, meta: &Metadata) -> Result<Vec<u8>, Error> {
    let node = metadata_wire::to_node_with(meta, store.empty_key_list());
    Ok(store.emit_encrypted(doc, node)?)
}

/// Everything needed to turn an encrypted file's bytes into plaintext output.
pub struct PlainRequest<'a> {
    pub input: &'a dyn Store,
    pub output: &'a dyn Store,
    pub ignore_mac: bool,
    pub decryption_order: &'a [String],
    pub keys: &'a dyn KeyService,
}

/// Decrypts an encrypted file (any format) and emits its plaintext in the output format. The
/// Kubernetes wrapper and `exec-*` use this.
pub fn decrypt_to_plain(
    bytes: &[u8],
    request: &PlainRequest,
) -> Result<zeroize::Zeroizing<Vec<u8>>, Error> {
    let file = load_encrypted(request.input, bytes)?;
    let decrypted = decrypt(
        file,
        &DecryptOptions {
            keys: request.keys,
            decryption_order: request.decryption_order,
            ignore_mac: request.ignore_mac,
            stash: None,
        },
    )?;
    Ok(zeroize::Zeroizing::new(
        request.output.emit_plain(&decrypted.doc)?,
    ))
}

/// Decrypts an encrypted file and returns its plaintext document (for callers that walk it).
pub fn decrypt_bytes_to_document(
    bytes: &[u8],
    input: &dyn Store,
    keys: &dyn KeyService,
    decryption_order: &[String],
) -> Result<Document, Error> {
    let file = load_encrypted(input, bytes)?;
    let options = DecryptOptions {
        keys,
        decryption_order,
        ignore_mac: false,
        stash: None,
    };
    Ok(decrypt(file, &options)?.doc)
}
