//! Specifications of the EventBridge pattern matcher, after EventBridge's documented examples,
//! and property tests of its invariants.

use eventforge_local::pattern::Pattern;
use proptest::prelude::*;
use serde_json::{Value, json};

fn matches(pattern: Value, event: Value) -> bool {
    Pattern::compile(&pattern)
        .unwrap_or_else(|e| panic!("{pattern} compiles: {e}"))
        .matches(&event)
}

fn event() -> Value {
    json!({
        "source": "eventforge.orders",
        "detail-type": "order.confirmed",
        "detail": {
            "type": "order.confirmed",
            "order_id": "0b6c",
            "total": 4200,
            "currency": "EUR",
            "express": false,
            "coupon": null,
            "items": [{"sku": "SKU-1", "quantity": 2}, {"sku": "SKU-9", "quantity": 1}],
            "tags": ["gift", "priority"],
            "customer": {"country": "DE", "email": "alice@example.com"}
        }
    })
}

#[test]
fn exact_values_of_every_json_type_match() {
    assert!(matches(json!({"source": ["eventforge.orders"]}), event()));
    assert!(matches(json!({"detail": {"total": [4200]}}), event()));
    assert!(
        matches(json!({"detail": {"total": [4200.0]}}), event()),
        "numbers compare by value"
    );
    assert!(matches(json!({"detail": {"express": [false]}}), event()));
    assert!(matches(json!({"detail": {"coupon": [null]}}), event()));
    assert!(
        !matches(json!({"detail": {"total": ["4200"]}}), event()),
        "a string is not a number"
    );
    assert!(!matches(json!({"source": ["eventforge.other"]}), event()));
}

#[test]
fn the_values_of_a_field_are_alternatives_and_fields_must_all_match() {
    assert!(matches(
        json!({"detail-type": ["order.failed", "order.confirmed"]}),
        event()
    ));
    assert!(matches(
        json!({"source": ["eventforge.orders"], "detail-type": ["order.confirmed"]}),
        event()
    ));
    assert!(!matches(
        json!({"source": ["eventforge.orders"], "detail-type": ["order.failed"]}),
        event()
    ));
}

#[test]
fn the_platform_rules_match_their_event_types_only_and_the_ingested_rule_only_outside_events() {
    use eventforge_core::EventType;
    use eventforge_topology::event_source;
    for rule in eventforge_topology::rules() {
        let pattern = Pattern::compile(&rule.pattern()).unwrap();
        for event_type in [
            "order.created",
            "order.confirmed",
            "order.failed",
            "payment.charged",
            "shipment.dispatched",
            "crm.note.added",
        ] {
            // Published as the outbox publisher and the local bus publish it.
            let source = event_source(event_type.parse::<EventType>().unwrap().is_platform_owned());
            let event = json!({"source": source, "detail-type": event_type, "detail": {}});
            let expected = rule.source == source
                && (rule.event_types.is_empty() || rule.event_types.contains(&event_type));
            assert_eq!(
                pattern.matches(&event),
                expected,
                "{} on {event_type}",
                rule.name
            );
        }
        let foreign = json!({"source": "someone.else", "detail-type": "order.created"});
        assert!(
            !pattern.matches(&foreign),
            "{} on another source",
            rule.name
        );
    }
}

#[test]
fn nested_fields_and_arrays_in_the_event() {
    assert!(matches(
        json!({"detail": {"customer": {"country": ["DE"]}}}),
        event()
    ));
    assert!(
        matches(json!({"detail": {"tags": ["priority"]}}), event()),
        "any element of an array"
    );
    assert!(
        matches(json!({"detail": {"items": {"sku": ["SKU-9"]}}}), event()),
        "through arrays of objects"
    );
    assert!(!matches(
        json!({"detail": {"items": {"sku": ["SKU-2"]}}}),
        event()
    ));
    assert!(
        !matches(json!({"detail": {"customer": ["DE"]}}), event()),
        "an object is not a value"
    );
}

#[test]
fn prefix_suffix_equals_ignore_case_and_wildcard() {
    assert!(matches(
        json!({"detail-type": [{"prefix": "order."}]}),
        event()
    ));
    assert!(!matches(
        json!({"detail-type": [{"prefix": "payment."}]}),
        event()
    ));
    assert!(matches(
        json!({"detail-type": [{"suffix": ".confirmed"}]}),
        event()
    ));
    assert!(matches(
        json!({"detail-type": [{"prefix": {"equals-ignore-case": "ORDER."}}]}),
        event()
    ));
    assert!(matches(
        json!({"detail-type": [{"suffix": {"equals-ignore-case": ".CONFIRMED"}}]}),
        event()
    ));
    assert!(matches(
        json!({"detail": {"currency": [{"equals-ignore-case": "eur"}]}}),
        event()
    ));
    assert!(matches(
        json!({"detail": {"customer": {"email": [{"wildcard": "*@example.*"}]}}}),
        event()
    ));
    assert!(!matches(
        json!({"detail": {"customer": {"email": [{"wildcard": "*@example.org"}]}}}),
        event()
    ));
    assert!(
        !matches(json!({"detail": {"total": [{"prefix": "42"}]}}), event()),
        "prefix applies to strings"
    );
}

#[test]
fn anything_but_a_value_a_list_or_a_prefix() {
    assert!(matches(
        json!({"detail": {"currency": [{"anything-but": "USD"}]}}),
        event()
    ));
    assert!(!matches(
        json!({"detail": {"currency": [{"anything-but": "EUR"}]}}),
        event()
    ));
    assert!(matches(
        json!({"detail": {"currency": [{"anything-but": ["USD", "GBP"]}]}}),
        event()
    ));
    assert!(!matches(
        json!({"detail": {"currency": [{"anything-but": ["USD", "EUR"]}]}}),
        event()
    ));
    assert!(matches(
        json!({"detail": {"total": [{"anything-but": [100, 200]}]}}),
        event()
    ));
    assert!(!matches(
        json!({"detail": {"total": [{"anything-but": 4200}]}}),
        event()
    ));
    assert!(matches(
        json!({"detail-type": [{"anything-but": {"prefix": "payment."}}]}),
        event()
    ));
    assert!(!matches(
        json!({"detail-type": [{"anything-but": {"prefix": "order."}}]}),
        event()
    ));
    assert!(!matches(
        json!({"detail-type": [{"anything-but": {"suffix": "confirmed"}}]}),
        event()
    ));
    assert!(!matches(
        json!({"detail": {"currency": [{"anything-but": {"equals-ignore-case": ["usd", "eur"]}}]}}),
        event()
    ));
    assert!(
        !matches(
            json!({"detail": {"missing": [{"anything-but": "x"}]}}),
            event()
        ),
        "an absent field matches nothing"
    );
}

#[test]
fn numeric_comparisons_and_ranges() {
    assert!(matches(
        json!({"detail": {"total": [{"numeric": [">", 100]}]}}),
        event()
    ));
    assert!(matches(
        json!({"detail": {"total": [{"numeric": [">=", 4200, "<", 5000]}]}}),
        event()
    ));
    assert!(!matches(
        json!({"detail": {"total": [{"numeric": [">", 4200, "<=", 5000]}]}}),
        event()
    ));
    assert!(matches(
        json!({"detail": {"total": [{"numeric": ["=", 4200]}]}}),
        event()
    ));
    assert!(matches(
        json!({"detail": {"items": {"quantity": [{"numeric": ["<", 2]}]}}}),
        event()
    ));
    assert!(!matches(
        json!({"detail": {"currency": [{"numeric": [">", 0]}]}}),
        event()
    ));
}

#[test]
fn exists_true_and_false_look_at_leaves() {
    assert!(matches(
        json!({"detail": {"order_id": [{"exists": true}]}}),
        event()
    ));
    assert!(!matches(
        json!({"detail": {"refund": [{"exists": true}]}}),
        event()
    ));
    assert!(matches(
        json!({"detail": {"refund": [{"exists": false}]}}),
        event()
    ));
    assert!(!matches(
        json!({"detail": {"order_id": [{"exists": false}]}}),
        event()
    ));
    assert!(
        matches(json!({"detail": {"coupon": [{"exists": true}]}}), event()),
        "null is a value"
    );
    assert!(
        !matches(json!({"detail": {"customer": [{"exists": true}]}}), event()),
        "objects are not leaves"
    );
}

#[test]
fn or_offers_alternative_sub_patterns_at_any_level() {
    let pattern = json!({
        "source": ["eventforge.orders"],
        "$or": [
            {"detail-type": ["order.failed"]},
            {"detail": {"total": [{"numeric": [">", 1000]}]}}
        ]
    });
    assert!(matches(pattern.clone(), event()));
    let mut small = event();
    small["detail"]["total"] = json!(5);
    assert!(!matches(pattern, small));
    let nested =
        json!({"detail": {"$or": [{"currency": ["USD"]}, {"customer": {"country": ["DE"]}}]}});
    assert!(matches(nested, event()));
}

#[test]
fn malformed_patterns_are_refused() {
    for bad in [
        json!([]),
        json!({}),
        json!({"source": "not-an-array"}),
        json!({"source": []}),
        json!({"source": [{"prefix": 1}]}),
        json!({"source": [{"numeric": [">", "x"]}]}),
        json!({"source": [{"numeric": [">", 1, ">", 2]}]}),
        json!({"source": [{"exists": "yes"}]}),
        json!({"source": [{"unknown-operator": 1}]}),
        json!({"source": [{"prefix": "a", "suffix": "b"}]}),
        json!({"$or": [{"a": [1]}]}),
        json!({"source": [{"anything-but": {"numeric": [">", 1]}}]}),
        json!({"source": [{"wildcard": "a**b"}]}),
    ] {
        assert!(Pattern::compile(&bad).is_err(), "{bad} should be refused");
    }
}

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        "[a-z.]{0,8}".prop_map(Value::from),
        (-1000i64..1000).prop_map(Value::from),
        any::<bool>().prop_map(Value::from),
    ]
}

proptest! {
    /// A pattern naming a field's own value matches, wherever the value sits among others.
    #[test]
    fn an_event_matches_its_own_values(value in scalar(), others in prop::collection::vec(scalar(), 0..4), at in 0usize..4) {
        let mut list = others.clone();
        list.insert(at.min(list.len()), value.clone());
        let event = json!({"detail": {"field": list}});
        let own = json!({"detail": {"field": [value.clone()]}});
        prop_assert!(matches(own.clone(), event));
        let scalar_event = json!({"detail": {"field": value.clone()}});
        prop_assert!(matches(own, scalar_event));
    }

    /// `anything-but` of a value is the opposite of the value, for a present string or number.
    #[test]
    fn anything_but_complements_exact(value in prop_oneof!["[a-z]{0,6}".prop_map(Value::from), (-50i64..50).prop_map(Value::from)],
                                      other in prop_oneof!["[a-z]{0,6}".prop_map(Value::from), (-50i64..50).prop_map(Value::from)]) {
        prop_assume!(value.is_number() == other.is_number());
        let event = json!({"f": other});
        let exact = matches(json!({"f": [value.clone()]}), event.clone());
        let anything_but = matches(json!({"f": [{"anything-but": value}]}), event);
        prop_assert_ne!(exact, anything_but);
    }

    /// A numeric range matches exactly the numbers arithmetic puts inside it.
    #[test]
    fn numeric_ranges_agree_with_arithmetic(n in -1000.0f64..1000.0, low in -1000.0f64..1000.0, width in 0.0f64..500.0, inclusive in any::<bool>()) {
        let high = low + width;
        let (lo_op, hi_op) = if inclusive { (">=", "<=") } else { (">", "<") };
        let inside = if inclusive { n >= low && n <= high } else { n > low && n < high };
        let pattern = json!({"n": [{"numeric": [lo_op, low, hi_op, high]}]});
        prop_assert_eq!(matches(pattern, json!({"n": n})), inside);
    }

    /// `$or` of two patterns matches when either one does.
    #[test]
    fn or_is_the_disjunction_of_its_alternatives(a in "[ab]", b in "[ab]", x in "[ab]", y in "[ab]") {
        let event = json!({"x": x, "y": y});
        let p = json!({"x": [a]});
        let q = json!({"y": [b]});
        let either = matches(p.clone(), event.clone()) || matches(q.clone(), event.clone());
        prop_assert_eq!(matches(json!({"$or": [p, q]}), event), either);
    }

    /// Adding a field to a pattern can only narrow what it matches.
    #[test]
    fn more_fields_match_fewer_events(x in "[ab]", y in "[ab]", px in "[ab]", py in "[ab]") {
        let event = json!({"x": x, "y": y});
        let narrow = matches(json!({"x": [px.clone()], "y": [py]}), event.clone());
        let wide = matches(json!({"x": [px]}), event);
        prop_assert!(!narrow || wide, "narrow matched but wide did not");
    }
}
