//! The mailer: consumes the mail queue's messages ([`MailMessage`]) and sends each with SES: a
//! purchase's license email or a resend (here), a merchant's notice, a dashboard or customer-portal sign-in link.
//!
//! Delivery is **at least once**. Each email has a record holding its state (the purchase for
//! a purchase's email, the license for a resend): the mailer claims the send there (a
//! conditional write with an expiry), sends with SES, then records `sent`. Redelivered or
//! duplicated jobs for an email recorded sent, or being sent, do nothing. If SES accepted an
//! email but recording `sent` failed (or the process stopped in between), the job is retried
//! and the email is sent again: a buyer may get the same keys twice, never none.
//!
//! A purchase's email costs three DynamoDB calls and one SES call: the claim (the same write
//! returns the purchase), one batch read of its licenses and products, and the record of
//! `sent` (on the purchase and its licenses, in one transaction).
//!
//! An email carries only keys whose license belongs to its address now: the purchase's email
//! goes to the buyer with the keys the buyer still owns; a resend goes to one license's
//! current owner with the purchase's keys that owner holds.
//!
//! Failures are reported per message (partial batch response) so only the failed ones are
//! retried; after `mail_max_receives` attempts the email is marked `failed` and the message
//! dropped (the merchant can resend it).

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use time::Duration;
use tracing::Instrument;

use crate::crypto::SealContext;
use crate::domain::license::KEY_SEAL_FIELD;
use crate::domain::license_key::AnyKey;
use crate::domain::portal_links;
use crate::domain::{EmailStatus, License, Product};
use crate::mail::{render, MailJob, MailMessage, TemplateValues};
use crate::store::purchases::EmailAnchor;
use crate::{Error, Result, Services};

/// How long a claim on a send lasts; well under the queue's visibility timeout.
const CLAIM: Duration = Duration::seconds(120);

/// Handles one SQS batch; the response lists the messages to retry.
pub async fn handle_batch(s: &Services, event: SqsEvent) -> SqsBatchResponse {
    let mut failures = Vec::new();
    for message in event.records {
        let id = message.message_id.clone().unwrap_or_default();
        let span = tracing::info_span!("mail_job", message_id = %id);
        if let Err(e) = handle_message(s, &message).instrument(span).await {
            tracing::error!(message_id = %id, error = %e, "mail job failed; will retry");
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = id;
            failures.push(failure);
        }
    }
    let mut response = SqsBatchResponse::default();
    response.batch_item_failures = failures;
    response
}

async fn handle_message(s: &Services, message: &SqsMessage) -> Result<()> {
    let Some(mail) = message.body.as_deref().and_then(MailMessage::parse) else {
        tracing::error!("not a mail-queue message; dropped");
        return Ok(());
    };
    let job = match mail {
        MailMessage::SignIn(job) => return crate::dashboard::mail::send(s, &job).await,
        MailMessage::PortalSignIn(job) => return crate::portal::mail::send(s, &job).await,
        MailMessage::ContactChange(job) => {
            return Box::pin(crate::services::contact_change::send(s, &job)).await
        }
        // Boxed: keeps the mailer's future small (and within the compiler's layout depth).
        MailMessage::Notice(notice) => {
            return Box::pin(crate::consumers::deliveries::notice::send(s, &notice)).await
        }
        MailMessage::Purchase {
            tenant_id,
            purchase_ref,
        } => MailJob {
            tenant_id,
            purchase_ref,
            license_id: None,
        },
        MailMessage::Resend {
            tenant_id,
            purchase_ref,
            license_id,
        } => MailJob {
            tenant_id,
            purchase_ref,
            license_id: Some(license_id),
        },
    };
    let receives: u32 = message
        .attributes
        .get("ApproximateReceiveCount")
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    let mail = match &job.license_id {
        None => match purchase_mail(s, &job).await? {
            Some(mail) => mail,
            None => return Ok(()),
        },
        Some(_) => {
            let Some(mail) = Mail::load(s, &job).await? else {
                return Ok(());
            };
            if mail.status != EmailStatus::Pending {
                tracing::info!(
                    status = mail.status.as_str(),
                    "email not pending; nothing to do"
                );
                return Ok(());
            }
            let now = crate::time::now();
            if !s.store.claim_email(&mail.anchor, now, now + CLAIM).await? {
                tracing::info!("email already sent or being sent by another delivery");
                return Ok(());
            }
            mail
        }
    };
    deliver(s, &mail, receives).await
}

/// A purchase's email, claimed: the claim first (it reads the purchase too), then its
/// licenses and products in one read. `None` when there is nothing to send (the claim is
/// given back if it was taken).
async fn purchase_mail(s: &Services, job: &MailJob) -> Result<Option<Mail>> {
    let now = crate::time::now();
    let Some(purchase) = s
        .store
        .claim_purchase_email(&job.tenant_id, &job.purchase_ref, now, now + CLAIM)
        .await?
    else {
        tracing::info!(
            purchase_ref = %job.purchase_ref,
            "email already sent, being sent, not wanted, or of an unknown purchase; nothing to do"
        );
        return Ok(None);
    };
    let anchor = EmailAnchor::Purchase {
        tenant_id: purchase.tenant_id.clone(),
        purchase_ref: purchase.purchase_ref.clone(),
    };
    let mail = async {
        let (licenses, products) = s
            .store
            .get_licenses_and_products(
                &purchase.tenant_id,
                &purchase.license_ids,
                &purchase.product_ids,
            )
            .await?;
        Ok::<_, Error>(Mail::new(
            anchor.clone(),
            purchase.email_status,
            job,
            purchase.customer_email,
            purchase.customer_name,
            licenses,
            products,
        ))
    }
    .await;
    if !matches!(mail, Ok(Some(_))) {
        // Nothing to send, or the read failed: the next delivery may try at once.
        if let Err(release) = s.store.release_email_claim(&anchor).await {
            tracing::warn!(error = %release, "claim not released; it expires by itself");
        }
    }
    mail
}

/// Sends a claimed email and records the outcome (or gives the claim back for a retry).
async fn deliver(s: &Services, mail: &Mail, receives: u32) -> Result<()> {
    let license_ids: Vec<String> = mail.licenses.iter().map(|l| l.id.clone()).collect();
    match send(s, mail).await {
        Ok(message_id) => {
            tracing::info!(ses_message_id = %message_id, keys = license_ids.len(), "license email sent");
            if let Err(e) = s
                .store
                .set_email_status(&mail.anchor, &license_ids, EmailStatus::Sent)
                .await
            {
                // At least once: SES has the email but our record does not say so. The job is
                // retried, and the retry sends it again (the same keys, to the same address).
                tracing::error!(error = %e, "license email sent but not recorded; it will be sent again");
                if let Err(release) = s.store.release_email_claim(&mail.anchor).await {
                    tracing::warn!(error = %release, "claim not released; it expires by itself");
                }
                return Err(e);
            }
            Ok(())
        }
        Err(e) if receives >= s.config.mail_max_receives => {
            tracing::error!(error = %e, receives, "license email failed for good");
            s.store
                .set_email_status(&mail.anchor, &license_ids, EmailStatus::Failed)
                .await
        }
        Err(e) => {
            s.store.release_email_claim(&mail.anchor).await?;
            Err(e)
        }
    }
}

/// One email to send: to whom, which keys, and the record that holds its state.
struct Mail {
    anchor: EmailAnchor,
    status: EmailStatus,
    tenant_id: String,
    to: String,
    customer_name: Option<String>,
    /// The licenses whose keys it carries: those of the purchase that belong to `to` now.
    licenses: Vec<License>,
    /// Products of those licenses already read (the others are read when sending).
    products: Vec<Product>,
}

impl Mail {
    /// The email a job asks for, as the records stand now; `None` (job dropped) when there is
    /// nothing to send it for.
    async fn load(s: &Services, job: &MailJob) -> Result<Option<Mail>> {
        let purchase = s
            .store
            .get_purchase(&job.tenant_id, &job.purchase_ref)
            .await?;
        let licenses = match &purchase {
            Some(p) => {
                s.store
                    .get_tenant_licenses(&p.tenant_id, &p.license_ids)
                    .await?
            }
            None => Vec::new(),
        };
        let (anchor, status, to, customer_name, licenses) = match (&job.license_id, purchase) {
            (None, None) => {
                tracing::error!(purchase_ref = %job.purchase_ref, "mail job for an unknown purchase; dropped");
                return Ok(None);
            }
            (None, Some(purchase)) => (
                EmailAnchor::Purchase {
                    tenant_id: purchase.tenant_id.clone(),
                    purchase_ref: purchase.purchase_ref.clone(),
                },
                purchase.email_status,
                purchase.customer_email,
                purchase.customer_name,
                licenses,
            ),
            // A resend: the license as it is now, with its purchase's other licenses (a license
            // without a purchase record, e.g. imported, goes alone).
            (Some(id), _) => {
                let Some(license) = s.store.get_tenant_license(&job.tenant_id, id).await? else {
                    tracing::error!(license_id = %id, "resend of an unknown license; dropped");
                    return Ok(None);
                };
                let mut licenses: Vec<License> =
                    licenses.into_iter().filter(|l| &l.id != id).collect();
                licenses.insert(0, license.clone());
                (
                    EmailAnchor::License {
                        license_id: id.clone(),
                    },
                    license.email_status,
                    license.customer_email,
                    license.customer_name,
                    licenses,
                )
            }
        };
        Ok(Mail::new(
            anchor,
            status,
            job,
            to,
            customer_name,
            licenses,
            Vec::new(),
        ))
    }

    /// The email to `to` with the keys among `licenses` that belong to that address now;
    /// `None` (nothing to send) without an address.
    fn new(
        anchor: EmailAnchor,
        status: EmailStatus,
        job: &MailJob,
        to: Option<String>,
        customer_name: Option<String>,
        licenses: Vec<License>,
        products: Vec<Product>,
    ) -> Option<Mail> {
        let Some(to) = to else {
            tracing::error!("email without an address; dropped");
            return None;
        };
        // A key goes only to its owner: licenses given to someone else since the purchase are
        // not in the buyer's email, and a resend to a new owner carries only theirs.
        let licenses: Vec<License> = licenses
            .into_iter()
            .filter(|l| {
                l.customer_email
                    .as_deref()
                    .is_some_and(|e| e.eq_ignore_ascii_case(&to))
            })
            .collect();
        Some(Mail {
            anchor,
            status,
            tenant_id: job.tenant_id.clone(),
            to,
            customer_name,
            licenses,
            products,
        })
    }
}

/// Renders and sends an email; SES's message id.
async fn send(s: &Services, mail: &Mail) -> Result<String> {
    if mail.licenses.is_empty() {
        return Err(Error::internal(
            "none of the purchase's licenses belongs to the address any more",
        ));
    }
    let mut keys = Vec::with_capacity(mail.licenses.len());
    let mut product_ids: Vec<&str> = Vec::new();
    for l in &mail.licenses {
        let ctx = SealContext {
            tenant_id: &mail.tenant_id,
            owner: &l.id,
            field: KEY_SEAL_FIELD,
        };
        let key = s
            .keyring
            .open_secret(ctx, &l.key_sealed)
            .await?
            .ok_or_else(|| Error::internal(format!("license {} key does not open", l.id)))?;
        // Re-parse to show every key in one canonical format (imported keys exactly as the
        // service that sold them wrote them).
        let key =
            AnyKey::parse(key.expose()).map_err(|_| Error::internal("stored key is malformed"))?;
        keys.push(key.display());
        if !product_ids.contains(&l.product_id.as_str()) {
            product_ids.push(&l.product_id);
        }
    }
    let mut products = Vec::new();
    for id in product_ids {
        if let Some(p) = mail.products.iter().find(|p| p.id == id) {
            products.push(p.clone());
            continue;
        }
        let p = s
            .store
            .get_tenant_product(&mail.tenant_id, id)
            .await?
            .ok_or_else(|| Error::internal(format!("product {id} of a purchase is missing")))?;
        products.push(p);
    }
    let first = products
        .first()
        .ok_or_else(|| Error::internal("purchase without products"))?;
    let product_name = products
        .iter()
        .map(|p| p.name.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    let portal_url = portal_links::portal_url(&s.config.public_base_url, &mail.tenant_id);
    let email = render(
        first.email_template.as_ref(),
        &TemplateValues {
            keys: &keys,
            product_name: &product_name,
            customer_email: &mail.to,
            customer_name: mail.customer_name.as_deref(),
            portal_url: Some(&portal_url),
        },
    );
    s.sender.send(&mail.to, &email).await
}
