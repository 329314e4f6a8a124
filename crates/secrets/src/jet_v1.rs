//! Jet's v1 encrypted files: `base64(IV[16] || AES-256-CFB(plaintext))`, full-block CFB
//! (CFB128, Go's `cipher.NewCFBEncrypter`).
//!
//! The format has no integrity check: a wrong key decrypts to random bytes without any error.
//! Jet only ever encrypted env files and docker configs, which are text, so slipway accepts a
//! decryption only if it is text and otherwise refuses, rather than hand out garbage values.

use aes::Aes256;
use cfb_mode::cipher::KeyIvInit;

use crate::base64_text;
use crate::error::{DecryptError, EncryptError};
use crate::key::Key;
use crate::random::random_bytes;

const IV_LEN: usize = 16;

type Encryptor = cfb_mode::Encryptor<Aes256>;
type Decryptor = cfb_mode::Decryptor<Aes256>;

/// Encrypts `plaintext` with a random IV; the result is base64 on one line, without a
/// trailing newline, as Jet wrote it. Only text can be encrypted (see the module comment).
pub(crate) fn encrypt(key: &Key, plaintext: &[u8]) -> Result<Vec<u8>, EncryptError> {
    if let Some(offset) = first_non_text_byte(plaintext) {
        return Err(EncryptError::NotTextForJetV1 { offset });
    }
    let iv: [u8; IV_LEN] = random_bytes();
    let mut data = Vec::with_capacity(IV_LEN + plaintext.len());
    data.extend_from_slice(&iv);
    data.extend_from_slice(plaintext);
    Encryptor::new(&key.0.into(), &iv.into()).encrypt(&mut data[IV_LEN..]);
    Ok(base64_text::encode(&data).into_bytes())
}

/// Decrypts a Jet v1 file's content (base64, line breaks allowed).
pub(crate) fn decrypt(key: &Key, content: &[u8]) -> Result<Vec<u8>, DecryptError> {
    let data = base64_text::decode(content)
        .map_err(|error| DecryptError::NotBase64 { detail: base64_text::describe_error(&error) })?;
    if data.len() < IV_LEN {
        return Err(DecryptError::JetV1TooShort { found: data.len() });
    }
    let (iv, ciphertext) = data.split_at(IV_LEN);
    let iv: [u8; IV_LEN] = iv.try_into().expect("split at IV_LEN");
    let mut plaintext = ciphertext.to_vec();
    Decryptor::new(&key.0.into(), &iv.into()).decrypt(&mut plaintext);
    if first_non_text_byte(&plaintext).is_some() {
        return Err(DecryptError::WrongKeyOrCorrupted);
    }
    Ok(plaintext)
}

/// Where `bytes` stop being text: the offset of the first byte that is not part of valid
/// UTF-8, or that starts a control character other than tab, line feed and carriage return.
/// Random bytes (a wrong key) rarely pass: about 45% per byte, measured, so 16 bytes of
/// garbage pass about once in 300,000 tries and a typical 80-byte env file never. A file of a
/// few bytes is only weakly protected; it holds at most one tiny value.
fn first_non_text_byte(bytes: &[u8]) -> Option<usize> {
    let text = match std::str::from_utf8(bytes) {
        Ok(text) => text,
        Err(error) => {
            let valid = std::str::from_utf8(&bytes[..error.valid_up_to()]).expect("valid prefix");
            return Some(first_control(valid).unwrap_or(error.valid_up_to()));
        }
    };
    first_control(text)
}

fn first_control(text: &str) -> Option<usize> {
    text.char_indices().find(|&(_, c)| c.is_control() && !matches!(c, '\n' | '\r' | '\t')).map(|(offset, _)| offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    const JET_KEY: &str = "E6kwQsGsIGMWrDQYmfnUcnHb+Yq2slOHH4/IBkVzaHo=";
    const JET_CIPHERTEXT: &str = "6UU+0y1kdnR2CqcxLQ9WYwBtv0EjbbGfKLw994VzfZC7XA27dFIZygdU8ylr236OtuQ+PA/PUE11HPObTgWewgAl3zcIxvJKKEJcUAbnn3n0Ns0zw291nA8/EergAWKoog8P";
    const JET_PLAINTEXT: &str =
        "# jet encrypt --key-path=key.key environment environment.encrypted\nFOO=bar\nBAZ=bat\n";

    fn jet_key() -> Key {
        Key::from_env_value(JET_KEY).unwrap()
    }

    #[test]
    fn decrypts_codeships_published_test_vector() {
        let plaintext = decrypt(&jet_key(), JET_CIPHERTEXT.as_bytes()).unwrap();
        assert_eq!(plaintext.len(), 83);
        assert_eq!(plaintext, JET_PLAINTEXT.as_bytes());
    }

    #[test]
    fn test_vector_with_line_breaks_and_trailing_newline() {
        let wrapped: Vec<u8> =
            JET_CIPHERTEXT.as_bytes().chunks(76).flat_map(|line| line.iter().copied().chain(*b"\r\n")).collect();
        assert_eq!(decrypt(&jet_key(), &wrapped).unwrap(), JET_PLAINTEXT.as_bytes());
        let with_newline = format!("{JET_CIPHERTEXT}\n");
        assert_eq!(decrypt(&jet_key(), with_newline.as_bytes()).unwrap(), JET_PLAINTEXT.as_bytes());
    }

    #[test]
    fn our_encryption_of_the_test_vector_with_its_iv_gives_its_ciphertext() {
        // Same IV and key must give Jet's exact bytes: proves encryption is Jet's CFB128 too.
        let data = base64_text::decode(JET_CIPHERTEXT.as_bytes()).unwrap();
        let iv: [u8; IV_LEN] = data[..IV_LEN].try_into().unwrap();
        let mut ciphertext = JET_PLAINTEXT.as_bytes().to_vec();
        Encryptor::new(&jet_key().0.into(), &iv.into()).encrypt(&mut ciphertext);
        assert_eq!(ciphertext, &data[IV_LEN..]);
    }

    #[test]
    fn round_trip() {
        let key = Key::generate();
        for plaintext in ["", "A", "FOO=bar\n", "ünïcödé=✓\tvalue\r\n", JET_PLAINTEXT] {
            let file = encrypt(&key, plaintext.as_bytes()).unwrap();
            assert!(!file.ends_with(b"\n"));
            assert_eq!(decrypt(&key, &file).unwrap(), plaintext.as_bytes());
        }
    }

    #[test]
    fn each_encryption_uses_a_new_iv() {
        let key = Key::generate();
        assert_ne!(encrypt(&key, b"FOO=bar\n").unwrap(), encrypt(&key, b"FOO=bar\n").unwrap());
    }

    #[test]
    fn wrong_keys_are_refused_not_turned_into_garbage() {
        // Fixed keys make failures reproducible; random ones show the check does not
        // depend on particular keys.
        let fixed = (0u8..8).map(|seed| Key([seed.wrapping_mul(37); 32]));
        let random = (0..64).map(|_| Key::generate());
        let right = Key::generate();
        let env_file = encrypt(&right, b"DATABASE_URL=postgres://user:pw@db/app\nTOKEN=abc\n").unwrap();
        for wrong in fixed.chain(random) {
            for file in [JET_CIPHERTEXT.as_bytes(), &env_file] {
                let error = decrypt(&wrong, file).unwrap_err();
                assert!(matches!(error, DecryptError::WrongKeyOrCorrupted), "{error:?}");
            }
        }
    }

    #[test]
    fn a_garbled_block_is_refused() {
        // Flipping a ciphertext byte garbles the next 16-byte block of plaintext.
        let mut data = base64_text::decode(JET_CIPHERTEXT.as_bytes()).unwrap();
        data[IV_LEN + 20] ^= 0x40;
        let error = decrypt(&jet_key(), base64_text::encode(&data).as_bytes()).unwrap_err();
        assert!(matches!(error, DecryptError::WrongKeyOrCorrupted), "{error:?}");
    }

    #[test]
    fn not_base64_and_too_short_are_reported() {
        let error = decrypt(&jet_key(), b"FOO=bar\n").unwrap_err();
        assert!(matches!(error, DecryptError::NotBase64 { .. }), "{error:?}");
        let error = decrypt(&jet_key(), base64_text::encode(&[0u8; 15]).as_bytes()).unwrap_err();
        assert!(matches!(error, DecryptError::JetV1TooShort { found: 15 }), "{error:?}");
    }

    #[test]
    fn binary_plaintext_cannot_be_encrypted_in_v1() {
        let error = encrypt(&Key::generate(), b"ok\n\x00binary").unwrap_err();
        assert!(matches!(error, EncryptError::NotTextForJetV1 { offset: 3 }), "{error:?}");
    }

    #[test]
    fn text_check() {
        assert_eq!(first_non_text_byte(b"A=1\tb\r\n"), None);
        assert_eq!(first_non_text_byte("ü✓".as_bytes()), None);
        assert_eq!(first_non_text_byte(b"ab\x1b[0m"), Some(2));
        assert_eq!(first_non_text_byte(b"ab\x7f"), Some(2));
        assert_eq!(first_non_text_byte(b"abc\xff"), Some(3));
        assert_eq!(first_non_text_byte(b"a\x01\xff"), Some(1));
        assert_eq!(first_non_text_byte("a\u{85}".as_bytes()), Some(1));
    }
}
