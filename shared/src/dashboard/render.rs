//! Templates (MiniJinja, embedded in the binary; HTML auto-escaped): one layout, one file per
//! page in `templates/`, shared macros for labelled inputs and status badges.

use std::sync::LazyLock;

use minijinja::{context, Environment, Value};

use super::assets;
use super::session::Signed;
use crate::{Error, Result, Services};

macro_rules! templates {
    ($($name:literal),* $(,)?) => {
        &[$(($name, include_str!(concat!("templates/", $name)))),*]
    };
}

static TEMPLATES: &[(&str, &str)] = templates![
    "layout.html",
    "macros.html",
    "error.html",
    "sign_in.html",
    "sign_up.html",
    "link.html",
    "overview.html",
    "apps.html",
    "app_form.html",
    "event.html",
    "event_fragment.html",
    "products.html",
    "product_form.html",
    "product_payment_link.html",
    "price_picker.html",
    "preview.html",
    "licenses.html",
    "license_new.html",
    "license.html",
    "license_key.html",
    "test_purchase.html",
    "settings.html",
    "webhooks.html",
    "webhook.html",
    "import.html",
    "import_results.html",
    "integrate.html",
];

static ENV: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = Environment::new();
    for (name, source) in TEMPLATES {
        env.add_template(name, source)
            .unwrap_or_else(|e| panic!("dashboard template {name}: {e:#}"));
    }
    env.add_filter("when", when);
    env.add_filter("label", |field: String| super::form::label_of(&field));
    env.add_filter("in_form_order", |errors: Value| {
        let fields = errors
            .try_iter()
            .map(|keys| {
                keys.filter_map(|k| k.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        super::form::in_form_order(fields)
    });
    env
});

/// `2026-11-28T13:45:12.000Z` -> `2026-11-28 13:45 UTC`.
fn when(ts: Option<String>) -> String {
    match ts {
        Some(t) if t.len() >= 16 => format!("{} {} UTC", &t[..10], &t[11..16]),
        Some(t) => t,
        None => "—".into(),
    }
}

fn render(name: &str, ctx: Value) -> Result<String> {
    ENV.get_template(name)
        .and_then(|t| t.render(ctx))
        .map_err(|e| Error::internal(format!("rendering {name}: {e:#}")))
}

/// A whole page: `ctx` plus what every page shows (who is signed in, the CSRF token of its
/// forms, the assets' URLs).
pub fn page(s: &Services, name: &str, me: Option<&Signed>, ctx: Value) -> Result<String> {
    let me_value = me.map(|m| {
        context! {
            who => m.who,
            role => m.role.as_str(),
            tenant_name => m.tenant_name,
            tenant_id => m.tenant_id,
            can_edit => m.role.can_edit(),
            can_manage_team => m.role.can_manage_team(),
        }
    });
    let full = context! {
        me => me_value,
        csrf => me.map(|m| m.csrf.clone()),
        css => assets::url("dashboard.css"),
        js => assets::url("dashboard.js"),
        base_url => s.config.public_base_url,
        ..ctx
    };
    render(name, full)
}

/// A fragment the script swaps into the page (no layout).
pub fn fragment(name: &str, me: Option<&Signed>, ctx: Value) -> Result<String> {
    let full = context! {
        csrf => me.map(|m| m.csrf.clone()),
        me => me.map(|m| context! { can_edit => m.role.can_edit() }),
        ..ctx
    };
    render(name, full)
}

#[cfg(test)]
mod tests {
    use minijinja::context;

    #[test]
    fn every_template_parses() {
        assert!(super::ENV.templates().count() >= super::TEMPLATES.len());
    }

    /// Filters are looked up when a template runs, not when it parses: a filter the build
    /// lacks (a MiniJinja feature not enabled) fails only the page that reaches it, such as a
    /// list's link to its next page.
    #[test]
    fn every_filter_the_templates_use_exists() {
        let mut names: Vec<&str> = super::TEMPLATES
            .iter()
            .flat_map(|(_, source)| source.split('|').skip(1))
            .map(|rest| {
                let rest = rest.trim_start();
                let end = rest
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(rest.len());
                &rest[..end]
            })
            .filter(|name| !name.is_empty())
            .collect();
        names.sort_unstable();
        names.dedup();
        assert!(
            names.contains(&"urlencode") && names.contains(&"when"),
            "{names:?}"
        );
        for name in names {
            let source = format!("{{{{ v|{name} }}}}");
            if let Err(e) = super::ENV.render_str(&source, context! { v => "x" }) {
                assert_ne!(e.kind(), minijinja::ErrorKind::UnknownFilter, "{name}: {e}");
            }
        }
    }

    #[test]
    fn a_next_page_cursor_is_url_encoded() {
        let link = super::ENV.render_str("{{ c|urlencode }}", context! { c => "eyJ+/x=" });
        // As Jinja's: `/` is left as it is, which a query value may hold.
        assert_eq!(link.unwrap(), "eyJ%2B/x%3D");
    }
}
