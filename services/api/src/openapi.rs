//! The OpenAPI 3.1 document, assembled from the handlers' `#[utoipa::path]` annotations (through
//! the router's one list of endpoints, `crate::endpoints`) and the domain types' schemas, and
//! served at `/openapi.json`.

use crate::error::Problem;
use std::sync::LazyLock;
use utoipa::openapi::OpenApi as Document;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

/// The name the bearer scheme goes by in the document's `security` requirements.
pub const BEARER_SCHEME: &str = "bearer";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "EventForge API",
        description = "Orders, their event history, webhooks and the event feed. Every /api route needs \
            `Authorization: Bearer <access token>`; errors are RFC 7807 problem documents \
            (`application/problem+json`)."
    ),
    components(schemas(
        Problem,
        eventforge_core::validation::FieldError,
        // Named by reference from `CreateOrderRequest.items`, whose schema is built by hand
        // (`eventforge_core::schema::requested_items`), so not found by the derive.
        eventforge_core::validation::RequestedItem,
    )),
    modifiers(&BearerSecurity),
    tags(
        (name = "orders", description = "Placing and following orders"),
        (name = "webhooks", description = "Where the caller's events are delivered"),
        (name = "events", description = "The caller's event feed"),
        (name = "ingest", description = "Events from outside systems, signed with HMAC-SHA256"),
        (name = "catalogue", description = "Products and stock, for members of the admins group"),
        (name = "operations", description = "Health and this document"),
        (name = "development", description = "Only under `cargo xtask dev` (a development issuer)"),
    )
)]
pub struct ApiDoc;

struct BearerSecurity;

impl Modify for BearerSecurity {
    fn modify(&self, openapi: &mut Document) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            BEARER_SCHEME,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "An RS256 access token: Cognito's on AWS, the development issuer's locally",
                    ))
                    .build(),
            ),
        );
    }
}

/// The document, built once.
pub fn document() -> &'static Document {
    static DOCUMENT: LazyLock<Document> =
        LazyLock::new(|| ApiDoc::openapi().merge_from(crate::all_paths()));
    &DOCUMENT
}
