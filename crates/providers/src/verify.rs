//! Whether a webhook request really comes from the provider, decided on its raw bytes.
//!
//! Meta and Whats91 sign the body with HMAC-SHA256; Lipachat and TATA do not sign,
//! so a secret token in the webhook URL stands in. Every comparison is constant-time,
//! and no error carries the secret, the expected value or the value received.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;

/// Why a webhook request was refused. The variants say which check failed, never
/// with what value, so they can be logged and answered with 401 as they are.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("the request carries no signature")]
    MissingSignature,
    #[error("the signature header is not in the expected form")]
    MalformedSignature,
    #[error("the signature does not match the body")]
    BadSignature,
    #[error("the webhook token does not match")]
    BadToken,
}

/// Meta: header `X-Hub-Signature-256: sha256=<hex HMAC-SHA256(app_secret, raw body)>`.
pub fn meta_signature(
    app_secret: &[u8],
    body: &[u8],
    header: Option<&str>,
) -> Result<(), VerifyError> {
    let header = present(header).ok_or(VerifyError::MissingSignature)?;
    let hex_digest =
        strip_prefix_ignore_case(header, "sha256=").ok_or(VerifyError::MalformedSignature)?;
    check_hmac(app_secret, body, hex_digest)
}

/// Whats91 Webhooks v2: `X-Whats91-Signature` = hex HMAC-SHA256(signing_secret, raw body);
/// and, when the connection has a verification token, `X-CRM-Webhook-Token` must equal it.
///
/// The signature may also come as `sha256=<hex>`. An empty verification token counts as
/// none, as Whats91 itself does (`hasVerificationToken: false`).
pub fn whats91_signature(
    signing_secret: &[u8],
    verification_token: Option<&str>,
    body: &[u8],
    signature_header: Option<&str>,
    token_header: Option<&str>,
) -> Result<(), VerifyError> {
    let signature = present(signature_header).ok_or(VerifyError::MissingSignature)?;
    let hex_digest = strip_prefix_ignore_case(signature, "sha256=").unwrap_or(signature);
    check_hmac(signing_secret, body, hex_digest)?;
    match verification_token.filter(|token| !token.is_empty()) {
        None => Ok(()),
        Some(expected) => url_token(expected, token_header.unwrap_or_default()),
    }
}

/// Lipachat/TATA: the secret token carried in our webhook URL.
///
/// An empty expected token never matches: a connection whose token was never set
/// must not accept every caller.
pub fn url_token(expected: &str, given: &str) -> Result<(), VerifyError> {
    if !expected.is_empty() && bool::from(expected.as_bytes().ct_eq(given.as_bytes())) {
        Ok(())
    } else {
        Err(VerifyError::BadToken)
    }
}

/// Meta's GET verification: Some(challenge) when hub.mode == "subscribe" and the token matches.
pub fn meta_challenge(
    verify_token: &str,
    mode: Option<&str>,
    token: Option<&str>,
    challenge: Option<&str>,
) -> Option<String> {
    if mode != Some("subscribe") {
        return None;
    }
    url_token(verify_token, token?).ok()?;
    challenge.map(str::to_owned)
}

/// A header that is absent or blank is the same as no header.
fn present(header: Option<&str>) -> Option<&str> {
    header.map(str::trim).filter(|value| !value.is_empty())
}

fn strip_prefix_ignore_case<'a>(value: &'a str, prefix: &str) -> Option<&'a str> {
    let head = value.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &value[prefix.len()..])
}

fn check_hmac(secret: &[u8], body: &[u8], hex_digest: &str) -> Result<(), VerifyError> {
    // `hex` accepts upper and lower case alike.
    let digest = hex::decode(hex_digest.trim()).map_err(|_| VerifyError::MalformedSignature)?;
    if digest.len() != 32 {
        return Err(VerifyError::MalformedSignature);
    }
    // An empty secret would let anyone sign: a connection without one verifies nothing.
    if secret.is_empty() {
        return Err(VerifyError::BadSignature);
    }
    let mut mac = HmacSha256::new_from_slice(secret).map_err(|_| VerifyError::BadSignature)?;
    mac.update(body);
    // `verify_slice` compares in constant time.
    mac.verify_slice(&digest)
        .map_err(|_| VerifyError::BadSignature)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"app-secret-from-the-meta-dashboard";
    const BODY: &[u8] = br#"{"object":"whatsapp_business_account","entry":[]}"#;

    fn sign(secret: &[u8], body: &[u8]) -> String {
        let mut mac = HmacSha256::new_from_slice(secret).unwrap();
        mac.update(body);
        hex::encode(mac.finalize().into_bytes())
    }

    #[test]
    fn a_body_signed_by_meta_passes_in_either_hex_case() {
        let digest = sign(SECRET, BODY);
        assert_eq!(
            meta_signature(SECRET, BODY, Some(&format!("sha256={digest}"))),
            Ok(())
        );
        let upper = format!("sha256={}", digest.to_uppercase());
        assert_eq!(meta_signature(SECRET, BODY, Some(&upper)), Ok(()));
        let upper_prefix = format!("SHA256={digest}");
        assert_eq!(meta_signature(SECRET, BODY, Some(&upper_prefix)), Ok(()));
    }

    #[test]
    fn a_flipped_byte_in_the_body_fails() {
        let header = format!("sha256={}", sign(SECRET, BODY));
        let mut tampered = BODY.to_vec();
        tampered[10] ^= 0x01;
        assert_eq!(
            meta_signature(SECRET, &tampered, Some(&header)),
            Err(VerifyError::BadSignature)
        );
    }

    #[test]
    fn a_signature_made_with_another_secret_fails() {
        let header = format!("sha256={}", sign(b"someone-else", BODY));
        assert_eq!(
            meta_signature(SECRET, BODY, Some(&header)),
            Err(VerifyError::BadSignature)
        );
    }

    #[test]
    fn missing_and_malformed_meta_headers_say_which() {
        assert_eq!(
            meta_signature(SECRET, BODY, None),
            Err(VerifyError::MissingSignature)
        );
        assert_eq!(
            meta_signature(SECRET, BODY, Some("  ")),
            Err(VerifyError::MissingSignature)
        );
        let digest = sign(SECRET, BODY);
        // Meta always sends the prefix; a bare digest is not its form.
        assert_eq!(
            meta_signature(SECRET, BODY, Some(&digest)),
            Err(VerifyError::MalformedSignature)
        );
        assert_eq!(
            meta_signature(SECRET, BODY, Some("sha256=not-hex")),
            Err(VerifyError::MalformedSignature)
        );
        assert_eq!(
            meta_signature(SECRET, BODY, Some("sha256=abcd")),
            Err(VerifyError::MalformedSignature)
        );
        assert_eq!(
            meta_signature(SECRET, BODY, Some("sha1=abcd")),
            Err(VerifyError::MalformedSignature)
        );
    }

    #[test]
    fn an_empty_app_secret_verifies_nothing() {
        let header = format!("sha256={}", sign(b"", BODY));
        assert_eq!(
            meta_signature(b"", BODY, Some(&header)),
            Err(VerifyError::BadSignature)
        );
    }

    #[test]
    fn whats91_checks_the_signature_and_then_the_verification_token() {
        let secret = b"whsec_returned_once_at_creation";
        let digest = sign(secret, BODY);
        assert_eq!(
            whats91_signature(secret, None, BODY, Some(&digest), None),
            Ok(())
        );
        assert_eq!(
            whats91_signature(secret, None, BODY, Some(&format!("sha256={digest}")), None),
            Ok(())
        );
        assert_eq!(
            whats91_signature(
                secret,
                Some("shared-token"),
                BODY,
                Some(&digest),
                Some("shared-token")
            ),
            Ok(())
        );
        assert_eq!(
            whats91_signature(
                secret,
                Some("shared-token"),
                BODY,
                Some(&digest),
                Some("other-token")
            ),
            Err(VerifyError::BadToken)
        );
        assert_eq!(
            whats91_signature(secret, Some("shared-token"), BODY, Some(&digest), None),
            Err(VerifyError::BadToken)
        );
        // No token configured: whatever the header says is ignored.
        assert_eq!(
            whats91_signature(secret, Some(""), BODY, Some(&digest), Some("x")),
            Ok(())
        );
    }

    #[test]
    fn whats91_refuses_missing_malformed_and_wrong_signatures() {
        let secret = b"whsec_returned_once_at_creation";
        assert_eq!(
            whats91_signature(secret, None, BODY, None, None),
            Err(VerifyError::MissingSignature)
        );
        assert_eq!(
            whats91_signature(secret, None, BODY, Some("zz"), None),
            Err(VerifyError::MalformedSignature)
        );
        let mut tampered = BODY.to_vec();
        tampered[0] = b' ';
        let digest = sign(secret, BODY);
        assert_eq!(
            whats91_signature(secret, None, &tampered, Some(&digest), None),
            Err(VerifyError::BadSignature)
        );
        let foreign = sign(b"another-secret", BODY);
        assert_eq!(
            whats91_signature(secret, Some("t"), BODY, Some(&foreign), Some("t")),
            Err(VerifyError::BadSignature)
        );
    }

    #[test]
    fn url_tokens_match_exactly_and_never_when_unset() {
        assert_eq!(url_token("4f9c2e", "4f9c2e"), Ok(()));
        assert_eq!(url_token("4f9c2e", "4f9c2f"), Err(VerifyError::BadToken));
        assert_eq!(url_token("4f9c2e", "4f9c2e0"), Err(VerifyError::BadToken));
        assert_eq!(url_token("4f9c2e", ""), Err(VerifyError::BadToken));
        assert_eq!(url_token("", ""), Err(VerifyError::BadToken));
    }

    #[test]
    fn meta_challenge_echoes_only_a_subscribe_with_the_right_token() {
        let ok = meta_challenge(
            "verify-me",
            Some("subscribe"),
            Some("verify-me"),
            Some("1158201444"),
        );
        assert_eq!(ok.as_deref(), Some("1158201444"));
        assert_eq!(
            meta_challenge("verify-me", Some("subscribe"), Some("wrong"), Some("1")),
            None
        );
        assert_eq!(
            meta_challenge(
                "verify-me",
                Some("unsubscribe"),
                Some("verify-me"),
                Some("1")
            ),
            None
        );
        assert_eq!(
            meta_challenge("verify-me", None, Some("verify-me"), Some("1")),
            None
        );
        assert_eq!(
            meta_challenge("verify-me", Some("subscribe"), None, Some("1")),
            None
        );
        assert_eq!(
            meta_challenge("verify-me", Some("subscribe"), Some("verify-me"), None),
            None
        );
        assert_eq!(
            meta_challenge("", Some("subscribe"), Some(""), Some("1")),
            None
        );
    }

    #[test]
    fn errors_never_carry_the_secret() {
        let header = format!("sha256={}", sign(b"other", BODY));
        let error = meta_signature(SECRET, BODY, Some(&header)).unwrap_err();
        let shown = format!("{error} {error:?}");
        assert!(!shown.contains("app-secret"));
        assert!(!shown.contains(&header[7..]));
    }
}
