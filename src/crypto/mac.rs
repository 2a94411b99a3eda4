//! The sops MAC: SHA-512 over the plaintext bytes of the leaves in walk order.

use sha2::{Digest, Sha512};
use subtle::ConstantTimeEq;

/// `sha256("sops")`: prepended when only encrypted values are hashed, so the two MAC modes can
/// never produce the same digest.
pub const MAC_ONLY_ENCRYPTED_INIT: [u8; 32] = [
    0x8a, 0x3f, 0xd2, 0xad, 0x54, 0xce, 0x66, 0x52, 0x7b, 0x10, 0x34, 0xf3, 0xd1, 0x47, 0xbe, 0x0b,
    0x0b, 0x97, 0x5b, 0x3b, 0xf4, 0x4f, 0x72, 0xc6, 0xfd, 0xad, 0xec, 0x81, 0x76, 0xf2, 0x7d, 0x69,
];

pub struct Mac {
    hasher: Sha512,
    only_encrypted: bool,
}

impl Mac {
    pub fn new(only_encrypted: bool) -> Mac {
        let mut hasher = Sha512::new();
        if only_encrypted {
            hasher.update(MAC_ONLY_ENCRYPTED_INIT);
        }
        Mac {
            hasher,
            only_encrypted,
        }
    }

    /// Feeds one non-comment leaf; unencrypted leaves count unless `mac_only_encrypted` is set.
    pub fn add(&mut self, plaintext: &[u8], encrypted: bool) {
        if encrypted || !self.only_encrypted {
            self.hasher.update(plaintext);
        }
    }

    /// Upper-case hex, as sops prints it with `%X`.
    pub fn finish_hex(self) -> String {
        hex::encode_upper(self.hasher.finalize())
    }

    pub fn equal(a: &str, b: &str) -> bool {
        a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn init_constant_is_sha256_of_sops() {
        use sha2::Sha256;
        assert_eq!(Sha256::digest(b"sops").as_slice(), &MAC_ONLY_ENCRYPTED_INIT);
    }

    #[test]
    fn mac_of_bar_matches_sops_fixture() {
        let mut mac = Mac::new(false);
        mac.add(b"bar", true);
        let hex = mac.finish_hex();
        assert!(hex.starts_with("D82C4EB5"), "{hex}");
        assert!(hex.ends_with("C1E6C181"), "{hex}");
    }
}
