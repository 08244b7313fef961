//! Customer-portal sessions for tests that speak HTTP (no browser): a buyer asks for a link on
//! the portal's sign-in page, the mailer sends it, the test reads it from the emails SES
//! recorded, opens its page and presses its button, and keeps the portal cookie.

use crate::dashboard::{client, csrf_of, public_get, Page, PublicPage};
use crate::Stack;

/// A buyer signed in to one tenant's portal.
pub struct Portal {
    pub base_url: String,
    pub tenant_id: String,
    pub http: reqwest::Client,
    /// `kh_portal=…`
    pub cookie: String,
    /// The whole `Set-Cookie` the sign-in answered.
    pub set_cookie: String,
    pub csrf: String,
}

/// The `kh_portal` `Set-Cookie` of a response, whole.
pub fn portal_set_cookie(res: &reqwest::Response) -> Option<String> {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("kh_portal="))
        .map(str::to_string)
}

/// The token of the newest portal link in the emails an address received.
pub fn token_in(body: &str) -> Option<String> {
    let i = body.rfind("/link?token=")? + "/link?token=".len();
    Some(
        body[i..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect(),
    )
}

impl Stack {
    /// Asks for a portal sign-in link for `email` on `tenant_id`'s sign-in page (its
    /// pre-session token echoed); the answer's status and body.
    pub async fn ask_portal_link(&self, base: &str, tenant_id: &str, email: &str) -> (u16, String) {
        let http = client();
        let page = public_get(&http, &format!("{base}/portal/{tenant_id}"), None).await;
        assert_eq!(page.status, 200, "{}", page.body);
        let res = http
            .post(format!("{base}/portal/{tenant_id}/sign-in"))
            .header("cookie", &page.pre_cookie)
            .form(&[("pre", page.pre()), ("email", email)])
            .send()
            .await
            .unwrap();
        (res.status().as_u16(), res.text().await.unwrap())
    }

    /// The newest portal link emailed to `email` (the mail queue drained first).
    pub async fn portal_link_token(&self, email: &str) -> Option<String> {
        self.drain_mail().await;
        self.emails_to(email)
            .await
            .iter()
            .filter_map(|m| m["body"].as_str())
            .filter(|b| b.contains("/portal/"))
            .rev()
            .find_map(token_in)
    }

    /// Opens a portal link's page.
    pub async fn open_portal_link(
        &self,
        http: &reqwest::Client,
        tenant_id: &str,
        token: &str,
    ) -> PublicPage {
        public_get(
            http,
            &format!("{}/portal/{tenant_id}/link?token={token}", self.base_url),
            None,
        )
        .await
    }

    /// Presses a portal link page's "Sign in" button.
    pub async fn use_portal_link(
        &self,
        http: &reqwest::Client,
        tenant_id: &str,
        page: &PublicPage,
        token: &str,
    ) -> reqwest::Response {
        http.post(format!("{}/portal/{tenant_id}/link", self.base_url))
            .header("cookie", &page.pre_cookie)
            .form(&[("pre", page.pre()), ("token", token)])
            .send()
            .await
            .unwrap()
    }

    /// Signs a buyer in to `tenant_id`'s portal the way they would: the sign-in page, the
    /// email, the link's page, its button.
    pub async fn portal_sign_in(&self, tenant_id: &str, email: &str) -> Portal {
        let (status, body) = self.ask_portal_link(&self.base_url, tenant_id, email).await;
        assert_eq!(status, 200, "{body}");
        let token = self
            .portal_link_token(email)
            .await
            .expect("a portal link was emailed");
        let http = client();
        let page = self.open_portal_link(&http, tenant_id, &token).await;
        assert_eq!(page.status, 200, "the link's page: {}", page.body);
        let res = self.use_portal_link(&http, tenant_id, &page, &token).await;
        assert_eq!(res.status().as_u16(), 303, "the link's button signs in");
        let set_cookie = portal_set_cookie(&res).expect("a portal cookie");
        let cookie = set_cookie.split(';').next().unwrap().to_string();
        let mut p = Portal {
            base_url: self.base_url.clone(),
            tenant_id: tenant_id.to_string(),
            http,
            cookie,
            set_cookie,
            csrf: String::new(),
        };
        let home = p.get("/licenses").await;
        assert_eq!(home.status, 200, "{}", home.body);
        p.csrf = csrf_of(&home.body).expect("portal pages carry the CSRF token");
        p
    }
}

impl Portal {
    /// GETs a path of this portal (`/licenses` is `/portal/{tenantId}/licenses`).
    pub async fn get(&self, path: &str) -> Page {
        let res = self
            .http
            .get(format!("{}/portal/{}{path}", self.base_url, self.tenant_id))
            .header("cookie", &self.cookie)
            .send()
            .await
            .unwrap();
        crate::dashboard::page(res).await
    }

    /// Posts a form to a path of this portal, the session's CSRF token added.
    pub async fn post(&self, path: &str, fields: &[(&str, &str)]) -> Page {
        let mut form: Vec<(&str, &str)> = fields.to_vec();
        form.push(("csrf", &self.csrf));
        self.post_raw(path, &form).await
    }

    /// Posts a form as given (no CSRF token added).
    pub async fn post_raw(&self, path: &str, form: &[(&str, &str)]) -> Page {
        let res = self
            .http
            .post(format!("{}/portal/{}{path}", self.base_url, self.tenant_id))
            .header("cookie", &self.cookie)
            .form(form)
            .send()
            .await
            .unwrap();
        crate::dashboard::page(res).await
    }
}
