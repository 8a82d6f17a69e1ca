//! What someone starting wacrm needs to read in its log: where Swagger UI is,
//! and, while no staff account exists, how to create the first one (nobody can
//! sign in before that).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use wacrm_persistence::{PgPool, staff};

/// Logs the hints for a server bound to `bound`.
pub async fn announce(pool: &PgPool, bound: SocketAddr) -> anyhow::Result<()> {
    let mut conn = pool.get().await?;
    let staff_exists = staff::any_exists(&mut conn).await?;
    for hint in hints(bound, staff_exists) {
        tracing::info!("{hint}");
    }
    Ok(())
}

/// The lines to log, given the bound address and whether any staff account exists.
pub fn hints(bound: SocketAddr, staff_exists: bool) -> Vec<String> {
    let mut hints = vec![format!(
        "Swagger UI: http://{}/swagger-ui/",
        reachable(bound)
    )];
    if !staff_exists {
        hints.push(
            "no staff account exists yet, so nobody can sign in: create an admin with \
             `wacrm create-admin --email you@example.com` (with `cargo run -- create-admin …` \
             from the source; password from --password or WACRM_ADMIN_PASSWORD), or set \
             WACRM_ADMIN_EMAIL and WACRM_ADMIN_PASSWORD and start again"
                .to_owned(),
        );
    }
    hints
}

/// An address a browser on this machine can open: a wildcard bind is
/// reached through loopback.
fn reachable(bound: SocketAddr) -> SocketAddr {
    match bound.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => {
            SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), bound.port())
        }
        IpAddr::V6(ip) if ip.is_unspecified() => {
            SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), bound.port())
        }
        _ => bound,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn swagger_ui_is_named_with_an_address_a_browser_can_open() {
        let cases = [
            ("127.0.0.1:8080", "http://127.0.0.1:8080/swagger-ui/"),
            ("0.0.0.0:9000", "http://127.0.0.1:9000/swagger-ui/"),
            ("[::]:8080", "http://[::1]:8080/swagger-ui/"),
            ("192.0.2.7:80", "http://192.0.2.7:80/swagger-ui/"),
        ];
        for (bound, url) in cases {
            let hints = hints(bound.parse().unwrap(), true);
            assert_eq!(hints, [format!("Swagger UI: {url}")], "{bound}");
        }
    }

    #[test]
    fn without_staff_it_says_how_to_create_the_first_admin() {
        let hints = hints("127.0.0.1:8080".parse().unwrap(), false);
        assert_eq!(hints.len(), 2);
        assert!(
            hints[1].contains("wacrm create-admin --email"),
            "{}",
            hints[1]
        );
        assert!(hints[1].contains("WACRM_ADMIN_PASSWORD"), "{}", hints[1]);
    }
}
