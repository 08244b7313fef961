//! One-time links (`domain::one_time_link`) on the web: issued for an address (the token goes
//! only into the email), opened on a page that shows what the link does and a button, and used
//! up only by that button's POST, which carries the page's pre-session token
//! ([`public::form`]). So opening a link changes nothing (a mail scanner that follows it does
//! not burn it), and another site cannot make a browser use a link of the site's own (no login
//! CSRF: it cannot know the browser's pre-session cookie, and cross-site posts are refused).
//!
//! A [`LinkKind`] names a use of the mechanism: its purpose (a link opens only its own kind's
//! page), its page's path and its lifetime. The dashboard's sign-in is [`DASHBOARD_SIGN_IN`].

use http::StatusCode;
use minijinja::context;
use serde::Serialize;
use time::Duration;

use super::form::Form;
use super::public::{self, Limit};
use crate::domain::one_time_link::OneTimeLink;
use crate::http::auth::token_hash;
use crate::http::{ApiRequest, ApiResponse};
use crate::{ids, Result, Services};

/// One use of one-time links.
#[derive(Debug, Clone, Copy)]
pub struct LinkKind {
    /// Stored with each link; a link of another purpose does not open this kind's page.
    pub purpose: &'static str,
    /// The page a link opens (GET shows it, POST uses the link up).
    pub path: &'static str,
    pub lifetime: Duration,
    /// Attempts to open or use links, per client address.
    pub attempts: Limit,
}

/// A team member's sign-in to the dashboard.
pub const DASHBOARD_SIGN_IN: LinkKind = LinkKind {
    purpose: "dashboard",
    path: "/dashboard/sign-in/link",
    lifetime: Duration::minutes(15),
    attempts: super::sign_in::ATTEMPTS_PER_IP,
};

/// One button of a link's page: what using the link does (`value` is posted as the form's
/// `choice`).
#[derive(Debug, Clone, Serialize)]
pub struct Choice {
    pub value: String,
    pub label: String,
    /// A second line under the label.
    pub detail: String,
}

/// What a link's page says: a heading, a sentence, and one button per choice.
#[derive(Debug, Clone, Serialize)]
pub struct LinkPage {
    pub title: String,
    pub intro: String,
    /// The button's words ("Sign in").
    pub button: String,
    pub choices: Vec<Choice>,
}

/// A well-formed token, or nothing (nothing else is hashed or looked up).
fn token_of(raw: Option<&str>) -> Option<&str> {
    raw.filter(|t| {
        t.len() > 4 && t.len() <= 100 && t.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
    })
}

impl LinkKind {
    /// A new link for `subject` (an email address); its token, to put in the email only.
    pub async fn issue(&self, s: &Services, subject: &str) -> Result<String> {
        let token = format!("khl_{}", ids::random_symbols(32).to_ascii_lowercase());
        let now = crate::time::now();
        let expires_at = now + self.lifetime;
        s.store
            .put_one_time_link(
                &token_hash(&token),
                &OneTimeLink {
                    purpose: self.purpose.to_string(),
                    subject: subject.to_string(),
                    created_at: now,
                    expires_at,
                    // Kept a day past expiry, then DynamoDB drops it.
                    ttl: (expires_at + Duration::days(1)).unix_timestamp(),
                },
            )
            .await?;
        Ok(token)
    }

    /// The URL a link's email carries.
    pub fn url(&self, s: &Services, token: &str) -> String {
        format!("{}{}?token={token}", s.config.public_base_url, self.path)
    }

    /// The link a page request names (`?token=`), if it works: reading it changes nothing.
    pub async fn peek(
        &self,
        s: &Services,
        req: &ApiRequest,
    ) -> Result<Option<(String, OneTimeLink)>> {
        public::limit(s, self.attempts, &public::client_ip(req)).await?;
        let Some(token) = token_of(req.query_param("token")) else {
            return Ok(None);
        };
        Ok(s.store
            .get_one_time_link(&token_hash(token), self.purpose)
            .await?
            .map(|link| (token.to_string(), link)))
    }

    /// Uses up the link a page's form posted (`token`; the form already checked by
    /// [`public::form`]): exactly one request gets it.
    pub async fn take(
        &self,
        s: &Services,
        req: &ApiRequest,
        form: &Form,
    ) -> Result<Option<OneTimeLink>> {
        public::limit(s, self.attempts, &public::client_ip(req)).await?;
        let Some(token) = token_of(form.get("token")) else {
            return Ok(None);
        };
        s.store
            .take_one_time_link(&token_hash(token), self.purpose)
            .await
    }

    /// The page a link opens: `page`'s buttons post the token back to [`LinkKind::path`].
    pub fn page(
        &self,
        s: &Services,
        req: &ApiRequest,
        token: &str,
        page: &LinkPage,
    ) -> Result<ApiResponse> {
        public::page(
            s,
            req,
            StatusCode::OK,
            "link.html",
            context! { link => page, token => token, action => self.path },
        )
    }
}
