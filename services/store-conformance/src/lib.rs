//! The storage conformance suite: one behavioural specification of [`Store`], run unchanged
//! against every backend so that the SQLite file used locally and the DynamoDB table used on AWS
//! behave alike.
//!
//! A backend's test file invokes [`conformance_suite!`] with an `async fn() -> Arc<dyn Store>`
//! that returns a fresh, empty store on every call. This crate depends only on the domain crate; it
//! must not know any backend.
//!
//! [`Store`]: eventforge_core::Store

pub mod fixtures;
pub mod invariants;
pub mod specs;

/// Expands to one test per specification in [`specs`] and one per property in [`invariants`].
#[macro_export]
macro_rules! conformance_suite {
    ($factory:path) => {
        $crate::conformance_suite!(@specs $factory;
            creating_an_order_writes_one_pending_record_and_its_created_event,
            a_missing_order_reads_as_none,
            an_order_reads_with_its_history_in_one_call,
            a_repeated_idempotency_key_replays_the_first_order,
            an_idempotency_key_reused_for_another_request_is_refused,
            idempotency_keys_belong_to_one_user,
            a_users_orders_come_newest_first_across_pages,
            users_see_only_their_own_orders,
            page_sizes_are_clamped_to_fifty,
            a_forged_cursor_is_refused,
            a_transition_changes_status_and_records_its_event,
            a_transition_from_the_wrong_status_changes_nothing,
            a_transition_of_a_missing_order_is_not_found,
            reserving_takes_stock_and_records_the_reservation,
            a_reservation_is_all_or_nothing,
            reserving_twice_for_one_order_changes_nothing,
            reserving_an_unknown_sku_is_refused,
            releasing_restores_the_reserved_stock_exactly_once,
            releasing_without_a_reservation_changes_nothing,
            concurrent_reservations_never_oversell,
            appending_an_event_twice_records_it_once,
            the_recent_feed_is_the_users_newest_events,
            inventory_round_trips,
            webhooks_are_created_listed_and_deleted_by_their_owner,
            a_receipt_is_attached_with_its_event,
            the_outbox_holds_every_event_until_it_is_published,
        );
        #[test]
        fn property_concurrent_reservations_and_releases_conserve_stock() {
            $crate::invariants::reservations_conserve_stock(|| $factory());
        }
        #[test]
        fn property_any_valid_order_yields_one_pending_record_and_one_created_event() {
            $crate::invariants::valid_orders_create_one_record_and_one_event(|| $factory());
        }
        #[test]
        fn property_an_idempotent_create_returns_the_same_order() {
            $crate::invariants::idempotent_create_returns_the_same_order(|| $factory());
        }
    };
    (@specs $factory:path; $($spec:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $spec() {
                $crate::specs::$spec($factory().await).await;
            }
        )*
    };
}
