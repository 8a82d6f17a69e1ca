//! Builds the whole service from a [`Config`]: database, first admin, routes,
//! middleware. `main` and the end-to-end tests use this same builder.

use std::net::TcpListener;

use actix_web::dev::{Server, ServerHandle};
use actix_web::middleware::from_fn;
use actix_web::{App, HttpServer, web};
use actix_web_prom::PrometheusMetricsBuilder;
use anyhow::Context;
use std::sync::Arc;
use utoipa_actix_web::AppExt as _;
use utoipa_swagger_ui::SwaggerUi;
use wacrm_domain::Clock;
use wacrm_persistence::PgPool;
use wacrm_persistence::secrets::Cipher;
use wacrm_worker::media_store::MediaStore;
use wacrm_worker::{CancellationToken, WorkerContext};

use crate::auth::tokens::TokenKeys;
use crate::bootstrap::{self, Outcome};
use crate::config::Config;
use crate::database::Database;
use crate::error::{ApiError, extractors};
use crate::ingest::Ingest;
use crate::realtime::Realtime;
use crate::state::AppState;
use crate::{metrics, openapi, request_id, routes, security_headers, text_guard};

/// Largest JSON body the API accepts (webhooks have their own, larger limit).
pub const API_BODY_LIMIT: usize = 1024 * 1024;

pub struct Application {
    server: Server,
    port: u16,
    database: Database,
    worker_context: WorkerContext,
    workers: Option<(CancellationToken, tokio::task::JoinHandle<()>)>,
    /// The SSE relay's LISTEN connection, ended before the database stops.
    realtime: (CancellationToken, tokio::task::JoinHandle<()>),
}

impl Application {
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        Self::build_with_clock(config, Clock::system()).await
    }

    /// [`Application::build`] reading time from `clock` (a test's adjustable
    /// one) in the API and the workers.
    pub async fn build_with_clock(config: Config, clock: Clock) -> anyhow::Result<Self> {
        let database = Database::open(&config).await?;
        if let Some((email, password)) = &config.admin {
            match bootstrap::ensure_admin(&database.pool, email, password).await? {
                Outcome::Created(id) => tracing::info!(%id, %email, "first admin created"),
                Outcome::AlreadyExists(_) => {}
            }
        }
        let cipher = Cipher::new(&config.master_key_bytes()?)?;
        let media = MediaStore::open(config.media_url.as_deref(), &config.data_dir)
            .context("opening the media store")?;
        let mut worker_context = WorkerContext::new(
            database.pool.clone(),
            cipher.clone(),
            media.clone(),
            config.graph_version.clone(),
            config.egress(),
        )?;
        worker_context.webhook_retention = config.webhook_retention();
        config.configure_webhook_delivery(&mut worker_context);
        worker_context.clock = clock.clone();
        worker_context.delivery_slots = config.delivery_slots;
        let realtime_stop = CancellationToken::new();
        let (realtime, realtime_running) =
            Realtime::start(database.url.clone(), realtime_stop.clone());
        let state = AppState {
            pool: database.api_pool.clone(),
            tokens: Arc::new(TokenKeys::new(&config.jwt_secret)),
            default_country: config.default_country,
            cipher,
            public_url: config.public_url.clone(),
            ingest: Ingest::start(database.pool.clone(), worker_context.signal.clone()),
            connections: Arc::default(),
            realtime,
            media,
            jobs: worker_context.signal.clone(),
            egress: config.egress(),
            metrics_token: config.metrics_token.clone(),
            stream_heartbeat: config.stream_heartbeat(),
            import_max_bytes: config.import_max_bytes,
            clock,
        };
        let listener = TcpListener::bind(&config.listen)
            .with_context(|| format!("binding {}", config.listen))?;
        let listener_address = listener.local_addr()?;
        let port = listener_address.port();
        let server = serve(listener, state, database.pool.clone(), config.http_workers)?;
        tracing::info!(address = %config.listen, port, "listening");
        crate::first_run::announce(&database.pool, listener_address).await?;
        let workers = config
            .run_workers
            .then(|| start_workers(worker_context.clone()));
        Ok(Self {
            server,
            port,
            database,
            worker_context,
            workers,
            realtime: (realtime_stop, realtime_running),
        })
    }

    /// What the background jobs run with (tests drive jobs with it).
    pub fn worker_context(&self) -> WorkerContext {
        self.worker_context.clone()
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Stops the server gracefully from elsewhere (tests, signal handlers).
    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// Serves until stopped (SIGINT/SIGTERM or the handle), then stops the
    /// embedded database if this process started one.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        let served = self.server.await;
        if let Some((shutdown, running)) = self.workers {
            shutdown.cancel();
            let _ = running.await;
        }
        let (realtime_stop, realtime_running) = self.realtime;
        realtime_stop.cancel();
        let _ = realtime_running.await;
        self.database.close().await;
        Ok(served?)
    }
}

/// Runs every background job on this process until `shutdown` is cancelled.
pub fn start_workers(context: WorkerContext) -> (CancellationToken, tokio::task::JoinHandle<()>) {
    let shutdown = CancellationToken::new();
    let stop = shutdown.clone();
    // Deliveries have a runner of their own, sized for the numbers' rates.
    let running = tokio::spawn(async move {
        use wacrm_worker::jobs;
        let slots = jobs::delivery_slots(&context).await;
        let deliveries = jobs::delivery_runner(context.clone(), slots);
        let resizing =
            jobs::keep_delivery_slots_sized(context.clone(), deliveries.slots(), stop.clone());
        let rest = jobs::runner(context).except::<jobs::DeliverMessage>();
        tokio::join!(rest.run(stop.clone()), deliveries.run(stop), resizing);
    });
    (shutdown, running)
}

fn serve(
    listener: TcpListener,
    state: AppState,
    pool: PgPool,
    workers: Option<usize>,
) -> anyhow::Result<Server> {
    let registry = metrics::registry(pool)?;
    let prometheus = PrometheusMetricsBuilder::new("wacrm")
        .registry(registry.clone())
        .mask_unmatched_patterns("UNMATCHED")
        .build()
        .map_err(|error| anyhow::anyhow!("metrics: {error}"))?;
    let state = web::Data::new(state);
    let registry = web::Data::new(registry);
    let mut server = HttpServer::new(move || {
        let (app, document) = App::new()
            .app_data(state.clone())
            .app_data(registry.clone())
            .app_data(
                web::JsonConfig::default()
                    .limit(API_BODY_LIMIT)
                    .error_handler(extractors::json),
            )
            .app_data(web::PathConfig::default().error_handler(extractors::path))
            .app_data(web::QueryConfig::default().error_handler(extractors::query))
            .wrap(from_fn(text_guard::middleware))
            .wrap(prometheus.clone())
            .wrap(from_fn(request_id::middleware))
            .wrap(from_fn(security_headers::middleware))
            .into_utoipa_app()
            .openapi(openapi::base())
            .configure(routes::configure)
            .split_for_parts();
        let document = openapi::finish(document);
        let allowed = web::Data::new(openapi::AllowedMethods::from_document(&document));
        app.app_data(allowed)
            .service(SwaggerUi::new("/swagger-ui/{_:.*}").url("/api-docs/openapi.json", document))
            .default_service(web::to(no_such_route))
    })
    .listen(listener)?;
    if let Some(workers) = workers {
        server = server.workers(workers);
    }
    Ok(server.run())
}

/// 405 with `Allow` for a served path asked with another method, else 404.
async fn no_such_route(
    request: actix_web::HttpRequest,
    allowed: web::Data<openapi::AllowedMethods>,
) -> Result<actix_web::HttpResponse, ApiError> {
    match allowed.for_path(request.path()) {
        Some(methods) => Err(ApiError::method_not_allowed(methods.to_owned())),
        None => Err(ApiError::new(
            actix_web::http::StatusCode::NOT_FOUND,
            "not_found",
            "no such route",
        )),
    }
}
