//! Email templates with the ExisOne placeholders: `{{ActivationKey}}`, `{{ProductName}}`,
//! `{{CustomerEmail}}`, `{{PaymentProcessorCustomerName}}`, and Keyhook's `{{portal_url}}` (the
//! merchant's customer portal, where the buyer frees devices and finds their keys). Values are
//! HTML-escaped in the HTML body (a buyer's name is attacker-controlled), inserted as is in the
//! subject and text body.

use crate::domain::EmailTemplate;

/// The values a license email is made of.
#[derive(Debug, Clone)]
pub struct TemplateValues<'a> {
    /// Formatted keys (several for a quantity > 1 purchase).
    pub keys: &'a [String],
    pub product_name: &'a str,
    pub customer_email: &'a str,
    pub customer_name: Option<&'a str>,
    /// The merchant's customer portal (`domain::portal_links::portal_url`); `None` when the
    /// merchant's portal is off: `{{portal_url}}` is then empty and the default template
    /// leaves out its portal line.
    pub portal_url: Option<&'a str>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub html: String,
    pub text: String,
}

/// The template used when a product has none (with its portal line).
pub fn default_template() -> EmailTemplate {
    default_template_with_portal(true)
}

/// The default template, with or without the line that links to the customer portal.
fn default_template_with_portal(portal: bool) -> EmailTemplate {
    let (text_portal, html_portal) = if portal {
        (
            "Manage your devices and keys: {{portal_url}}\n",
            "<br>Manage your devices and keys: <a href=\"{{portal_url}}\">{{portal_url}}</a>",
        )
    } else {
        ("", "")
    };
    EmailTemplate {
        subject: "Your {{ProductName}} license key".into(),
        text: format!(
            "Hello {{{{PaymentProcessorCustomerName}}}},\n\n\
             Thank you for buying {{{{ProductName}}}}. Your license key:\n\n\
             {{{{ActivationKey}}}}\n\n\
             Keep this email: you need the key to activate the software.\n\
             {text_portal}\
             This email was sent to {{{{CustomerEmail}}}}.\n"
        ),
        html: format!(
            "<p>Hello {{{{PaymentProcessorCustomerName}}}},</p>\
             <p>Thank you for buying <strong>{{{{ProductName}}}}</strong>. Your license key:</p>\
             <p style=\"font-family:monospace;font-size:16px\">{{{{ActivationKey}}}}</p>\
             <p>Keep this email: you need the key to activate the software.{html_portal}<br>\
             This email was sent to {{{{CustomerEmail}}}}.</p>"
        ),
    }
}

/// Text for an HTML body: the five characters HTML gives meaning, as entities (every email
/// escapes with this one function; MiniJinja's own escaping also escapes `/`, which some mail
/// clients show as is).
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn fill(template: &str, values: &TemplateValues<'_>, html: bool) -> String {
    let esc = |s: &str| if html { escape_html(s) } else { s.to_string() };
    let name = values.customer_name.unwrap_or("customer");
    let keys = if html {
        values
            .keys
            .iter()
            .map(|k| escape_html(k))
            .collect::<Vec<_>>()
            .join("<br>")
    } else {
        values.keys.join("\n")
    };
    template
        .replace("{{ActivationKey}}", &keys)
        .replace("{{ProductName}}", &esc(values.product_name))
        .replace("{{CustomerEmail}}", &esc(values.customer_email))
        .replace("{{PaymentProcessorCustomerName}}", &esc(name))
        .replace(
            "{{portal_url}}",
            &esc(values.portal_url.unwrap_or_default()),
        )
}

/// Renders a template (the product's, or the default).
pub fn render(template: Option<&EmailTemplate>, values: &TemplateValues<'_>) -> Rendered {
    let default;
    let t = match template {
        Some(t) => t,
        None => {
            default = default_template_with_portal(values.portal_url.is_some());
            &default
        }
    };
    Rendered {
        // Subjects are single-line: fold any line breaks a name might carry.
        subject: fill(&t.subject, values, false).replace(['\r', '\n'], " "),
        html: fill(&t.html, values, true),
        text: fill(&t.text, values, false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values<'a>(keys: &'a [String], name: Option<&'a str>) -> TemplateValues<'a> {
        TemplateValues {
            keys,
            product_name: "Pro <Edition>",
            customer_email: "buyer@example.com",
            customer_name: name,
            portal_url: Some("https://keys.example.com/portal/ten_1"),
        }
    }

    #[test]
    fn default_template_lists_every_key() {
        let keys = vec!["AAAAA-BBBBB".to_string(), "CCCCC-DDDDD".to_string()];
        let r = render(None, &values(&keys, Some("Ada")));
        assert_eq!(r.subject, "Your Pro <Edition> license key");
        assert!(r.text.contains("AAAAA-BBBBB\nCCCCC-DDDDD"));
        assert!(r.html.contains("AAAAA-BBBBB<br>CCCCC-DDDDD"));
        assert!(r.html.contains("Pro &lt;Edition&gt;"));
        assert!(r.text.contains("Hello Ada,"));
    }

    #[test]
    fn html_values_are_escaped_and_custom_templates_used() {
        let t = EmailTemplate {
            subject: "Key for {{CustomerEmail}}".into(),
            html: "<b>{{PaymentProcessorCustomerName}}</b>: {{ActivationKey}}".into(),
            text: "{{PaymentProcessorCustomerName}}: {{ActivationKey}}".into(),
        };
        let keys = vec!["K1".to_string()];
        let r = render(Some(&t), &values(&keys, Some("<script>x</script>\n")));
        assert_eq!(r.html, "<b>&lt;script&gt;x&lt;/script&gt;\n</b>: K1");
        assert_eq!(r.text, "<script>x</script>\n: K1");
        assert_eq!(r.subject, "Key for buyer@example.com");
    }

    #[test]
    fn the_default_template_links_to_the_portal_when_it_is_on() {
        let keys = vec!["K1".to_string()];
        let r = render(None, &values(&keys, Some("Ada")));
        assert!(r
            .text
            .contains("Manage your devices and keys: https://keys.example.com/portal/ten_1\n"));
        assert!(r.html.contains(
            "Manage your devices and keys: <a href=\"https://keys.example.com/portal/ten_1\">https://keys.example.com/portal/ten_1</a>"
        ));

        let off = TemplateValues {
            portal_url: None,
            ..values(&keys, Some("Ada"))
        };
        let r = render(None, &off);
        assert!(!r.text.contains("Manage your devices"), "{}", r.text);
        assert!(!r.html.contains("Manage your devices"), "{}", r.html);
        assert!(r
            .text
            .contains("activate the software.\nThis email was sent to"));
    }

    #[test]
    fn custom_templates_fill_portal_url_escaped_in_html() {
        let t = EmailTemplate {
            subject: "{{ProductName}}".into(),
            html: "<a href=\"{{portal_url}}\">portal</a> {{ActivationKey}}".into(),
            text: "Portal: {{portal_url}}".into(),
        };
        let keys = vec!["K1".to_string()];
        let v = TemplateValues {
            portal_url: Some("https://k.example.com/portal/t?a=1&b=\"2\""),
            ..values(&keys, None)
        };
        let r = render(Some(&t), &v);
        assert_eq!(
            r.html,
            "<a href=\"https://k.example.com/portal/t?a=1&amp;b=&quot;2&quot;\">portal</a> K1"
        );
        assert_eq!(r.text, "Portal: https://k.example.com/portal/t?a=1&b=\"2\"");
        let off = TemplateValues {
            portal_url: None,
            ..values(&keys, None)
        };
        assert_eq!(render(Some(&t), &off).text, "Portal: ");
    }
}
