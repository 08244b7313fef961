//! The envelope of a Stripe event and its parse. Kept apart from `keyhook-shared` for speed
//! alone: serde's code that reads an event is generic, so it is compiled in the crate that
//! names the concrete type. Here, that crate is built at opt-level 3 while `keyhook-shared`
//! stays sized (the workspace's `Cargo.toml`, docs/deploy.md "Performance"). The object stays
//! JSON: `keyhook_shared::stripe::event` reads its fields tolerantly across API versions.

use serde::Deserialize;
use serde_json::Value;

/// The envelope of a Stripe event.
#[derive(Debug, Clone, Deserialize)]
pub struct Event {
    pub id: String,
    #[serde(rename = "type")]
    pub event_type: String,
    #[serde(default)]
    pub api_version: Option<String>,
    pub created: i64,
    pub livemode: bool,
    pub data: EventData,
    /// Set for Connect events: the connected account.
    #[serde(default)]
    pub account: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct EventData {
    pub object: Value,
}

impl Event {
    /// Parses an event; the error names what is missing.
    pub fn parse(body: &[u8]) -> Result<Self, String> {
        serde_json::from_slice::<Event>(body).map_err(|e| format!("not a Stripe event: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_an_event_envelope_and_names_what_is_missing() {
        let body = br#"{"id":"evt_1","object":"event","type":"checkout.session.completed","api_version":"2025-03-31.basil","created":1,"livemode":false,"data":{"object":{"id":"cs_1"}}}"#;
        let e = Event::parse(body).unwrap();
        assert_eq!(e.event_type, "checkout.session.completed");
        assert_eq!(e.data.object["id"], "cs_1");
        assert!(Event::parse(b"{}")
            .unwrap_err()
            .contains("missing field `id`"));
    }
}
