//! The `data` of each outgoing event: the same views the admin API returns. License events
//! carry the license as `GET /api/licenses/{id}` shows it, key included (the payload is stored
//! sealed under the tenant key and sent only over TLS to the tenant's own endpoints).

use serde_json::{json, Value};

use crate::domain::webhooks::derive::Derived;
use crate::domain::License;
use crate::handlers::admin::events::EventView;
use crate::handlers::admin::licenses;
use crate::{Result, Services};

/// `{ "license": LicenseView }`.
pub async fn license(s: &Services, l: License) -> Result<Value> {
    let status = l.status_at(s.clock.now());
    let mut view = licenses::view(s, l).await?;
    view.status = status;
    Ok(json!({ "license": view }))
}

/// The `data` of a derived event (not of a new-key renewal or a timer: see `stream`).
pub async fn data(s: &Services, d: &Derived) -> Result<Value> {
    Ok(match d {
        Derived::License {
            license: l,
            device,
            previous_expires_at,
            ..
        } => {
            let mut data = license(s, (**l).clone()).await?;
            if let Some(device) = device {
                data["device"] = json!(device);
            }
            if let Some(t) = previous_expires_at {
                data["previousExpiresAt"] = json!(crate::time::format(*t));
            }
            data
        }
        Derived::TrialStarted { device, .. } => json!({
            "trial": {
                "productId": device.product_id,
                "deviceHash": device.device_hash,
                "startedAt": device.trial_started_at.map(crate::time::format),
                "expiresAt": device.trial_expires_at.map(crate::time::format),
            }
        }),
        Derived::PurchaseFailed { entry, .. } => {
            json!({ "event": EventView::from((**entry).clone()) })
        }
        Derived::EmailFailed { purchase: p, .. } => json!({
            "purchase": {
                "purchaseRef": p.purchase_ref,
                "appId": p.app_id,
                "eventId": p.event_id,
                "customerEmail": p.customer_email,
                "customerName": p.customer_name,
                "licenseIds": p.license_ids,
                "productIds": p.product_ids,
                "emailStatus": p.email_status,
            }
        }),
        Derived::NewKeyRenewal { .. } | Derived::Timer { .. } => Value::Null,
    })
}
