//! The Standard Webhooks signature: `v1,<base64 HMAC-SHA256(key,
//! "{webhook-id}.{webhook-timestamp}.{body}")>`, one per secret in force,
//! separated by spaces (during a rotation the receiver may hold either).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use wacrm_domain::webhook_endpoints::EndpointSecret;

/// The `webhook-signature` header for `body` sent as `id` at `timestamp`
/// (Unix seconds), signed with every secret of `secrets`.
pub fn header(secrets: &[EndpointSecret], id: &str, timestamp: i64, body: &[u8]) -> String {
    secrets
        .iter()
        .map(|secret| format!("v1,{}", sign(secret, id, timestamp, body)))
        .collect::<Vec<_>>()
        .join(" ")
}

fn sign(secret: &EndpointSecret, id: &str, timestamp: i64, body: &[u8]) -> String {
    // HMAC takes a key of any length: this cannot fail.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.key()) else {
        return String::new();
    };
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    STANDARD.encode(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of the Standard Webhooks reference implementations.
    #[test]
    fn signs_like_the_reference_implementation() {
        let secret = EndpointSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", |text| {
            STANDARD.decode(text).ok()
        })
        .unwrap();
        let body = br#"{"test": 2432232314}"#;
        assert_eq!(
            header(
                &[secret],
                "msg_p5jXN8AQM9LWM0D4loKWxJek",
                1_614_265_330,
                body
            ),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn every_secret_in_force_signs() {
        let one = EndpointSecret::from_key(vec![1; 32]).unwrap();
        let two = EndpointSecret::from_key(vec![2; 32]).unwrap();
        let both = header(&[one.clone(), two.clone()], "id", 1, b"{}");
        let parts: Vec<&str> = both.split(' ').collect();
        assert_eq!(
            parts,
            [
                header(&[one], "id", 1, b"{}"),
                header(&[two], "id", 1, b"{}")
            ]
        );
    }
}
