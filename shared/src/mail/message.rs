//! The one message type of the mail queue. Every producer sends a [`MailMessage`], tagged by
//! `kind` (`purchase`, `resend`, `notice`, `sign_in`, `portal_sign_in`, `contact_change`), and
//! the mailer matches it once.
//!
//! Messages queued by a version before the tag (the same fields without `kind`) are still read
//! ([`MailMessage::parse`] falls back to those shapes), so a deploy loses none of them.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::contact_change::ContactChangeMail;
use super::outbox::{MailJob, NoticeJob};
use super::portal_sign_in::PortalSignInMail;
use super::sign_in::SignInMail;

/// The body of a mail-queue message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    tag = "kind",
    rename_all = "snake_case",
    rename_all_fields = "camelCase"
)]
pub enum MailMessage {
    /// A purchase's email, to its buyer.
    Purchase {
        tenant_id: String,
        purchase_ref: String,
    },
    /// One license's keys again, to its current customer email (with the keys of its purchase
    /// that address holds). `purchase_ref` is empty for a license without a purchase record.
    Resend {
        tenant_id: String,
        purchase_ref: String,
        license_id: String,
    },
    /// A notice to a merchant about their account.
    Notice(NoticeJob),
    /// A dashboard sign-in link (a requested sign-in, an invitation, a welcome).
    SignIn(SignInMail),
    /// A customer-portal sign-in link, to a buyer.
    PortalSignIn(PortalSignInMail),
    /// A buyer's contact-change confirmation link, to the new address.
    ContactChange(ContactChangeMail),
}

impl MailMessage {
    /// The message a body holds: the tagged shape, or (without `kind`) one of the untagged
    /// shapes queued before it, tried in the order the mailer used to (sign-in, notice,
    /// license email). `None` for anything else, an unknown `kind` included.
    pub fn parse(body: &str) -> Option<MailMessage> {
        let body: Value = serde_json::from_str(body).ok()?;
        if body.get("kind").is_some() {
            return serde_json::from_value(body).ok();
        }
        if let Ok(sign_in) = LegacySignInMail::deserialize(&body) {
            return Some(MailMessage::SignIn(SignInMail {
                sign_in_request: sign_in.sign_in_request,
            }));
        }
        if let Ok(notice) = NoticeJob::deserialize(&body) {
            return Some(MailMessage::Notice(notice));
        }
        MailJob::deserialize(&body).ok().map(MailMessage::from)
    }
}

/// The untagged sign-in message: exactly its one field (license-email messages have others).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct LegacySignInMail {
    sign_in_request: String,
}

impl From<&MailJob> for MailMessage {
    fn from(job: &MailJob) -> Self {
        MailMessage::from(job.clone())
    }
}

impl From<MailJob> for MailMessage {
    fn from(job: MailJob) -> Self {
        match job.license_id {
            None => MailMessage::Purchase {
                tenant_id: job.tenant_id,
                purchase_ref: job.purchase_ref,
            },
            Some(license_id) => MailMessage::Resend {
                tenant_id: job.tenant_id,
                purchase_ref: job.purchase_ref,
                license_id,
            },
        }
    }
}

impl From<&NoticeJob> for MailMessage {
    fn from(job: &NoticeJob) -> Self {
        MailMessage::Notice(job.clone())
    }
}

impl From<&PortalSignInMail> for MailMessage {
    fn from(job: &PortalSignInMail) -> Self {
        MailMessage::PortalSignIn(job.clone())
    }
}

impl From<&ContactChangeMail> for MailMessage {
    fn from(job: &ContactChangeMail) -> Self {
        MailMessage::ContactChange(job.clone())
    }
}

impl From<&SignInMail> for MailMessage {
    fn from(job: &SignInMail) -> Self {
        MailMessage::SignIn(job.clone())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::mail::Notice;

    fn parse(body: Value) -> Option<MailMessage> {
        MailMessage::parse(&body.to_string())
    }

    fn purchase() -> MailMessage {
        MailMessage::Purchase {
            tenant_id: "t_1".into(),
            purchase_ref: "cs_test_1".into(),
        }
    }

    fn resend(purchase_ref: &str) -> MailMessage {
        MailMessage::Resend {
            tenant_id: "t_1".into(),
            purchase_ref: purchase_ref.into(),
            license_id: "lic_1".into(),
        }
    }

    fn notice() -> MailMessage {
        MailMessage::Notice(NoticeJob::endpoint_disabled("t_1", "we_1"))
    }

    fn sign_in() -> MailMessage {
        MailMessage::SignIn(SignInMail {
            sign_in_request: "sir_1".into(),
        })
    }

    #[test]
    fn each_kind_is_sent_tagged_and_read_back() {
        let cases = [
            (
                purchase(),
                json!({"kind": "purchase", "tenantId": "t_1", "purchaseRef": "cs_test_1"}),
            ),
            (
                resend("cs_test_1"),
                json!({"kind": "resend", "tenantId": "t_1", "purchaseRef": "cs_test_1", "licenseId": "lic_1"}),
            ),
            (
                notice(),
                json!({"kind": "notice", "notice": "webhook_endpoint_disabled", "tenantId": "t_1", "endpointId": "we_1"}),
            ),
            (
                sign_in(),
                json!({"kind": "sign_in", "signInRequest": "sir_1"}),
            ),
            (
                MailMessage::PortalSignIn(PortalSignInMail {
                    sign_in_request: "psr_1".into(),
                }),
                json!({"kind": "portal_sign_in", "signInRequest": "psr_1"}),
            ),
            (
                MailMessage::ContactChange(ContactChangeMail {
                    contact_change_request: "ccr_1".into(),
                }),
                json!({"kind": "contact_change", "contactChangeRequest": "ccr_1"}),
            ),
        ];
        for (message, body) in cases {
            assert_eq!(serde_json::to_value(&message).unwrap(), body);
            assert_eq!(parse(body), Some(message));
        }
    }

    #[test]
    fn what_the_producers_send_is_tagged() {
        assert_eq!(
            MailMessage::from(MailJob::purchase("t_1", "cs_test_1")),
            purchase()
        );
        let job = MailJob {
            tenant_id: "t_1".into(),
            purchase_ref: String::new(),
            license_id: Some("lic_1".into()),
        };
        assert_eq!(MailMessage::from(&job), resend(""));
        assert_eq!(
            MailMessage::from(&NoticeJob::endpoint_disabled("t_1", "we_1")),
            notice()
        );
    }

    // The untagged shapes, as versions before the tag queued them.

    #[test]
    fn a_queued_untagged_purchase_email_is_read() {
        let m = parse(json!({"tenantId": "t_1", "purchaseRef": "cs_test_1"}));
        assert_eq!(m, Some(purchase()));
    }

    #[test]
    fn a_queued_untagged_resend_is_read() {
        let m = parse(json!({"tenantId": "t_1", "purchaseRef": "cs_test_1", "licenseId": "lic_1"}));
        assert_eq!(m, Some(resend("cs_test_1")));
        // An imported license (no purchase record) was resent with an empty purchase ref.
        let m = parse(json!({"tenantId": "t_1", "purchaseRef": "", "licenseId": "lic_1"}));
        assert_eq!(m, Some(resend("")));
    }

    #[test]
    fn a_queued_untagged_notice_is_read() {
        let m = parse(
            json!({"notice": "webhook_endpoint_disabled", "tenantId": "t_1", "endpointId": "we_1"}),
        );
        assert_eq!(m, Some(notice()));
        let Some(MailMessage::Notice(n)) = m else {
            unreachable!()
        };
        assert_eq!(n.notice, Notice::WebhookEndpointDisabled);
    }

    #[test]
    fn a_queued_untagged_sign_in_is_read() {
        assert_eq!(parse(json!({"signInRequest": "sir_1"})), Some(sign_in()));
    }

    #[test]
    fn anything_else_is_no_message() {
        for body in [
            json!({}),
            json!({"kind": "pigeon", "tenantId": "t_1", "purchaseRef": "cs_test_1"}),
            json!({"tenantId": "t_1"}),
            json!({"notice": "something_else", "tenantId": "t_1", "endpointId": "we_1"}),
            json!("hello"),
        ] {
            assert_eq!(parse(body.clone()), None, "{body}");
        }
        assert_eq!(MailMessage::parse("not json"), None);
    }
}
