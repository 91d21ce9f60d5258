//! Drains the store's transactional outbox to the bus: read pending events, publish each, then
//! mark them published. A crash between publishing and marking publishes again on restart
//! (at-least-once); the bus's deliveries and every consumer are idempotent by event id.

use std::sync::Arc;

use eventforge_core::Store;

use crate::bus::{Bus, envelope};
use crate::error::LocalResult;

/// Events read from the outbox per round.
pub const BATCH: usize = 1000;

/// Publishes one batch of pending events; how many.
pub async fn drain_once(store: &Arc<dyn Store>, bus: &Bus) -> LocalResult<usize> {
    let pending = store.outbox_pending(BATCH).await?;
    if pending.is_empty() {
        return Ok(0);
    }
    let envelopes: Vec<_> = pending.iter().map(envelope).collect();
    let deliveries = bus.put_all(&envelopes).await?;
    for (event, deliveries) in pending.iter().zip(&deliveries) {
        tracing::debug!(
            event = %event.id,
            r#type = %event.event_type,
            rules = ?deliveries.rules,
            "published"
        );
    }
    let ids: Vec<_> = pending.iter().map(|event| event.id).collect();
    store.mark_published(&ids).await?;
    Ok(pending.len())
}
