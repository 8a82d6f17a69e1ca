//! Health, readiness, metrics, the OpenAPI document and request ids.

use reqwest::StatusCode;

use crate::harness::TestApp;

#[tokio::test]
async fn health_and_readiness_answer_once_migrated() {
    let app = TestApp::spawn().await;
    for path in ["/healthz", "/readyz"] {
        let answer = TestApp::answer(app.client.get(app.url(path)).send().await.unwrap()).await;
        assert_eq!(answer.status, StatusCode::OK, "{path}");
        assert_eq!(answer.body["status"], "ok");
    }
}

#[tokio::test]
async fn metrics_count_requests_by_route_and_expose_the_pool() {
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    app.get("/api/v1/leads", &token).await;
    let text = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.lines()
            .any(|line| line.starts_with("wacrm_http_requests_total")
                && line.contains("endpoint=\"/api/v1/leads\"")
                && line.contains("status=\"200\"")),
        "{text}"
    );
    assert!(text.contains("wacrm_http_requests_duration_seconds_bucket"));
    assert!(text.contains("wacrm_db_pool_max_connections 4"));
}

#[tokio::test]
async fn the_served_spec_is_the_committed_one() {
    let served = served_spec().await;
    let committed: serde_json::Value =
        serde_json::from_str(include_str!("../../../openapi/openapi.json")).unwrap();
    assert!(
        served == committed,
        "openapi/openapi.json is stale: regenerate it with `cargo run -q -- openapi > openapi/openapi.json`"
    );
    for path in [
        "/api/v1/auth/login",
        "/api/v1/leads/{id}",
        "/api/v1/api-keys",
        "/readyz",
    ] {
        assert!(
            served["paths"][path].is_object(),
            "{path} is missing from the spec"
        );
    }
    let schemes = &served["components"]["securitySchemes"];
    assert_eq!(schemes["bearer"]["scheme"], "bearer");
    assert_eq!(schemes["api_key"]["name"], "X-Api-Key");
}

#[tokio::test]
async fn every_operation_documents_the_problems_it_can_answer() {
    let spec = served_spec().await;
    let mut checked = 0;
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let responses = operation["responses"].as_object().unwrap();
            let has = |status: &str| responses.contains_key(status);
            let where_ = format!("{method} {path}");
            assert!(has("500"), "{where_}: 500");
            let secured = operation["security"]
                .as_array()
                .is_some_and(|s| !s.is_empty());
            if secured {
                assert!(has("401") && has("403"), "{where_}: 401/403");
                assert!(has("503"), "{where_}: 503");
            }
            let params = operation["parameters"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            if params.iter().any(|p| p["in"] == "path") {
                assert!(has("400") && has("404"), "{where_}: 400/404");
            }
            if operation.get("requestBody").is_some() {
                for status in ["400", "413", "415", "422"] {
                    assert!(has(status), "{where_}: {status}");
                }
            }
            checked += 1;
        }
    }
    assert!(checked > 80, "only {checked} operations");
    // Constraints are declared, so a client (or a fuzzer) knows what is valid.
    let limit = spec["paths"]["/api/v1/leads"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "limit")
        .unwrap();
    assert_eq!(limit["schema"]["minimum"], 1);
    assert_eq!(limit["schema"]["maximum"], 200);
    // The shared responses resolve to the problem schema.
    let unauthorized = &spec["components"]["responses"]["Unauthorized"];
    assert_eq!(
        unauthorized["content"]["application/problem+json"]["schema"]["$ref"],
        "#/components/schemas/Problem"
    );
}

#[tokio::test]
async fn swagger_ui_is_served() {
    let app = TestApp::spawn().await;
    let response = app
        .client
        .get(app.url("/swagger-ui/"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.text().await.unwrap().contains("swagger"));
}

#[tokio::test]
async fn every_answer_carries_a_request_id_and_problems_repeat_it() {
    let app = TestApp::spawn().await;
    let answer = TestApp::answer(
        app.client
            .get(app.url("/api/v1/nowhere"))
            .header("x-request-id", "trace-me-123")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
    assert_eq!(answer.problem_code(), "not_found");
    assert_eq!(answer.headers["x-request-id"], "trace-me-123");
    assert_eq!(answer.body["request_id"], "trace-me-123");

    let generated =
        TestApp::answer(app.client.get(app.url("/healthz")).send().await.unwrap()).await;
    assert!(!generated.headers["x-request-id"].is_empty());
}

#[tokio::test]
async fn metrics_can_require_a_bearer_token() {
    let app =
        TestApp::spawn_with(&[("WACRM_METRICS_TOKEN", "scrape-token-of-32-characters-ok")]).await;
    let anonymous = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    let wrong = app
        .client
        .get(app.url("/metrics"))
        .bearer_auth("not-it")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let scraped = app
        .client
        .get(app.url("/metrics"))
        .bearer_auth("scrape-token-of-32-characters-ok")
        .send()
        .await
        .unwrap();
    assert_eq!(scraped.status(), StatusCode::OK);
    assert!(scraped.text().await.unwrap().contains("wacrm_"));
}

/// The OpenAPI document a fresh app serves.
async fn served_spec() -> serde_json::Value {
    let app = TestApp::spawn().await;
    app.client
        .get(app.url("/api-docs/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}
