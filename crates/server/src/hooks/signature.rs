//! Webhook signatures: an HMAC-SHA256 of the raw body with the project's secret, as
//! GitHub (`X-Hub-Signature-256: sha256=…`) and Bitbucket (`X-Hub-Signature: sha256=…`)
//! send it.

use hmac::{Hmac, Mac};
use sha2::Sha256;

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("no signature header")]
    Missing,
    #[error("the signature is not `sha256=<hex>`")]
    Malformed,
    #[error("the signature does not match the body and the project's secret")]
    Mismatch,
    #[error("the project has no webhook secret configured, so its webhooks cannot be verified")]
    NoSecret,
}

/// Checks `header` (`sha256=<hex>`) against the body, in constant time.
pub fn verify(secret: Option<&str>, body: &[u8], header: Option<&str>) -> Result<(), SignatureError> {
    let secret = secret.filter(|s| !s.is_empty()).ok_or(SignatureError::NoSecret)?;
    let header = header.ok_or(SignatureError::Missing)?;
    let hex_digest = header.trim().strip_prefix("sha256=").ok_or(SignatureError::Malformed)?;
    let expected = hex::decode(hex_digest).map_err(|_| SignatureError::Malformed)?;
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).map_err(|_| SignatureError::Malformed)?;
    mac.update(body);
    mac.verify_slice(&expected).map_err(|_| SignatureError::Mismatch)
}

/// `sha256=<hex>` for a body: what a sender puts in the header (tests, `slipway trigger`).
pub fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn github_documented_example_verifies() {
        // From GitHub's "Validating webhook deliveries" documentation.
        let header = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
        assert_eq!(verify(Some("It's a Secret to Everybody"), b"Hello, World!", Some(header)), Ok(()));
        assert_eq!(sign("It's a Secret to Everybody", b"Hello, World!"), header);
    }

    #[test]
    fn wrong_missing_and_malformed_signatures_fail() {
        let good = sign("s", b"body");
        assert_eq!(verify(Some("s"), b"body!", Some(&good)), Err(SignatureError::Mismatch));
        assert_eq!(verify(Some("t"), b"body", Some(&good)), Err(SignatureError::Mismatch));
        assert_eq!(verify(Some("s"), b"body", None), Err(SignatureError::Missing));
        assert_eq!(verify(Some("s"), b"body", Some("sha1=abc")), Err(SignatureError::Malformed));
        assert_eq!(verify(Some("s"), b"body", Some("sha256=zz")), Err(SignatureError::Malformed));
        assert_eq!(verify(None, b"body", Some(&good)), Err(SignatureError::NoSecret));
    }
}
