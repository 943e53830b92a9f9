//! The HTTP edge (actix-web): routing, content negotiation, headers, request
//! logs, and errors → OperationOutcome. Handlers only translate between HTTP
//! and `crate::rest`.

mod format;
mod handlers;
mod logging;
mod request;
mod response;

use actix_web::{web, HttpRequest};

use crate::rest::Context;
use handlers as h;

pub use format::{parse_resource, Format};
pub use logging::request_log;

/// Shared state of every handler.
pub struct AppState {
    pub ctx: Context,
    /// Configured public base URL; when `None` it is taken from each request.
    pub base_url: Option<String>,
    pub max_body_bytes: usize,
    /// When this server started (the CapabilityStatement's date).
    pub started_at: String,
}

impl AppState {
    /// The base URL for links, `Location` and `fullUrl`s.
    pub fn base(&self, req: &HttpRequest) -> String {
        match &self.base_url {
            Some(b) => b.clone(),
            None => {
                let info = req.connection_info();
                format!("{}://{}", info.scheme(), info.host())
            }
        }
    }
}

/// All routes. More specific paths come first, as actix matches in order.
pub fn routes(cfg: &mut web::ServiceConfig) {
    let not_allowed = || web::route().to(h::method_not_allowed);
    cfg.service(
        web::resource("/metadata")
            .route(web::get().to(h::metadata))
            .default_service(not_allowed()),
    )
    .service(web::resource("/healthz").route(web::get().to(h::healthz)))
    .service(
        web::resource("/$reindex-status")
            .route(web::get().to(h::reindex_status))
            .default_service(not_allowed()),
    )
    .service(web::resource("/readyz").route(web::get().to(h::readyz)))
    .service(
        web::resource(crate::subscriptions::websocket::PATH)
            .route(web::get().to(h::subscription_websocket))
            .default_service(not_allowed()),
    )
    .service(
        web::resource("/_history")
            .route(web::get().to(h::history_system))
            .default_service(not_allowed()),
    )
    .service(
        web::resource("/")
            .route(web::post().to(h::bundle))
            .route(web::get().to(h::search_system))
            .default_service(not_allowed()),
    )
    .service(
        web::resource("/_search")
            .route(web::post().to(h::search_system_post))
            .default_service(not_allowed()),
    )
    .service(
        web::resource("/{type}/_history")
            .route(web::get().to(h::history_type))
            .default_service(not_allowed()),
    )
    .service(
        web::resource("/{type}/_search")
            .route(web::post().to(h::search_type_post))
            .default_service(not_allowed()),
    )
    .service(
        web::resource("/{type}/{id}/_history")
            .route(web::get().to(h::history_instance))
            .default_service(not_allowed()),
    )
    .service(
        web::resource("/{type}/{id}/_history/{vid}")
            .route(web::get().to(h::vread))
            .default_service(not_allowed()),
    )
    .service(
        web::resource("/{compartment}/{id}/{type}/_search")
            .route(web::post().to(h::search_compartment_post))
            .default_service(not_allowed()),
    )
    .service(
        web::resource("/{type}/{id}/{op:\\$[a-z-]+}")
            .route(web::get().to(h::operation_instance))
            .route(web::post().to(h::operation_instance))
            .default_service(not_allowed()),
    )
    .service(
        web::resource("/{type}/{op:\\$[a-z-]+}")
            .route(web::get().to(h::operation_type))
            .route(web::post().to(h::operation_type))
            .default_service(not_allowed()),
    )
    .service(
        web::resource("/{compartment}/{id}/{type}")
            .route(web::get().to(h::search_compartment))
            .default_service(not_allowed()),
    )
    .service(
        web::resource("/{type}")
            .route(web::post().to(h::create))
            .route(web::get().to(h::search_type))
            .route(web::put().to(h::update_conditional))
            .route(web::patch().to(h::patch_conditional))
            .route(web::delete().to(h::delete_conditional))
            .default_service(not_allowed()),
    )
    .service(
        web::resource("/{type}/{id}")
            .route(web::get().to(h::read))
            .route(web::put().to(h::update))
            .route(web::patch().to(h::patch))
            .route(web::delete().to(h::delete))
            .default_service(not_allowed()),
    )
    .default_service(web::route().to(h::not_found));
}
