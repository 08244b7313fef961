//! The patterns of the API's text fields (JSON Schema `pattern`s, published in the OpenAPI
//! document and checked on every request body by `http::schema`), with the limits that go with
//! them. Domain types name them in their schemas; `http::schema` re-exports them.
//!
//! Patterns are ECMA 262 as JSON Schema wants, limited to what Python's `re` and Rust's `regex`
//! read the same way (explicit character classes, no `\s`, `\w` or `\p{..}`), so a client or a
//! fuzzer generating from the document agrees with the server. Each is written so that whatever
//! matches it passes the Rust check it restates (`http::schema`'s tests hold the two together).

/// The characters Rust's `char::is_whitespace` (what `str::trim` removes) matches.
macro_rules! ws {
    () => {
        "\\t\\n\\x0b\\x0c\\r \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000"
    };
}
/// The characters Rust's `char::is_control` matches (Unicode category Cc).
macro_rules! cc {
    () => {
        "\\x00-\\x1f\\x7f-\\x9f"
    };
}

/// Not blank: at least one character that is not whitespace (what `text_field` requires after
/// trimming).
pub const NON_BLANK: &str = concat!("[^", ws!(), "]");
/// Empty (meaning "remove"), or not blank.
pub const EMPTY_OR_NON_BLANK: &str = concat!("^$|[^", ws!(), "]");
/// Printable (no control character) and not blank: device ids, product references.
pub const PRINTABLE_NON_BLANK: &str =
    concat!("^[^", cc!(), "]*[^", cc!(), ws!(), "][^", cc!(), "]*$");
/// Printable (no control character), possibly empty: names, keys and nonces of the public
/// validation routes.
pub const PRINTABLE: &str = concat!("^[^", cc!(), "]*$");
/// An email address's pattern without its anchors (for [`EMAIL`] and [`EMPTY_OR_CONTACT`]).
macro_rules! email {
    () => {
        concat!(
            "[^@,;",
            ws!(),
            "]+@[^@,;.",
            ws!(),
            "][^@,;",
            ws!(),
            "]*\\.[^@,;",
            ws!(),
            "]*[^@,;.",
            ws!(),
            "]"
        )
    };
}
/// An email address as `input::is_email` accepts it: one `@`, a dot inside the domain, no
/// whitespace, `,` or `;`.
pub const EMAIL: &str = concat!("^", email!(), "$");
/// Most characters in an email address.
pub const EMAIL_MAX_CHARS: u64 = 254;

/// A host name: dot-separated labels of letters and digits, single hyphens inside, the last
/// label starting with a letter (so it never reads as an IP address).
macro_rules! host {
    () => {
        "(?:[A-Za-z0-9](?:-?[A-Za-z0-9])*\\.)+[A-Za-z](?:-?[A-Za-z0-9])*"
    };
}
/// Port, path and query of a URL: printable ASCII without spaces, quotes, `<>`, `\`, `^`, `` ` ``,
/// `{|}` (Stripe's `{CHECKOUT_SESSION_ID}` placeholder aside), or `#` (no fragment).
macro_rules! rest {
    () => {
        "(?::(?:[1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5]))?(?:/(?:[A-Za-z0-9._~!$&'()*+,;=:@%/-]|\\{CHECKOUT_SESSION_ID\\})*)?(?:\\?(?:[A-Za-z0-9._~!$&'()*+,;=:@%/?-]|\\{CHECKOUT_SESSION_ID\\})*)?"
    };
}
/// An `https` URL with a host name, or `http` on localhost / 127.0.0.1 / [::1]: what
/// `checkout::redirect_url::check` and `webhooks::endpoint::check_url` accept.
pub const WEB_URL: &str = concat!(
    "^(?:https://",
    host!(),
    "|http://(?:localhost|127\\.0\\.0\\.1|\\[::1\\]))",
    rest!(),
    "$"
);
/// An `https` URL with a host name, or empty: what the portal settings take for a logo.
pub const EMPTY_OR_HTTPS_URL: &str = concat!("^(?:https://", host!(), rest!(), ")?$");
/// An email address or an `https` URL, or empty: where a merchant's buyers ask for help.
pub const EMPTY_OR_CONTACT: &str = concat!("^(?:", email!(), "|https://", host!(), rest!(), ")?$");
/// A colour as `#rrggbb`, or empty.
pub const EMPTY_OR_COLOUR: &str = "^(?:#[0-9A-Fa-f]{6})?$";
/// Longest URL accepted.
pub const URL_MAX_CHARS: u64 = 2048;

/// A price with up to 2 decimals (a product's own price).
pub const PRICE_2: &str = "^[0-9]{1,12}(?:\\.[0-9]{1,2})?$";
/// A price with up to 3 decimals (prices in other currencies, display prices).
pub const PRICE_3: &str = "^[0-9]{1,12}(?:\\.[0-9]{1,3})?$";
/// Empty (removes it), or a price with up to 3 decimals.
pub const EMPTY_OR_PRICE_3: &str = "^$|^[0-9]{1,12}(?:\\.[0-9]{1,3})?$";
/// A lowercase ISO 4217 code, as Stripe wants it.
pub const CURRENCY_CODE: &str = "^[a-z]{3}$";
/// A Stripe price id.
pub const STRIPE_PRICE_ID: &str = "^price_[A-Za-z0-9_]{2,249}$";
/// A Stripe connected account id.
pub const STRIPE_ACCOUNT_ID: &str = "^acct_[A-Za-z0-9_]{0,250}$";
/// An RFC 3339 timestamp (`2027-01-31T00:00:00Z`), as `time::parse` reads it: real calendar
/// dates only (30-day months, February 29 in leap years), no leap second.
pub const TIMESTAMP: &str = concat!(
    "^(?:[0-9]{4}-(?:(?:0[13578]|1[02])-(?:0[1-9]|[12][0-9]|3[01])|(?:0[469]|11)-(?:0[1-9]|[12][0-9]|30)|02-(?:0[1-9]|1[0-9]|2[0-8]))",
    "|(?:[0-9]{2}(?:0[48]|[2468][048]|[13579][26])|(?:[02468][048]|[13579][26])00)-02-29)",
    "[Tt](?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\\.[0-9]{1,9})?(?:[Zz]|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])$"
);

/// Empty (removes the key), or a Stripe key with one of the prefixes and at least five more
/// characters, all printable ASCII (what an HTTP header carries; `apps::check_key`).
macro_rules! stripe_key {
    ($prefixes:literal) => {
        concat!("^$|^(?:", $prefixes, ")[!-~]{5,}$")
    };
}
pub const PUBLISHABLE_KEY: &str = stripe_key!("pk_test_|pk_live_");
pub const SECRET_KEY: &str = stripe_key!("sk_test_|sk_live_|rk_test_|rk_live_");
pub const WEBHOOK_SECRET: &str = stripe_key!("whsec_");
/// Longest Stripe key accepted.
pub const STRIPE_KEY_MAX_CHARS: u64 = 512;
