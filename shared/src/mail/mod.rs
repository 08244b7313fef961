//! Email: the mail queue's one message type ([`MailMessage`]) and the outbox that sends it, the
//! emails' composition (a product's license email template, the dashboard's sign-in email, a buyer's contact-change confirmation), and
//! the SES sender.

pub mod contact_change;
pub mod message;
pub mod outbox;
pub mod portal_sign_in;
pub mod sender;
pub mod sign_in;
pub mod template;

pub use contact_change::ContactChangeMail;
pub use message::MailMessage;
pub use outbox::{MailJob, Notice, NoticeJob, Outbox};
pub use portal_sign_in::PortalSignInMail;
pub use sender::Sender;
pub use sign_in::SignInMail;
pub use template::{escape_html, render, Rendered, TemplateValues};
