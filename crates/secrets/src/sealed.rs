//! slipway's own encrypted files: `slipway:v1:` then base64(nonce[12] || AES-256-GCM
//! ciphertext and tag), and a newline.
//!
//! GCM authenticates: a wrong key or any change to the file fails as a whole, so a value
//! is either exactly what was encrypted or not given at all.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::Aes256Gcm;

use crate::base64_text;
use crate::error::DecryptError;
use crate::key::Key;
use crate::random::random_bytes;

/// The text that starts every file in this format.
pub(crate) const PREFIX: &[u8] = b"slipway:v1:";

const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;

/// Encrypts `plaintext` (any bytes) with a random nonce.
pub(crate) fn encrypt(key: &Key, plaintext: &[u8]) -> Vec<u8> {
    let nonce: [u8; NONCE_LEN] = random_bytes();
    // The prefix is authenticated too (associated data), binding the bytes to this format.
    let payload = Payload { msg: plaintext, aad: PREFIX };
    let sealed = Aes256Gcm::new(&key.0.into())
        .encrypt(&nonce.into(), payload)
        .expect("AES-GCM fails only past 64 GiB of plaintext");
    let mut data = Vec::with_capacity(NONCE_LEN + sealed.len());
    data.extend_from_slice(&nonce);
    data.extend_from_slice(&sealed);

    let mut file = PREFIX.to_vec();
    file.extend_from_slice(base64_text::encode(&data).as_bytes());
    file.push(b'\n');
    file
}

/// Decrypts a file's content that starts with [`PREFIX`] (leading whitespace removed).
pub(crate) fn decrypt(key: &Key, content: &[u8]) -> Result<Vec<u8>, DecryptError> {
    let body = content.strip_prefix(PREFIX).expect("caller checked the prefix");
    let data = base64_text::decode(body).map_err(|error| DecryptError::SealedDamaged {
        detail: format!("the text after `slipway:v1:` is not base64: {}", base64_text::describe_error(&error)),
    })?;
    if data.len() < NONCE_LEN + TAG_LEN {
        return Err(DecryptError::SealedDamaged {
            detail: format!(
                "it holds {} bytes, fewer than the {} every slipway encrypted file has",
                data.len(),
                NONCE_LEN + TAG_LEN
            ),
        });
    }
    let (nonce, sealed) = data.split_at(NONCE_LEN);
    let nonce: [u8; NONCE_LEN] = nonce.try_into().expect("split at NONCE_LEN");
    Aes256Gcm::new(&key.0.into())
        .decrypt(&nonce.into(), Payload { msg: sealed, aad: PREFIX })
        .map_err(|_| DecryptError::AuthenticationFailed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_refused(key: &Key, content: &[u8]) {
        match decrypt_any(key, content) {
            Ok(plaintext) => {
                panic!("{:?} decrypted to {:?}", String::from_utf8_lossy(content), String::from_utf8_lossy(&plaintext))
            }
            Err(error) => assert!(!error.to_string().is_empty()),
        }
    }

    /// Through the format-detecting entry point, since a changed prefix leaves this module.
    fn decrypt_any(key: &Key, content: &[u8]) -> Result<Vec<u8>, DecryptError> {
        crate::decrypt(key, content)
    }

    #[test]
    fn round_trip_text_binary_and_empty() {
        let key = Key::generate();
        let binary: Vec<u8> = (0..=255).collect();
        for plaintext in [&b""[..], b"FOO=bar\n", &binary] {
            let file = encrypt(&key, plaintext);
            assert!(file.starts_with(PREFIX));
            assert!(file.ends_with(b"\n"));
            assert_eq!(file.iter().filter(|&&b| b == b'\n').count(), 1);
            assert_eq!(decrypt(&key, &file).unwrap(), plaintext);
        }
    }

    #[test]
    fn decrypts_a_file_made_by_another_implementation() {
        // Made with Python's `cryptography` (AESGCM, nonce 00..0b, associated data
        // `slipway:v1:`): pins the format, so files written today stay readable.
        let key = Key::from_env_value("E6kwQsGsIGMWrDQYmfnUcnHb+Yq2slOHH4/IBkVzaHo=").unwrap();
        let file = b"slipway:v1:AAECAwQFBgcICQoLMo1JoBDbV7Rfr9+sawvjwRkdHq/SnEPO642v/CO++4xSeVIZ0zwKcw==\n";
        assert_eq!(decrypt(&key, file).unwrap(), b"TOKEN=written-by-python\n");
    }

    #[test]
    fn same_plaintext_encrypts_differently_each_time() {
        let key = Key::generate();
        assert_ne!(encrypt(&key, b"FOO=bar\n"), encrypt(&key, b"FOO=bar\n"));
    }

    #[test]
    fn wrong_key_fails_authentication() {
        let file = encrypt(&Key::generate(), b"TOKEN=secret\n");
        for _ in 0..8 {
            let error = decrypt(&Key::generate(), &file).unwrap_err();
            assert!(matches!(error, DecryptError::AuthenticationFailed), "{error:?}");
            assert_eq!(error.to_string(), "authentication failed: wrong key, or the file was changed");
        }
    }

    #[test]
    fn flipping_any_bit_of_any_byte_is_refused() {
        let key = Key::generate();
        let file = encrypt(&key, b"A=1\nB=2\n");
        for index in 0..file.len() {
            for bit in 0..8 {
                let mut changed = file.clone();
                changed[index] ^= 1 << bit;
                assert_refused(&key, &changed);
            }
        }
    }

    #[test]
    fn flipping_a_byte_of_the_encrypted_data_fails_authentication() {
        let key = Key::generate();
        let file = encrypt(&key, b"A=1\n");
        let body = &file[PREFIX.len()..];
        let mut data = base64_text::decode(body).unwrap();
        for index in 0..data.len() {
            data[index] ^= 0x01;
            let mut changed = PREFIX.to_vec();
            changed.extend_from_slice(base64_text::encode(&data).as_bytes());
            let error = decrypt(&key, &changed).unwrap_err();
            assert!(matches!(error, DecryptError::AuthenticationFailed), "byte {index}: {error:?}");
            data[index] ^= 0x01;
        }
    }

    #[test]
    fn truncation_anywhere_is_refused() {
        let key = Key::generate();
        let file = encrypt(&key, b"A=1\nB=2\n");
        // The last byte is the newline, which carries nothing: dropping only it is fine.
        for len in 0..file.len() - 1 {
            assert_refused(&key, &file[..len]);
        }
        assert_eq!(decrypt(&key, &file[..file.len() - 1]).unwrap(), b"A=1\nB=2\n");
    }

    #[test]
    fn dropping_whole_blocks_from_the_end_fails_authentication() {
        // Truncation at a base64 boundary still decodes: the tag must catch it.
        let key = Key::generate();
        let file = encrypt(&key, b"0123456789abcdef0123456789abcdef");
        let body = &file[PREFIX.len()..file.len() - 1];
        let data = base64_text::decode(body).unwrap();
        for keep in (NONCE_LEN + TAG_LEN)..data.len() {
            let mut changed = PREFIX.to_vec();
            changed.extend_from_slice(base64_text::encode(&data[..keep]).as_bytes());
            let error = decrypt(&key, &changed).unwrap_err();
            assert!(matches!(error, DecryptError::AuthenticationFailed), "{keep}: {error:?}");
        }
    }

    #[test]
    fn changed_prefix_is_refused() {
        let key = Key::generate();
        let file = encrypt(&key, b"A=1\n");
        let body = &file[PREFIX.len()..];
        for prefix in [&b"slipway:v2:"[..], b"Slipway:v1:", b"slipwayv1:", b"", b"codeship:v2:"] {
            let mut changed = prefix.to_vec();
            changed.extend_from_slice(body);
            assert_refused(&key, &changed);
        }
    }

    #[test]
    fn damaged_files_say_so() {
        let key = Key::generate();
        let error = decrypt(&key, b"slipway:v1:AAAA\n").unwrap_err();
        assert!(matches!(error, DecryptError::SealedDamaged { .. }), "{error:?}");
        let error = decrypt(&key, b"slipway:v1:not base64!\n").unwrap_err();
        assert!(error.to_string().contains("not base64"), "{error}");
    }
}
