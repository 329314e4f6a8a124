//! Secrets for slipway runs: the AES key, encrypted files in Jet's v1 format and in
//! slipway's own authenticated format, and masking secret values out of step output.
//!
//! Pure apart from the key file: it reads and writes nothing else, and the caller decides
//! where keys and encrypted files come from.
//!
//! ```
//! use slipway_secrets::{decrypt, encrypt, Format, Key, Masker};
//!
//! let key = Key::generate();
//! let file = encrypt(&key, b"TOKEN=s3cr3t-value\n", Format::Slipway).unwrap();
//! assert!(file.starts_with(b"slipway:v1:"));
//! assert_eq!(decrypt(&key, &file).unwrap(), b"TOKEN=s3cr3t-value\n");
//!
//! let masker = Masker::new(["s3cr3t-value"]);
//! assert_eq!(masker.mask_line("token is s3cr3t-value"), "token is ***");
//! ```

mod base64_text;
mod error;
mod format;
mod jet_v1;
mod key;
mod mask;
mod random;
mod sealed;

pub use error::{DecryptError, EncryptError};
pub use format::{decrypt, encrypt, Format};
pub use key::{Key, KeyError, KeySource, KEY_ENV_VAR};
pub use mask::{Masker, StreamMasker, MASK, MIN_SECRET_CHARS};
