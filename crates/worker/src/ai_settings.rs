//! The AI settings (`/api/v1/settings/ai`): which model answers `ai` bots, in
//! which mode, with its API key sealed under the master key.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;
use wacrm_persistence::secrets::Cipher;
use wacrm_persistence::{AsyncPgConnection, StoreError, StoreResult, settings};
use wacrm_providers::ai::AiProvider;

const KEY: &str = "ai";

/// `off`: `ai` bots stay silent; `auto`: the answer is sent; `manual`: it is
/// kept as a suggestion staff see in the conversation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AiMode {
    #[default]
    Off,
    Auto,
    Manual,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Stored {
    provider: Option<AiProvider>,
    mode: AiMode,
    model: Option<String>,
    base_url: Option<String>,
    /// base64 of the sealed API key.
    api_key: Option<String>,
}

#[derive(Clone)]
pub struct AiSettings {
    pub provider: Option<AiProvider>,
    pub mode: AiMode,
    pub model: Option<String>,
    pub base_url: Option<String>,
    pub api_key: Option<String>,
}

impl std::fmt::Debug for AiSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AiSettings")
            .field("provider", &self.provider)
            .field("mode", &self.mode)
            .field("model", &self.model)
            .field("has_api_key", &self.api_key.is_some())
            .finish()
    }
}

/// The setting's row id for binding the sealed key (settings have no uuid).
fn row_id() -> Uuid {
    let digest = Sha256::digest(b"wacrm setting: ai");
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    Uuid::from_bytes(bytes)
}

pub async fn load(conn: &mut AsyncPgConnection, cipher: &Cipher) -> StoreResult<AiSettings> {
    let stored: Stored = settings::load(conn, KEY).await?;
    let api_key = match stored.api_key {
        None => None,
        Some(sealed) => {
            let bytes = STANDARD
                .decode(sealed)
                .map_err(|error| StoreError::Corrupt(error.to_string()))?;
            let plain = cipher
                .open(row_id(), &bytes)
                .map_err(|error| StoreError::Corrupt(error.to_string()))?;
            Some(String::from_utf8(plain).map_err(|error| StoreError::Corrupt(error.to_string()))?)
        }
    };
    Ok(AiSettings {
        provider: stored.provider,
        mode: stored.mode,
        model: stored.model,
        base_url: stored.base_url,
        api_key,
    })
}

pub async fn save(
    conn: &mut AsyncPgConnection,
    cipher: &Cipher,
    value: &AiSettings,
) -> StoreResult<()> {
    let stored = Stored {
        provider: value.provider,
        mode: value.mode,
        model: value.model.clone(),
        base_url: value.base_url.clone(),
        api_key: value
            .api_key
            .as_ref()
            .map(|key| STANDARD.encode(cipher.seal(row_id(), key.as_bytes()))),
    };
    settings::save(conn, KEY, &stored).await
}
