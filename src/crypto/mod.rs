//! The sops value cipher: `ENC[AES256_GCM,…]` strings, the data key, and the MAC.

mod cipher;
mod data_key;
mod document;
mod enc_value;
mod mac;

pub use cipher::{Cipher, CryptoError, IvStash};
pub use data_key::DataKey;
pub use document::{decrypt_document, encrypt_document, Decrypted, Protection};
pub use enc_value::{EncValue, ValueType};
pub use mac::{Mac, MAC_ONLY_ENCRYPTED_INIT};
