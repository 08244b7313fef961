//! The Stripe event types Keyhook acts on: the one list that the webhook endpoint Keyhook
//! creates subscribes to, reconciliation lists, and the dashboard shows for the manual path.

/// Every event type the webhook handler processes (what `process` in `handlers::webhook`
/// dispatches on).
pub const HANDLED: [&str; 10] = [
    "checkout.session.completed",
    "checkout.session.async_payment_succeeded",
    "checkout.session.async_payment_failed",
    "payment_intent.succeeded",
    "invoice.paid",
    "customer.subscription.created",
    "customer.subscription.updated",
    "customer.subscription.deleted",
    "charge.refunded",
    "charge.dispute.created",
];

/// [`HANDLED`] grouped by what the events are for (the manual path's instructions).
pub const GROUPS: &[(&str, &[&str])] = &[
    (
        "Every integration",
        &[
            "checkout.session.completed",
            "payment_intent.succeeded",
            "invoice.paid",
        ],
    ),
    (
        "Subscriptions",
        &[
            "customer.subscription.created",
            "customer.subscription.updated",
            "customer.subscription.deleted",
        ],
    ),
    (
        "Refunds and disputes",
        &["charge.refunded", "charge.dispute.created"],
    ),
    (
        "Delayed payment methods (bank debits)",
        &[
            "checkout.session.async_payment_succeeded",
            "checkout.session.async_payment_failed",
        ],
    ),
];

/// The handled types an endpoint subscribed to `enabled` misses (`*` subscribes to all).
pub fn missing(enabled: &[String]) -> Vec<&'static str> {
    if enabled.iter().any(|e| e == "*") {
        return Vec::new();
    }
    HANDLED
        .iter()
        .copied()
        .filter(|t| !enabled.iter().any(|e| e == t))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_groups_are_exactly_the_handled_types() {
        let mut grouped: Vec<&str> = GROUPS.iter().flat_map(|(_, t)| t.iter().copied()).collect();
        let mut handled = HANDLED.to_vec();
        grouped.sort_unstable();
        handled.sort_unstable();
        assert_eq!(grouped, handled);
    }

    #[test]
    fn missing_types_are_named() {
        let all: Vec<String> = HANDLED.iter().map(|t| t.to_string()).collect();
        assert!(missing(&all).is_empty());
        assert!(missing(&["*".to_string()]).is_empty());
        assert_eq!(missing(&all[1..]), vec![HANDLED[0]]);
    }
}
