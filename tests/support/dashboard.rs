//! Dashboard sessions for tests that speak HTTP (no browser): sign in through a real one-time
//! link (its page, then its "Sign in" button), keep the session cookie, and post forms with
//! the session's CSRF token.

use keyhook_shared::dashboard::link::DASHBOARD_SIGN_IN;
use keyhook_shared::dashboard::team;
use keyhook_shared::domain::member::Role;
use reqwest::redirect::Policy;

use crate::{Stack, TestTenant};

/// A signed-in dashboard client.
pub struct Dashboard {
    pub base_url: String,
    pub http: reqwest::Client,
    /// `kh_session=…`
    pub cookie: String,
    pub csrf: String,
}

/// A page answer: status, `location` header (redirects), body.
#[derive(Debug)]
pub struct Page {
    pub status: u16,
    pub location: Option<String>,
    pub body: String,
    pub headers: reqwest::header::HeaderMap,
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap()
}

/// The value of the first `name="csrf"` hidden input of a page.
pub fn csrf_of(html: &str) -> Option<String> {
    hidden_of(html, "csrf")
}

/// The value of the first hidden input named `name` of a page.
pub fn hidden_of(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let i = html.find(&marker)? + marker.len();
    Some(html[i..].split('"').next()?.to_string())
}

/// A page before sign-in, as a browser gets it: status, body, and its pre-session cookie.
#[derive(Debug)]
pub struct PublicPage {
    pub status: u16,
    pub body: String,
    /// `kh_pre=…` (what the browser sends back).
    pub pre_cookie: String,
}

impl PublicPage {
    /// The pre-session token its forms echo.
    pub fn pre(&self) -> &str {
        self.pre_cookie.split_once('=').map_or("", |(_, v)| v)
    }
}

/// GETs a page before sign-in (`cookie`: a pre-session cookie to send, if any).
pub async fn public_get(http: &reqwest::Client, url: &str, cookie: Option<&str>) -> PublicPage {
    let mut req = http.get(url);
    if let Some(c) = cookie {
        req = req.header("cookie", c);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let pre_cookie = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("kh_pre="))
        .map(|c| c.split(';').next().unwrap().to_string())
        .unwrap_or_default();
    PublicPage {
        status,
        body: res.text().await.unwrap(),
        pre_cookie,
    }
}

/// The `kh_session=…` cookie a response sets, if any.
pub fn session_cookie(res: &reqwest::Response) -> Option<String> {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("kh_session="))
        .map(|c| c.split(';').next().unwrap().to_string())
}

impl Stack {
    /// Adds a member to a tenant.
    pub async fn member(&self, tenant: &TestTenant, email: &str, role: Role) {
        team::add_member(&self.services, &tenant.id, email, role, "test")
            .await
            .expect("member added");
    }

    /// A fresh one-time sign-in link's token for `email` (as the mailer makes them).
    pub async fn link_token(&self, email: &str) -> String {
        DASHBOARD_SIGN_IN
            .issue(&self.services, &email.to_ascii_lowercase())
            .await
            .expect("link issued")
    }

    /// Opens a sign-in link's page.
    pub async fn open_link(&self, http: &reqwest::Client, token: &str) -> PublicPage {
        public_get(
            http,
            &format!("{}/dashboard/sign-in/link?token={token}", self.base_url),
            None,
        )
        .await
    }

    /// Presses a link page's "Sign in" button for the account `choice`.
    pub async fn use_link(
        &self,
        http: &reqwest::Client,
        page: &PublicPage,
        token: &str,
        choice: &str,
    ) -> reqwest::Response {
        http.post(format!("{}/dashboard/sign-in/link", self.base_url))
            .header("cookie", &page.pre_cookie)
            .form(&[("pre", page.pre()), ("token", token), ("choice", choice)])
            .send()
            .await
            .unwrap()
    }

    /// Signs `email` (a member of `tenant`) in with a fresh one-time link: its page, then its
    /// "Sign in" button.
    pub async fn sign_in(&self, tenant: &TestTenant, email: &str) -> Dashboard {
        let token = self.link_token(email).await;
        let http = client();
        let page = self.open_link(&http, &token).await;
        assert_eq!(page.status, 200, "the link's page: {}", page.body);
        assert!(page.body.contains("Sign in"), "{}", page.body);
        let res = self.use_link(&http, &page, &token, &tenant.id).await;
        assert_eq!(res.status().as_u16(), 303, "the link's button signs in");
        let cookie = session_cookie(&res).expect("a session cookie");
        let mut d = Dashboard {
            base_url: self.base_url.clone(),
            http,
            cookie,
            csrf: String::new(),
        };
        let home = d.get("/dashboard").await;
        assert_eq!(home.status, 200, "{}", home.body);
        d.csrf = csrf_of(&home.body).expect("pages carry the CSRF token");
        d
    }
}

impl Dashboard {
    pub async fn get(&self, path: &str) -> Page {
        let res = self
            .http
            .get(format!("{}{path}", self.base_url))
            .header("cookie", &self.cookie)
            .send()
            .await
            .unwrap();
        page(res).await
    }

    /// Posts a form (the session's CSRF token added).
    pub async fn post(&self, path: &str, fields: &[(&str, &str)]) -> Page {
        let mut form: Vec<(&str, &str)> = fields.to_vec();
        form.push(("csrf", &self.csrf));
        self.post_raw(path, &form).await
    }

    /// Posts a `multipart/form-data` form with one file (`file_field`: name, file name, text)
    /// and the session's CSRF token.
    pub async fn post_file(
        &self,
        path: &str,
        fields: &[(&str, &str)],
        file_field: (&str, &str, &str),
    ) -> Page {
        let boundary = "----keyhook-test-boundary-7MA4YWxk";
        let mut body = String::new();
        let csrf = [("csrf", self.csrf.as_str())];
        for (name, value) in fields.iter().chain(csrf.iter()) {
            body.push_str(&format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            ));
        }
        let (name, file_name, text) = file_field;
        body.push_str(&format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{file_name}\"\r\nContent-Type: text/csv\r\n\r\n{text}\r\n--{boundary}--\r\n"
        ));
        let req = self
            .http
            .post(format!("{}{path}", self.base_url))
            .header("cookie", &self.cookie)
            .header(
                "content-type",
                format!("multipart/form-data; boundary={boundary}"),
            )
            .body(body);
        page(req.send().await.unwrap()).await
    }

    /// Posts a form as given (no CSRF token added).
    pub async fn post_raw(&self, path: &str, form: &[(&str, &str)]) -> Page {
        let res = self
            .http
            .post(format!("{}{path}", self.base_url))
            .header("cookie", &self.cookie)
            .form(form)
            .send()
            .await
            .unwrap();
        page(res).await
    }
}

pub async fn page(res: reqwest::Response) -> Page {
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    let location = headers
        .get("location")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    Page {
        status,
        location,
        body: res.text().await.unwrap(),
        headers,
    }
}
