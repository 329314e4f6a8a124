//! Base64 as it appears in key files and encrypted files: standard alphabet with padding
//! (Go's `base64.StdEncoding`, which Jet used), possibly wrapped over lines.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

/// Standard padded base64 of `bytes`, on one line.
pub(crate) fn encode(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

/// Decodes base64 text, ignoring ASCII whitespace anywhere (line breaks, a trailing
/// newline, indentation from copy and paste). Padding is required and trailing bits must be
/// zero, so every changed character is an error or changes the bytes: never silently the same.
pub(crate) fn decode(text: &[u8]) -> Result<Vec<u8>, base64::DecodeError> {
    let compact: Vec<u8> = text.iter().copied().filter(|byte| !byte.is_ascii_whitespace()).collect();
    STANDARD.decode(compact)
}

/// Explains a decoding error for a user: what was found, without echoing secret content.
pub(crate) fn describe_error(error: &base64::DecodeError) -> String {
    match error {
        base64::DecodeError::InvalidByte(_, byte) if byte.is_ascii_graphic() => {
            format!("it contains `{}`, which is not a base64 character", *byte as char)
        }
        base64::DecodeError::InvalidByte(_, byte) => {
            format!("it contains the byte 0x{byte:02x}, which is not a base64 character")
        }
        base64::DecodeError::InvalidLength(_) | base64::DecodeError::InvalidPadding => {
            "its length or `=` padding is wrong (cut short, or characters added)".to_string()
        }
        base64::DecodeError::InvalidLastSymbol(_, _) => {
            "its last character is not valid at the end of base64 (cut short, or changed)".to_string()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_ignores_line_breaks_and_surrounding_whitespace() {
        assert_eq!(decode(b"  aGVs\nbG8=\r\n").unwrap(), b"hello");
    }

    #[test]
    fn decode_requires_padding() {
        assert!(decode(b"aGVsbG8").is_err());
    }

    #[test]
    fn round_trip() {
        let bytes: Vec<u8> = (0..=255).collect();
        assert_eq!(decode(encode(&bytes).as_bytes()).unwrap(), bytes);
    }

    #[test]
    fn describe_error_names_a_bad_character() {
        let error = decode(b"ab:d").unwrap_err();
        assert!(describe_error(&error).contains("`:`"), "{}", describe_error(&error));
    }
}
