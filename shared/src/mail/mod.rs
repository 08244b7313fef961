//! License email: rendering a product's template, the SQS outbox message that asks the mailer
//! to send, and the SES sender.

pub mod outbox;
pub mod sender;
pub mod template;

pub use outbox::{MailJob, Notice, NoticeJob, Outbox};
pub use sender::Sender;
pub use template::{render, Rendered, TemplateValues};
