//! Payment: a provider behind a trait, and the simulated one the platform ships with.
//!
//! The simulated provider is deterministic so that tests and demos can choose the outcome:
//! a charge above [`SIMULATED_CARD_LIMIT_MINOR`] (5,000.00 in the order's currency) is declined,
//! every other charge succeeds. Charges carry an idempotency key (the order id): charging the
//! same key again returns the first charge and moves no money.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use eventforge_core::Currency;

/// Charges above this many minor units are declined by [`SimulatedPayment`].
pub const SIMULATED_CARD_LIMIT_MINOR: u64 = 500_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChargeRequest {
    /// The same key always means the same charge.
    pub idempotency_key: String,
    pub amount_minor: u64,
    pub currency: Currency,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Charge {
    pub charge_id: String,
    pub amount_minor: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PaymentError {
    /// The card was refused: a business outcome, not worth retrying.
    #[error("card declined: {0}")]
    Declined(String),
    /// The provider could not be reached or failed: worth retrying.
    #[error("payment provider unavailable: {0}")]
    Unavailable(String),
}

#[async_trait]
pub trait PaymentProvider: Send + Sync {
    async fn charge(&self, request: &ChargeRequest) -> Result<Charge, PaymentError>;
}

/// The deterministic simulated provider (see the module docs for its rules).
#[derive(Debug, Default)]
pub struct SimulatedPayment {
    /// Charges made, by idempotency key.
    charges: Mutex<HashMap<String, Charge>>,
}

impl SimulatedPayment {
    pub fn new() -> Self {
        Self::default()
    }

    /// How many distinct charges were made (for the idempotency specification).
    pub fn charges_made(&self) -> usize {
        self.charges
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .len()
    }
}

#[async_trait]
impl PaymentProvider for SimulatedPayment {
    async fn charge(&self, request: &ChargeRequest) -> Result<Charge, PaymentError> {
        if request.amount_minor > SIMULATED_CARD_LIMIT_MINOR {
            return Err(PaymentError::Declined(format!(
                "amount over the simulated card limit of {} {}",
                SIMULATED_CARD_LIMIT_MINOR / 100,
                request.currency.as_str()
            )));
        }
        let mut charges = self
            .charges
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let charge = charges
            .entry(request.idempotency_key.clone())
            .or_insert_with(|| Charge {
                charge_id: format!("ch_sim_{}", request.idempotency_key),
                amount_minor: request.amount_minor,
            });
        Ok(charge.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(key: &str, amount_minor: u64) -> ChargeRequest {
        ChargeRequest {
            idempotency_key: key.to_owned(),
            amount_minor,
            currency: "USD".parse().expect("currency"),
        }
    }

    #[tokio::test]
    async fn a_retried_charge_is_the_first_charge_and_charges_once() {
        let provider = SimulatedPayment::new();
        let first = provider
            .charge(&request("order-1", 1_000))
            .await
            .expect("ok");
        let again = provider
            .charge(&request("order-1", 1_000))
            .await
            .expect("ok");
        assert_eq!(first, again);
        assert_eq!(provider.charges_made(), 1);
        provider
            .charge(&request("order-2", 1_000))
            .await
            .expect("ok");
        assert_eq!(provider.charges_made(), 2);
    }

    #[tokio::test]
    async fn charges_up_to_the_limit_pass_and_above_it_are_declined() {
        let provider = SimulatedPayment::new();
        assert!(
            provider
                .charge(&request("a", SIMULATED_CARD_LIMIT_MINOR))
                .await
                .is_ok()
        );
        let declined = provider
            .charge(&request("b", SIMULATED_CARD_LIMIT_MINOR + 1))
            .await;
        assert!(
            matches!(declined, Err(PaymentError::Declined(_))),
            "{declined:?}"
        );
        assert_eq!(provider.charges_made(), 1, "a decline charges nothing");
    }
}
