//! Where each provider's API lives unless a connection overrides it.

use wacrm_domain::Provider;

/// The Graph API version wacrm speaks (overridable per deployment).
pub const META_GRAPH_VERSION: &str = "v25.0";

pub fn default_base_url(provider: Provider) -> &'static str {
    match provider {
        Provider::Meta => "https://graph.facebook.com",
        Provider::Lipachat => "https://gateway.lipachat.com/api/v1",
        Provider::Whats91 => "https://graph.whats91.com/api/v2",
        Provider::Tata => "https://wb.omni.tatatelebusiness.com",
    }
}
