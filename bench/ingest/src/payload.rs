//! Distinct, signed Meta webhooks, built on the fly.
//!
//! Each body is one `whatsapp_business_account` envelope with one text
//! message: a unique wamid, a sender drawn from a fixed set of phones (so the
//! messages spread over many conversations), and the current timestamp.
//! Building one is a `format!` and signing it an HMAC-SHA256 from a keyed
//! state cloned per body: a few microseconds, far below a request's cost.

use std::fmt::Write as _;

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The first sender: Kenyan mobile numbers 254700000000, 254700000001, …
const FIRST_SENDER: u64 = 254_700_000_000;

pub struct Payloads {
    keyed: Hmac<Sha256>,
    run: String,
    waba_id: String,
    phone_number_id: String,
    senders: u64,
}

/// One webhook, ready to post.
pub struct Signed {
    pub body: Vec<u8>,
    /// The `X-Hub-Signature-256` value: `sha256=<hex>`.
    pub signature: String,
}

impl Payloads {
    pub fn new(
        app_secret: &str,
        run: &str,
        waba_id: &str,
        phone_number_id: &str,
        senders: u64,
    ) -> anyhow::Result<Self> {
        Ok(Self {
            keyed: Hmac::<Sha256>::new_from_slice(app_secret.as_bytes())
                .map_err(|error| anyhow::anyhow!("HMAC key: {error}"))?,
            run: run.to_owned(),
            waba_id: waba_id.to_owned(),
            phone_number_id: phone_number_id.to_owned(),
            senders: senders.max(1),
        })
    }

    /// The sender of message `seq` (an index below `senders`).
    pub fn sender_of(&self, seq: u64) -> u64 {
        splitmix64(seq) % self.senders
    }

    /// Message `seq`, stamped `unix_seconds`.
    pub fn build(&self, seq: u64, unix_seconds: u64) -> Signed {
        let sender = self.sender_of(seq);
        let phone = FIRST_SENDER + sender;
        let mut body = String::with_capacity(640);
        // Writing to a String cannot fail.
        let _ = write!(
            body,
            concat!(
                r#"{{"object":"whatsapp_business_account","entry":[{{"id":"{waba}","changes":[{{"field":"messages","#,
                r#""value":{{"messaging_product":"whatsapp","metadata":{{"display_phone_number":"15550100999","#,
                r#""phone_number_id":"{pnid}"}},"contacts":[{{"profile":{{"name":"Customer {sender}"}},"wa_id":"{phone}"}}],"#,
                r#""messages":[{{"from":"{phone}","id":"wamid.bench.{run}.{seq}","timestamp":"{ts}","type":"text","#,
                r#""text":{{"body":"Hello, I need help with order {seq}"}}}}]}}}}]}}]}}"#
            ),
            waba = self.waba_id,
            pnid = self.phone_number_id,
            sender = sender,
            phone = phone,
            run = self.run,
            seq = seq,
            ts = unix_seconds,
        );
        let body = body.into_bytes();
        let mut mac = self.keyed.clone();
        mac.update(&body);
        let mut signature = String::with_capacity(71);
        signature.push_str("sha256=");
        signature.push_str(&hex::encode(mac.finalize().into_bytes()));
        Signed { body, signature }
    }
}

/// A fixed, well-mixed permutation of u64 (so senders look random but every
/// run draws the same ones).
fn splitmix64(seq: u64) -> u64 {
    let mut z = seq.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_json_distinct_and_signed() -> anyhow::Result<()> {
        let payloads = Payloads::new("secret", "r1", "1022", "1065", 20_000)?;
        let a = payloads.build(1, 1_779_872_400);
        let b = payloads.build(2, 1_779_872_400);
        assert_ne!(a.body, b.body);
        let parsed: serde_json::Value = serde_json::from_slice(&a.body)?;
        let message = &parsed["entry"][0]["changes"][0]["value"]["messages"][0];
        assert_eq!(message["id"], "wamid.bench.r1.1");
        assert_eq!(message["type"], "text");
        assert_eq!(
            parsed["entry"][0]["changes"][0]["value"]["metadata"]["phone_number_id"],
            "1065"
        );
        let mut mac = Hmac::<Sha256>::new_from_slice(b"secret")?;
        mac.update(&a.body);
        assert_eq!(
            a.signature,
            format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
        );
        Ok(())
    }

    #[test]
    fn senders_spread_over_the_set() -> anyhow::Result<()> {
        let payloads = Payloads::new("s", "r", "w", "p", 20_000)?;
        let distinct: std::collections::HashSet<u64> =
            (0..100_000).map(|seq| payloads.sender_of(seq)).collect();
        assert!(distinct.len() > 19_000, "{}", distinct.len());
        Ok(())
    }
}
