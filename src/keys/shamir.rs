//! Shamir secret sharing over GF(2^8) with the AES polynomial, laid out as sops (a fork of
//! HashiCorp Vault's) does: a share is the y-bytes followed by one x-byte, x = group index + 1.
//! Other crates use another field polynomial or layout, so shares would not interoperate.

use rand::RngCore;
use zeroize::Zeroizing;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ShamirError {
    #[error("a Shamir split needs 2 ≤ threshold ≤ parts ≤ 255 (got threshold {threshold}, parts {parts})")]
    BadParameters { parts: usize, threshold: usize },
    #[error("at least two key-group shares are needed to rebuild the data key")]
    TooFewShares,
    #[error("the key-group shares have different lengths")]
    UnequalShares,
    #[error("two key groups produced the same share index")]
    DuplicateShare,
}

/// Constant-time multiplication in GF(2^8) modulo x^8+x^4+x^3+x+1: no table lookups indexed by
/// secret bytes.
fn mul(a: u8, b: u8) -> u8 {
    let mut acc: u8 = 0;
    for i in (0..8).rev() {
        let bit = (b >> i) & 1;
        let a_or_zero = 0u8.wrapping_sub(bit) & a;
        let reduce = 0u8.wrapping_sub(acc >> 7) & 0x1b;
        acc = a_or_zero ^ (reduce ^ acc.wrapping_add(acc));
    }
    acc
}

/// a^254 = a^-1 in GF(2^8) (and 0 for 0, which never occurs for distinct non-zero x).
fn inverse(a: u8) -> u8 {
    let mut result = 1u8;
    let mut base = a;
    let mut exp = 254u8;
    while exp > 0 {
        if exp & 1 == 1 {
            result = mul(result, base);
        }
        base = mul(base, base);
        exp >>= 1;
    }
    result
}

fn evaluate(coefficients: &[u8], x: u8) -> u8 {
    coefficients
        .iter()
        .rev()
        .fold(0u8, |acc, &c| mul(acc, x) ^ c)
}

/// Splits `secret` into `parts` shares, any `threshold` of which rebuild it.
pub fn split(
    secret: &[u8],
    parts: usize,
    threshold: usize,
) -> Result<Vec<Zeroizing<Vec<u8>>>, ShamirError> {
    if threshold < 2 || parts < threshold || parts > 255 || secret.is_empty() {
        return Err(ShamirError::BadParameters { parts, threshold });
    }
    let mut shares: Vec<Zeroizing<Vec<u8>>> = (0..parts)
        .map(|i| {
            let mut share = vec![0u8; secret.len() + 1];
            share[secret.len()] = i as u8 + 1;
            Zeroizing::new(share)
        })
        .collect();
    let mut coefficients = Zeroizing::new(vec![0u8; threshold]);
    for (idx, &byte) in secret.iter().enumerate() {
        coefficients[0] = byte;
        rand::rngs::OsRng.fill_bytes(&mut coefficients[1..]);
        for share in shares.iter_mut() {
            let x = share[secret.len()];
            share[idx] = evaluate(&coefficients, x);
        }
    }
    Ok(shares)
}

/// Rebuilds the secret by Lagrange interpolation at 0; more shares than the threshold are fine.
pub fn combine(shares: &[Zeroizing<Vec<u8>>]) -> Result<Zeroizing<Vec<u8>>, ShamirError> {
    if shares.len() < 2 {
        return Err(ShamirError::TooFewShares);
    }
    let len = shares[0].len();
    if len < 2 || shares.iter().any(|s| s.len() != len) {
        return Err(ShamirError::UnequalShares);
    }
    let xs: Vec<u8> = shares.iter().map(|s| s[len - 1]).collect();
    for (i, x) in xs.iter().enumerate() {
        if xs[..i].contains(x) {
            return Err(ShamirError::DuplicateShare);
        }
    }
    let basis: Vec<u8> = (0..xs.len())
        .map(|i| {
            (0..xs.len())
                .filter(|&j| j != i)
                .fold(1u8, |acc, j| mul(acc, mul(xs[j], inverse(xs[i] ^ xs[j]))))
        })
        .collect();
    let mut secret = Zeroizing::new(vec![0u8; len - 1]);
    for (idx, out) in secret.iter_mut().enumerate() {
        *out = shares
            .iter()
            .zip(&basis)
            .fold(0u8, |acc, (share, &b)| acc ^ mul(share[idx], b));
    }
    Ok(secret)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn field_matches_aes_polynomial() {
        // 0x53 · 0xCA = 0x01 is the classic AES-field inverse pair.
        assert_eq!(mul(0x53, 0xca), 0x01);
        assert_eq!(inverse(0x53), 0xca);
        assert_eq!(mul(0x57, 0x83), 0xc1);
    }

    #[test]
    fn shares_carry_x_last() {
        let shares = split(&[7u8; 32], 3, 2).unwrap();
        let xs: Vec<u8> = shares.iter().map(|s| s[32]).collect();
        assert_eq!(xs, [1, 2, 3]);
        assert!(shares.iter().all(|s| s.len() == 33));
    }

    proptest! {
        #[test]
        fn any_threshold_subset_rebuilds(secret in proptest::collection::vec(any::<u8>(), 1..40),
                                         parts in 2usize..6, pick in any::<u64>()) {
            let threshold = 2 + (pick as usize % (parts - 1));
            let shares = split(&secret, parts, threshold).unwrap();
            let start = (pick as usize / 7) % parts;
            let subset: Vec<_> = (0..threshold).map(|i| shares[(start + i) % parts].clone()).collect();
            prop_assert_eq!(&combine(&subset).unwrap()[..], &secret[..]);
        }
    }
}
