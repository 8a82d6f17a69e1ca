//! With no `DATABASE_URL`, the service runs its own PostgreSQL under the data
//! directory, and the data outlives a restart.

use reqwest::StatusCode;
use serde_json::json;
use wacrm_api::{Application, Config};

use crate::harness::{ADMIN_EMAIL, ADMIN_PASSWORD, TestApp};

async fn start(data_dir: &std::path::Path) -> (Application, String) {
    let dir = data_dir.to_str().unwrap().to_owned();
    let config = Config::from_vars(|name| match name {
        "WACRM_DATA_DIR" => Some(dir.clone()),
        "WACRM_LISTEN" => Some("127.0.0.1:0".into()),
        "WACRM_ADMIN_EMAIL" => Some(ADMIN_EMAIL.into()),
        "WACRM_ADMIN_PASSWORD" => Some(ADMIN_PASSWORD.into()),
        "WACRM_HTTP_WORKERS" => Some("1".into()),
        _ => None,
    })
    .unwrap();
    assert!(config.database_url.is_none());
    let app = Application::build(config).await.unwrap();
    let address = format!("http://127.0.0.1:{}", app.port());
    (app, address)
}

#[tokio::test]
async fn the_embedded_cluster_keeps_data_across_restarts() {
    let data_dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(
        data_dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let client = reqwest::Client::new();
    let login = json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD});

    let (app, address) = start(data_dir.path()).await;
    let handle = app.handle();
    let running = tokio::spawn(app.run_until_stopped());
    assert_eq!(
        client
            .get(format!("{address}/readyz"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    let tokens: serde_json::Value = client
        .post(format!("{address}/api/v1/auth/login"))
        .json(&login)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = tokens["access_token"].as_str().unwrap();
    let created = client
        .post(format!("{address}/api/v1/leads"))
        .bearer_auth(token)
        .json(&json!({"name": "Survivor"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    handle.stop(true).await;
    running.await.unwrap().unwrap();
    assert!(
        !data_dir
            .path()
            .join("postgres/data/postmaster.pid")
            .exists(),
        "the cluster is stopped with the service"
    );

    let (app, address) = start(data_dir.path()).await;
    let handle = app.handle();
    let running = tokio::spawn(app.run_until_stopped());
    let tokens: serde_json::Value = client
        .post(format!("{address}/api/v1/auth/login"))
        .json(&login)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let leads = TestApp::answer(
        client
            .get(format!("{address}/api/v1/leads"))
            .bearer_auth(tokens["access_token"].as_str().unwrap())
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(leads.body["items"][0]["name"], "Survivor");
    handle.stop(true).await;
    running.await.unwrap().unwrap();
}
