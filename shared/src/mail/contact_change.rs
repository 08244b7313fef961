//! The email that confirms a buyer's new contact address: the queue message names the request
//! record only (the mailer makes the one-time link, so its token exists only in the email),
//! and the email itself, sent to the new address.

use serde::{Deserialize, Serialize};

use super::{escape_html as escape, Rendered};

/// A mail-queue message asking for a contact-change request's confirmation email.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContactChangeMail {
    /// The request's id (`ccr_…`).
    pub contact_change_request: String,
}

/// What the confirmation email says.
#[derive(Debug, Clone)]
pub struct ContactChangeEmail<'a> {
    /// The merchant's name.
    pub merchant: &'a str,
    pub from_email: &'a str,
    pub to_email: &'a str,
    /// The one-time link.
    pub url: &'a str,
    /// How long the link works.
    pub hours: i64,
}

/// The email: its subject and both bodies.
pub fn compose(mail: &ContactChangeEmail) -> Rendered {
    let subject = format!("Confirm your new email address for {}", mail.merchant);
    let text = format!(
        "Someone asked to move the licenses you bought from {merchant} from {from} to this \
         address ({to}).\n\nConfirm the change: {url}\n\nThe link works once, for {hours} \
         hours. If you did not ask for this, ignore this email: nothing changes.\n",
        merchant = mail.merchant,
        from = mail.from_email,
        to = mail.to_email,
        url = mail.url,
        hours = mail.hours,
    );
    let html = format!(
        "<!doctype html><html><body style=\"font-family:sans-serif\">\
         <p>Someone asked to move the licenses you bought from <strong>{merchant}</strong> \
         from {from} to this address ({to}).</p>\
         <p><a href=\"{url}\">Confirm the change</a></p>\
         <p>The link works once, for {hours} hours. If you did not ask for this, ignore this \
         email: nothing changes.</p></body></html>",
        merchant = escape(mail.merchant),
        from = escape(mail.from_email),
        to = escape(mail.to_email),
        url = escape(mail.url),
        hours = mail.hours,
    );
    Rendered {
        subject,
        html,
        text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_email_names_both_addresses_and_escapes_the_merchant() {
        let mail = compose(&ContactChangeEmail {
            merchant: "Acme <Tools>",
            from_email: "old@example.com",
            to_email: "new@example.com",
            url: "https://k.example/portal/ten_a/email-change?token=khc_a&b",
            hours: 24,
        });
        assert_eq!(
            mail.subject,
            "Confirm your new email address for Acme <Tools>"
        );
        assert!(mail.html.contains("<strong>Acme &lt;Tools&gt;</strong>"));
        assert!(mail.html.contains("token=khc_a&amp;b\""));
        assert!(mail.text.contains(
            "Confirm the change: https://k.example/portal/ten_a/email-change?token=khc_a&b\n"
        ));
        assert!(mail
            .text
            .contains("from old@example.com to this address (new@example.com)"));
    }
}
