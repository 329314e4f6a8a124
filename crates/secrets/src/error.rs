//! Why an encrypted file could not be read or written.
//!
//! Messages are written to follow a file name: the caller shows them as
//! "`secrets.env.encrypted`: MESSAGE".

/// Why [`decrypt`](crate::decrypt) gave no plaintext.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecryptError {
    /// The file holds nothing but whitespace.
    #[error("is empty: there is nothing to decrypt")]
    Empty,

    /// A Jet v2 file (`codeship:v2`), or another `codeship:` format.
    #[error("is a Jet `{found}` encrypted file, which slipway cannot read yet; decrypt it with the tool that wrote it and encrypt the plaintext again with `slipway encrypt`")]
    UnsupportedJetFormat { found: String },

    /// A `slipway:` format newer than this slipway.
    #[error("is in the format `{found}`, which this version of slipway does not know; use a newer slipway")]
    UnsupportedSlipwayFormat { found: String },

    /// A slipway file whose text is not well formed: it was cut short or edited.
    #[error("is damaged ({detail}): the file was changed or cut short")]
    SealedDamaged { detail: String },

    /// A slipway file that did not authenticate under this key.
    #[error("authentication failed: wrong key, or the file was changed")]
    AuthenticationFailed,

    /// Neither slipway's format nor base64 (so not Jet's v1 format either).
    #[error("is not an encrypted file: it does not start with `slipway:v1:` and is not base64 as Jet's files are ({detail})")]
    NotBase64 { detail: String },

    /// Base64, but too short to hold Jet's 16-byte IV.
    #[error("is too short to be a Jet encrypted file: {found} bytes after base64 decoding, but the IV alone is 16")]
    JetV1TooShort { found: usize },

    /// A Jet v1 file that decrypts to something other than text.
    #[error("wrong key, or the file is corrupted: decrypting it as a Jet v1 file gave binary data, not text (Jet's format has no integrity check, so slipway accepts only text from it)")]
    WrongKeyOrCorrupted,
}

/// Why [`encrypt`](crate::encrypt) refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EncryptError {
    /// Jet's v1 format can carry only text here, since only text is accepted back.
    #[error("cannot be encrypted in Jet's v1 format: it is not text (byte {offset} is binary or a control character), and slipway reads back only text from that format, which has no integrity check; use slipway's own format")]
    NotTextForJetV1 { offset: usize },
}
