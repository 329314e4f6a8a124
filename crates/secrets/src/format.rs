//! Choosing the encrypted-file format: detected when reading, chosen when writing.

use crate::error::{DecryptError, EncryptError};
use crate::key::Key;
use crate::{jet_v1, sealed};

/// The formats slipway can write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// slipway's own authenticated format (`slipway:v1:`, AES-256-GCM): any bytes, and a wrong
    /// key or a changed file is always detected. The default.
    #[default]
    Slipway,
    /// Jet's v1 format (AES-256-CFB, no integrity check), for projects that still need Jet to
    /// read their files. Text only.
    JetV1,
}

/// Decrypts an encrypted file's content, whichever format it is in:
/// `slipway:v1:` is slipway's format, `codeship:` marks Jet's later formats (refused, not yet
/// supported), and anything else is read as Jet's v1 format.
///
/// Never returns garbage: slipway's format is authenticated, and a Jet v1 result must be text.
pub fn decrypt(key: &Key, content: &[u8]) -> Result<Vec<u8>, DecryptError> {
    let content = content.trim_ascii_start();
    if content.trim_ascii_end().is_empty() {
        return Err(DecryptError::Empty);
    }
    if content.starts_with(sealed::PREFIX) {
        sealed::decrypt(key, content)
    } else if content.starts_with(b"codeship:") {
        Err(DecryptError::UnsupportedJetFormat { found: format_tag(content) })
    } else if content.starts_with(b"slipway:") {
        Err(DecryptError::UnsupportedSlipwayFormat { found: format_tag(content) })
    } else {
        jet_v1::decrypt(key, content)
    }
}

/// Encrypts `plaintext` into a file's content in `format`, with a fresh random IV or nonce.
///
/// # Errors
/// Only for [`Format::JetV1`] when `plaintext` is not text (see [`EncryptError`]).
///
/// # Panics
/// If the operating system cannot provide random bytes; never on a working system.
pub fn encrypt(key: &Key, plaintext: &[u8], format: Format) -> Result<Vec<u8>, EncryptError> {
    match format {
        Format::Slipway => Ok(sealed::encrypt(key, plaintext)),
        Format::JetV1 => jet_v1::encrypt(key, plaintext),
    }
}

/// The `name:version` that starts a file, for messages: at most its first two
/// `:`-separated parts, and only printable ASCII, since the rest may be secret.
fn format_tag(content: &[u8]) -> String {
    let tag: Vec<u8> = content.iter().copied().take(32).take_while(|byte| byte.is_ascii_graphic()).collect();
    let tag = String::from_utf8(tag).expect("ASCII");
    tag.split(':').take(2).collect::<Vec<_>>().join(":")
}

#[cfg(test)]
mod tests {
    use super::*;

    const JET_KEY: &str = "E6kwQsGsIGMWrDQYmfnUcnHb+Yq2slOHH4/IBkVzaHo=";
    const JET_CIPHERTEXT: &str = "6UU+0y1kdnR2CqcxLQ9WYwBtv0EjbbGfKLw994VzfZC7XA27dFIZygdU8ylr236OtuQ+PA/PUE11HPObTgWewgAl3zcIxvJKKEJcUAbnn3n0Ns0zw291nA8/EergAWKoog8P";
    const JET_PLAINTEXT: &[u8] =
        b"# jet encrypt --key-path=key.key environment environment.encrypted\nFOO=bar\nBAZ=bat\n";

    #[test]
    fn detects_jet_v1() {
        let key = Key::from_env_value(JET_KEY).unwrap();
        assert_eq!(decrypt(&key, JET_CIPHERTEXT.as_bytes()).unwrap(), JET_PLAINTEXT);
        let padded = format!("\n  {JET_CIPHERTEXT}\n\n");
        assert_eq!(decrypt(&key, padded.as_bytes()).unwrap(), JET_PLAINTEXT);
    }

    #[test]
    fn round_trips_in_both_formats() {
        let key = Key::generate();
        for format in [Format::Slipway, Format::JetV1] {
            let file = encrypt(&key, JET_PLAINTEXT, format).unwrap();
            assert_eq!(file.starts_with(b"slipway:v1:"), format == Format::Slipway);
            assert_eq!(decrypt(&key, &file).unwrap(), JET_PLAINTEXT, "{format:?}");
        }
    }

    #[test]
    fn default_format_is_slipways() {
        assert_eq!(Format::default(), Format::Slipway);
    }

    #[test]
    fn jet_v2_is_refused_with_what_to_do() {
        let key = Key::generate();
        let error = decrypt(&key, b"codeship:v2:c2VjcmV0:bW9yZSBzZWNyZXQ=\n").unwrap_err();
        assert_eq!(error, DecryptError::UnsupportedJetFormat { found: "codeship:v2".into() });
        let message = format!("`env.encrypted`: {error}");
        assert!(message.starts_with("`env.encrypted`: is a Jet `codeship:v2` encrypted file"), "{message}");
        assert!(message.contains("slipway encrypt"), "{message}");
        assert!(!message.contains("c2VjcmV0"), "{message}");
    }

    #[test]
    fn newer_slipway_format_is_named() {
        let error = decrypt(&Key::generate(), b"slipway:v9:AAAA\n").unwrap_err();
        assert_eq!(error, DecryptError::UnsupportedSlipwayFormat { found: "slipway:v9".into() });
    }

    #[test]
    fn empty_files_are_refused() {
        for content in [&b""[..], b"\n", b"  \r\n"] {
            assert_eq!(decrypt(&Key::generate(), content).unwrap_err(), DecryptError::Empty);
        }
    }

    #[test]
    fn a_plain_env_file_is_not_mistaken_for_an_encrypted_one() {
        let error = decrypt(&Key::generate(), b"FOO=bar\n").unwrap_err();
        assert!(matches!(error, DecryptError::NotBase64 { .. }), "{error:?}");
        assert!(error.to_string().starts_with("is not an encrypted file"), "{error}");
    }

    #[test]
    fn errors_read_well_after_a_file_name() {
        let key = Key::generate();
        let sealed = encrypt(&Key::generate(), b"A=1\n", Format::Slipway).unwrap();
        let jet = encrypt(&Key::generate(), b"A=1\nB=2\nC=3\nD=4\nE=5\n", Format::JetV1).unwrap();
        for content in [&sealed[..], &jet, b"x", b"slipway:v1:AA==\n", b"AAAA"] {
            let message = decrypt(&key, content).unwrap_err().to_string();
            let first = message.chars().next().unwrap();
            assert!(first.is_lowercase(), "{message}");
            assert!(!message.ends_with('.'), "{message}");
        }
    }
}
