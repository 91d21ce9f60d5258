//! The receipt processor: a PDF receipt for every confirmed order, stored where the API links to
//! it (S3 on AWS, the receipts folder `cargo xtask dev` serves), then attached to the order.
//!
//! The PDF is written with `pdf-writer` using the standard Helvetica font (every PDF reader has
//! it, so nothing is embedded): one A4 page with the order, its lines and its total.

use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use eventforge_core::{Clock, Event, EventType, Order, Store};
use pdf_writer::{Content, Finish, Name, Pdf, Rect, Ref, Str};
use serde_json::json;

use crate::message::{ProcessError, Processor};
use crate::order_event_id;
use eventforge_topology::Queue;

/// Where receipt files go.
#[async_trait]
pub trait ReceiptStore: Send + Sync {
    async fn put(&self, key: &str, pdf: &[u8]) -> Result<(), ProcessError>;
}

/// Receipts as files under a folder: the folder `cargo xtask dev` serves at `/files/receipts/`.
pub struct ReceiptFolder {
    dir: PathBuf,
}

impl ReceiptFolder {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }
}

#[async_trait]
impl ReceiptStore for ReceiptFolder {
    async fn put(&self, key: &str, pdf: &[u8]) -> Result<(), ProcessError> {
        let failed =
            |e: std::io::Error| ProcessError::Failed(format!("{}: {e}", self.dir.display()));
        tokio::fs::create_dir_all(&self.dir).await.map_err(failed)?;
        let path = self.dir.join(key);
        let partial = path.with_extension("pdf.partial");
        tokio::fs::write(&partial, pdf).await.map_err(failed)?;
        tokio::fs::rename(&partial, &path).await.map_err(failed)
    }
}

/// The store is a type parameter for the Lambda zip's sake, as in `SagaDeps`.
pub struct ReceiptDeps<S: Store + ?Sized = dyn Store> {
    pub store: Arc<S>,
    pub clock: Arc<dyn Clock>,
    pub receipts: Arc<dyn ReceiptStore>,
}

/// The key (file name, object key) of an order's receipt.
pub fn receipt_key(order: &Order) -> String {
    format!("{}.pdf", order.id)
}

/// `12345` minor units as `123.45`.
pub fn amount(minor: u64) -> String {
    format!("{}.{:02}", minor / 100, minor % 100)
}

/// The receipt of `order` as PDF bytes.
pub fn render(order: &Order) -> Vec<u8> {
    let (catalog, tree, page_id, font, contents) = (
        Ref::new(1),
        Ref::new(2),
        Ref::new(3),
        Ref::new(4),
        Ref::new(5),
    );
    let regular = Name(b"F1");
    let mut pdf = Pdf::new();
    pdf.catalog(catalog).pages(tree);
    pdf.pages(tree).kids([page_id]).count(1);
    let mut page = pdf.page(page_id);
    page.media_box(Rect::new(0.0, 0.0, 595.0, 842.0));
    page.parent(tree);
    page.contents(contents);
    page.resources().fonts().pair(regular, font);
    page.finish();
    pdf.type1_font(font).base_font(Name(b"Helvetica"));

    let currency = order.currency.as_str();
    let mut lines = vec![
        (18.0, "EventForge receipt".to_owned()),
        (11.0, format!("Order {}", order.id)),
        (11.0, format!("Placed {}", order.created_at.date())),
        (11.0, String::new()),
        (
            11.0,
            format!(
                "{:<24} {:>8} {:>14} {:>14}",
                "Item", "Qty", "Unit price", "Amount"
            ),
        ),
    ];
    for item in &order.items {
        let line_total = item
            .unit_price_minor
            .saturating_mul(u64::from(item.quantity));
        lines.push((
            11.0,
            format!(
                "{:<24} {:>8} {:>14} {:>14}",
                item.sku.as_str(),
                item.quantity,
                amount(item.unit_price_minor),
                amount(line_total)
            ),
        ));
    }
    lines.push((11.0, String::new()));
    lines.push((
        13.0,
        format!("Total: {} {currency}", amount(order.total_minor)),
    ));

    let mut content = Content::new();
    let mut y = 780.0;
    for (size, text) in &lines {
        content.begin_text();
        content.set_font(regular, *size);
        content.next_line(60.0, y);
        content.show(Str(text.as_bytes()));
        content.end_text();
        y -= size * 1.8;
    }
    pdf.stream(contents, &content.finish());
    pdf.finish()
}

#[async_trait]
impl<S: Store + ?Sized + 'static> Processor for ReceiptDeps<S> {
    const QUEUE: Queue = Queue::Receipt;

    async fn process(&self, event: Event) -> Result<(), ProcessError> {
        process(self, event).await
    }
}

/// Renders and stores the receipt of a confirmed order, then attaches it. An order that has its
/// receipt already is left alone (a redelivered message).
pub async fn process<S: Store + ?Sized>(
    deps: &ReceiptDeps<S>,
    event: Event,
) -> Result<(), ProcessError> {
    let Some(order_id) = event
        .order_id
        .filter(|_| event.event_type == EventType::ORDER_CONFIRMED)
    else {
        return Ok(());
    };
    let order = deps
        .store
        .get_order(order_id)
        .await?
        .ok_or_else(|| ProcessError::Failed(format!("order {order_id} does not exist")))?;
    if order.receipt_key.is_some() {
        return Ok(());
    }
    let key = receipt_key(&order);
    let pdf = render(&order);
    deps.receipts.put(&key, &pdf).await?;
    let mut generated = Event::about_order(
        EventType::RECEIPT_GENERATED,
        order.id,
        order.user_id.clone(),
        deps.clock.now(),
        json!({ "key": key, "bytes": pdf.len() }),
    )
    .caused_by(event.trace);
    generated.id = order_event_id(order.id, EventType::RECEIPT_GENERATED.as_str());
    deps.store
        .attach_receipt(order.id, &key, &generated)
        .await?;
    Ok(())
}
