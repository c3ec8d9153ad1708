//! The chat webhook: one JSON POST per attempt. reqwest on rustls: the same
//! TLS stack as the email, no OpenSSL on the clinic's server, http and https.
//! Redirects are not followed (a POST that moved is a URL to fix, and
//! following it could send the alert elsewhere). Messages never quote the
//! URL: its path is usually the webhook's secret.

use super::retry::{self, Failure, Schedule};
use super::{Alert, Channel, Delivery, Outcome};
use crate::redact::Redacted;
use url::Url;

pub(super) async fn deliver(url: &Url, alert: &Alert, s: &Schedule) -> Delivery {
    let body = alert.webhook_json();
    let client = reqwest::Client::builder()
        .connect_timeout(s.connect_timeout)
        .timeout(s.attempt_timeout)
        .redirect(reqwest::redirect::Policy::none())
        .build();
    let (attempts, result) = match client {
        Ok(client) => retry::run(s, || post(&client, url, &body)).await,
        Err(e) => (
            0,
            Err(format!(
                "cannot set up the HTTP client: {}",
                crate::error::chain(&e)
            )),
        ),
    };
    Delivery {
        channel: Channel::Webhook,
        target: display_url(url),
        attempts,
        outcome: match result {
            Ok(()) => Outcome::Delivered,
            Err(reason) => Outcome::Failed {
                reason: Redacted::ours(reason),
            },
        },
    }
}

async fn post(
    client: &reqwest::Client,
    url: &Url,
    body: &serde_json::Value,
) -> Result<(), Failure> {
    let response = client
        .post(url.clone())
        .json(body)
        .send()
        .await
        .map_err(|e| Failure::Transient(describe(e)))?;
    let status = response.status();
    if status.is_success() {
        return Ok(());
    }
    let said = format!("the server answered {status}");
    // 408 and 429 say "later"; another 3xx or 4xx is about the request itself.
    let later = status.is_server_error() || status.as_u16() == 408 || status.as_u16() == 429;
    Err(if later {
        Failure::Transient(said)
    } else if status.is_redirection() {
        Failure::Permanent(format!("{said}: the webhook moved; use its new URL"))
    } else {
        Failure::Permanent(format!("{said}: check the webhook URL"))
    })
}

/// What went wrong, without the URL reqwest would put in front.
fn describe(e: reqwest::Error) -> String {
    let what = if e.is_timeout() {
        "no answer in time"
    } else if e.is_connect() {
        "cannot connect"
    } else {
        "the request failed"
    };
    format!("{what}: {}", crate::error::chain(&e.without_url()))
}

/// `scheme://host:port/path`: no user, password, query or fragment, and each
/// path segment of 16 characters or more (a token) cut to its first 4 and `…`,
/// so the delivery record shows where the alert went without handing anyone
/// the webhook's secret.
pub(super) fn display_url(url: &Url) -> String {
    let host = url.host_str().unwrap_or("");
    let port = url
        .port_or_known_default()
        .map(|p| format!(":{p}"))
        .unwrap_or_default();
    let path: Vec<String> = url
        .path()
        .split('/')
        .map(|seg| {
            if seg.chars().count() >= 16 {
                format!("{}…", seg.chars().take(4).collect::<String>())
            } else {
                seg.to_string()
            }
        })
        .collect();
    format!("{}://{host}{port}{}", url.scheme(), path.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shown(u: &str) -> String {
        display_url(&Url::parse(u).expect("url"))
    }

    #[test]
    fn the_target_has_no_credentials_query_or_token() {
        assert_eq!(
            shown("https://chat.example/hooks/abc"),
            "https://chat.example:443/hooks/abc"
        );
        assert_eq!(
            shown("http://127.0.0.1:8080/hook?token=s3cret#x"),
            "http://127.0.0.1:8080/hook"
        );
        assert_eq!(
            shown("https://hooks.chat.example/services/T0001/B0002/aVeryLongSecretToken123"),
            "https://hooks.chat.example:443/services/T0001/B0002/aVer…"
        );
        assert_eq!(
            shown("https://[::1]:9/x/0123456789abcdef"),
            "https://[::1]:9/x/0123…"
        );
        assert_eq!(shown("https://u:p@h.example/"), "https://h.example:443/");
    }
}
