//! Alerts after a drill: a chat webhook and an email, built from the finished
//! report (`alert`), sent with bounded attempts (`retry`), each channel's
//! outcome returned as data. Nothing here prints, and nothing here can change a
//! drill's verdict or exit code: a delivery that failed is a `Delivery` that
//! says so, for the command line to show.

mod alert;
mod email;
mod retry;
mod webhook;

pub use alert::Alert;
pub use retry::{Schedule, SCHEDULE};

use crate::error::{Error, Result};
use crate::redact::Redacted;
use crate::scenario::{Notify, PasswordSource};
use serde::Serialize;
use std::path::Path;

/// What became of the alert on one channel.
#[derive(Debug, Clone, Serialize)]
pub struct Delivery {
    pub channel: Channel,
    /// `scheme://host:port/path`: no user, password or query, and long path
    /// segments (a webhook's token) shortened.
    pub target: String,
    /// Attempts made (0 when it could not even start, e.g. no password).
    pub attempts: u32,
    pub outcome: Outcome,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    Webhook,
    Email,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Webhook => "webhook",
            Channel::Email => "email",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "lowercase")]
pub enum Outcome {
    Delivered,
    /// The last attempt's reason.
    Failed {
        reason: Redacted,
    },
}

/// Where a `[notify]` sends, as `validate` shows it before the first run.
/// No secret: a webhook's token is shortened as in the delivery record, and
/// the SMTP password is named by where it is kept, never read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Destination {
    pub channel: Channel,
    /// `scheme://host:port/path`, as a `Delivery` names it.
    pub target: String,
    /// Email only: sender, recipients, transport security and login.
    pub detail: Option<String>,
}

/// Each channel of `plan`, webhook first (the order alerts are listed in).
pub fn destinations(plan: &Notify) -> Vec<Destination> {
    let hook = plan.webhook.as_ref().map(|url| Destination {
        channel: Channel::Webhook,
        target: webhook::display_url(url),
        detail: None,
    });
    let mail = plan.email.as_ref().map(|e| Destination {
        channel: Channel::Email,
        target: email::target(e),
        detail: Some(email_detail(e)),
    });
    hook.into_iter().chain(mail).collect()
}

/// `from A to B, C; starttls; login USER, password from $VAR`.
fn email_detail(e: &crate::scenario::Email) -> String {
    let to: Vec<String> = e.to.iter().map(ToString::to_string).collect();
    let login = match &e.login {
        None => "no login".to_string(),
        Some(l) => format!(
            "login {}, password {}",
            l.user,
            match &l.password {
                PasswordSource::Env(var) => format!("from ${var}"),
                PasswordSource::File(path) => format!("in {}", path.display()),
            }
        ),
    };
    format!(
        "from {} to {}; {}; {login}",
        e.from,
        to.join(", "),
        e.tls.as_str()
    )
}

/// Sends `alert` on every channel of `plan` at once, each bounded by
/// `SCHEDULE`; one `Delivery` per channel, webhook first.
pub async fn send(plan: &Notify, alert: &Alert) -> Vec<Delivery> {
    send_with(plan, alert, &SCHEDULE).await
}

/// `send` with another schedule (tests of the bounds).
pub async fn send_with(plan: &Notify, alert: &Alert, s: &Schedule) -> Vec<Delivery> {
    let hook = async {
        match &plan.webhook {
            Some(url) => Some(webhook::deliver(url, alert, s).await),
            None => None,
        }
    };
    let mail = async {
        match &plan.email {
            Some(e) => Some(email::deliver(e, alert, s).await),
            None => None,
        }
    };
    let (hook, mail) = tokio::join!(hook, mail);
    hook.into_iter().chain(mail).collect()
}

/// Reads the SMTP password where the scenario says it is, so that a missing
/// variable or a file readable by others stops the drill before it starts
/// (exit 3), not after it when the alert is due.
pub fn check_credentials(plan: &Notify) -> Result<()> {
    match plan.email.as_ref().and_then(|e| e.login.as_ref()) {
        Some(login) => read_password(&login.password).map(drop),
        None => Ok(()),
    }
}

/// The password, from its variable or its file (mode 600, trailing newline
/// dropped). Messages name where it is, never what it is.
fn read_password(source: &PasswordSource) -> Result<String> {
    match source {
        PasswordSource::Env(var) => std::env::var(var).map_err(|_| {
            Error::Environment(format!(
                "[notify.email] takes the SMTP password from ${var}, which is not set. Fix: export {var}=..."
            ))
        }),
        PasswordSource::File(path) => password_file(path),
    }
}

fn password_file(path: &Path) -> Result<String> {
    let text = crate::keys::read_private_file(
        path,
        "the SMTP password file",
        "password_file in [notify.email]",
        "can send mail as the drill",
    )?;
    let password = text.trim_end_matches(['\n', '\r']);
    if password.is_empty() {
        return Err(Error::Environment(format!(
            "the SMTP password file {} is empty. Write the password into it (mode 600)",
            path.display()
        )));
    }
    Ok(password.to_string())
}
