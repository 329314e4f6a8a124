//! The project's AES-256 key: Jet's `codeship.aes` file, or the `SLIPWAY_AES_KEY` variable.

use std::fmt;
use std::fs::OpenOptions;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::base64_text;
use crate::random::random_bytes;

/// Length of an AES-256 key in bytes.
const KEY_LEN: usize = 32;

/// The environment variable a key may be given in, as base64 (for CI, where a key file
/// would have to be written to disk first).
pub const KEY_ENV_VAR: &str = "SLIPWAY_AES_KEY";

/// What every key error ends with: what a key must look like and where to get one.
const KEY_HINT: &str = "a key is the base64 of 32 random bytes (AES-256), like Jet's \
                        `codeship.aes`: use the project's key, or make a new one and encrypt \
                        the project's files again with it";

/// A 32-byte AES-256 key.
///
/// `Debug` does not show the key, so it cannot leak into logs.
#[derive(Clone, PartialEq, Eq)]
pub struct Key(pub(crate) [u8; KEY_LEN]);

/// Where a key came from, for error messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// A key file such as `codeship.aes`.
    File(PathBuf),
    /// The environment variable [`KEY_ENV_VAR`].
    EnvVar,
}

impl fmt::Display for KeySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeySource::File(path) => write!(f, "key file `{}`", path.display()),
            KeySource::EnvVar => write!(f, "environment variable {KEY_ENV_VAR}"),
        }
    }
}

/// Why a key could not be loaded or written. The message names the file or variable.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The key file is not there.
    #[error("key file `{}` does not exist: put the project's key there, pass another path, or set {KEY_ENV_VAR}; {KEY_HINT}", path.display())]
    MissingFile { path: PathBuf },

    /// The key file exists but could not be read.
    #[error("cannot read key file `{}`: {source}", path.display())]
    Unreadable {
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    /// The key text is not base64.
    #[error("{origin} is not base64: {detail}; {KEY_HINT}")]
    NotBase64 { origin: KeySource, detail: String },

    /// The key decodes to a length other than 32 bytes.
    #[error("{origin} is not a 32-byte key: expected 32 bytes, found {found}; {KEY_HINT}")]
    WrongLength { origin: KeySource, found: usize },

    /// [`Key::write_new_key_file`] found a file at the path.
    #[error("key file `{}` already exists; slipway never overwrites a key (files encrypted with it could no longer be read): remove it yourself or choose another path", path.display())]
    AlreadyExists { path: PathBuf },

    /// The new key file could not be created or written.
    #[error("cannot write key file `{}`: {source}", path.display())]
    Unwritable {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

impl Key {
    /// A new random key from the operating system's random number generator.
    ///
    /// # Panics
    /// If the OS cannot provide random bytes (see [`getrandom`]); never on a working system.
    pub fn generate() -> Key {
        Key(random_bytes())
    }

    /// Loads a key file: base64 of 32 bytes; whitespace and line breaks are ignored.
    pub fn from_file(path: &Path) -> Result<Key, KeyError> {
        let content = std::fs::read(path).map_err(|source| match source.kind() {
            io::ErrorKind::NotFound => KeyError::MissingFile { path: path.to_path_buf() },
            _ => KeyError::Unreadable { path: path.to_path_buf(), source },
        })?;
        Key::decode(&content, KeySource::File(path.to_path_buf()))
    }

    /// Loads a key from the value of [`KEY_ENV_VAR`] (the caller reads the variable).
    pub fn from_env_value(value: &str) -> Result<Key, KeyError> {
        Key::decode(value.as_bytes(), KeySource::EnvVar)
    }

    /// The key as base64, the form key files and [`KEY_ENV_VAR`] hold.
    pub fn to_base64(&self) -> String {
        base64_text::encode(&self.0)
    }

    /// Writes this key to a new key file: base64 and a newline, readable by its owner only
    /// (mode 0600 on Unix). Refuses to replace an existing file.
    pub fn write_new_key_file(&self, path: &Path) -> Result<(), KeyError> {
        let mut options = OpenOptions::new();
        // create_new: the check for an existing file and the creation are one atomic step.
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options.open(path).map_err(|source| match source.kind() {
            io::ErrorKind::AlreadyExists => KeyError::AlreadyExists { path: path.to_path_buf() },
            _ => KeyError::Unwritable { path: path.to_path_buf(), source },
        })?;
        let unwritable = |source| KeyError::Unwritable { path: path.to_path_buf(), source };
        file.write_all(format!("{}\n", self.to_base64()).as_bytes()).map_err(unwritable)?;
        file.sync_all().map_err(unwritable)
    }

    fn decode(text: &[u8], origin: KeySource) -> Result<Key, KeyError> {
        let bytes = base64_text::decode(text).map_err(|error| KeyError::NotBase64 {
            origin: origin.clone(),
            detail: base64_text::describe_error(&error),
        })?;
        let bytes: [u8; KEY_LEN] =
            bytes.as_slice().try_into().map_err(|_| KeyError::WrongLength { origin, found: bytes.len() })?;
        Ok(Key(bytes))
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Key(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const JET_KEY: &str = "E6kwQsGsIGMWrDQYmfnUcnHb+Yq2slOHH4/IBkVzaHo=";

    fn write(dir: &Path, name: &str, content: &[u8]) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, content).unwrap();
        path
    }

    #[test]
    fn loads_a_key_file_ignoring_surrounding_whitespace() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "codeship.aes", format!("\n  {JET_KEY}\r\n\n").as_bytes());
        let key = Key::from_file(&path).unwrap();
        assert_eq!(key.to_base64(), JET_KEY);
    }

    #[test]
    fn loads_a_key_from_the_env_value() {
        assert_eq!(Key::from_env_value(JET_KEY).unwrap().to_base64(), JET_KEY);
    }

    #[test]
    fn missing_key_file_names_the_file_and_says_what_to_do() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("codeship.aes");
        let error = Key::from_file(&path).unwrap_err();
        assert!(matches!(error, KeyError::MissingFile { .. }), "{error:?}");
        let message = error.to_string();
        assert!(message.contains(&path.display().to_string()), "{message}");
        assert!(message.contains("does not exist"), "{message}");
        assert!(message.contains(KEY_ENV_VAR), "{message}");
    }

    #[test]
    fn key_file_that_is_not_base64_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "codeship.aes", b"this is not a key!\n");
        let error = Key::from_file(&path).unwrap_err();
        assert!(matches!(error, KeyError::NotBase64 { .. }), "{error:?}");
        let message = error.to_string();
        assert!(message.starts_with(&format!("key file `{}` is not base64", path.display())), "{message}");
        assert!(message.contains("32 random bytes"), "{message}");
    }

    #[test]
    fn key_file_of_31_bytes_reports_the_length() {
        let dir = tempfile::tempdir().unwrap();
        let short = base64_text::encode(&[7u8; 31]);
        let path = write(dir.path(), "codeship.aes", short.as_bytes());
        let error = Key::from_file(&path).unwrap_err();
        assert!(matches!(error, KeyError::WrongLength { found: 31, .. }), "{error:?}");
        let message = error.to_string();
        assert!(message.contains(&path.display().to_string()), "{message}");
        assert!(message.contains("expected 32 bytes, found 31"), "{message}");
    }

    #[test]
    fn empty_key_file_reports_zero_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "codeship.aes", b"\n");
        let error = Key::from_file(&path).unwrap_err();
        assert!(error.to_string().contains("expected 32 bytes, found 0"), "{error}");
    }

    #[test]
    fn env_value_errors_name_the_variable() {
        let error = Key::from_env_value("not base64").unwrap_err();
        assert!(error.to_string().starts_with("environment variable SLIPWAY_AES_KEY is not base64"), "{error}");
        let error = Key::from_env_value(&base64_text::encode(&[1u8; 33])).unwrap_err();
        assert!(error.to_string().contains("SLIPWAY_AES_KEY"), "{error}");
        assert!(error.to_string().contains("expected 32 bytes, found 33"), "{error}");
    }

    #[test]
    fn generated_keys_differ() {
        assert_ne!(Key::generate(), Key::generate());
    }

    #[test]
    fn debug_does_not_show_the_key() {
        let key = Key::from_env_value(JET_KEY).unwrap();
        assert_eq!(format!("{key:?}"), "Key(<redacted>)");
    }

    #[test]
    fn new_key_file_is_base64_with_newline_and_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("codeship.aes");
        let key = Key::generate();
        key.write_new_key_file(&path).unwrap();
        let content = std::fs::read_to_string(&path).unwrap();
        assert_eq!(content, format!("{}\n", key.to_base64()));
        assert_eq!(Key::from_file(&path).unwrap(), key);
    }

    #[cfg(unix)]
    #[test]
    fn new_key_file_has_mode_0600() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("codeship.aes");
        Key::generate().write_new_key_file(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "mode {mode:o}");
    }

    #[test]
    fn new_key_file_never_overwrites() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "codeship.aes", format!("{JET_KEY}\n").as_bytes());
        let error = Key::generate().write_new_key_file(&path).unwrap_err();
        assert!(matches!(error, KeyError::AlreadyExists { .. }), "{error:?}");
        assert!(error.to_string().contains("already exists"), "{error}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), format!("{JET_KEY}\n"));
    }
}
