//! `[notify]`: who hears about a drill, and when. URLs, addresses and the
//! transport's security are checked here, at their line; the SMTP password is
//! never in the file (a `password` key is refused), only where to find it, and
//! that place is read when the drill starts (`notify::check_credentials`).
//! Messages put no value in double quotes: the command line passes every
//! error through the redactor, which would take it for data and remove it.

use super::raw::{RawEmail, RawNotify, RawNotifyOn, RawTls};
use super::source::Source;
use crate::error::Result;
use lettre::message::Mailbox;
use std::path::PathBuf;
use std::str::FromStr;
use toml::Spanned;
use url::Url;

/// Where alerts go and when.
#[derive(Debug, Clone)]
pub struct Notify {
    pub on: NotifyOn,
    /// A chat tool's incoming webhook (http or https).
    pub webhook: Option<Url>,
    pub email: Option<Email>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotifyOn {
    /// Only when the run's exit code is not 0 (a failure scenario that went
    /// as expected exits 0: no alert).
    Failure,
    Always,
}

impl Notify {
    /// Whether a run that ends with `exit_code` is alerted.
    pub fn is_due(&self, exit_code: u8) -> bool {
        match self.on {
            NotifyOn::Always => true,
            NotifyOn::Failure => exit_code != 0,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Email {
    /// Without brackets for an IPv6 address.
    pub host: String,
    pub port: u16,
    pub tls: SmtpTls,
    pub from: Mailbox,
    pub to: Vec<Mailbox>,
    pub login: Option<SmtpLogin>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpTls {
    /// Plain connection upgraded by STARTTLS, which must be offered (port 587).
    StartTls,
    /// TLS from the first byte (port 465).
    Tls,
    /// No TLS: only for a relay on this machine.
    None,
}

impl SmtpTls {
    pub fn as_str(self) -> &'static str {
        match self {
            SmtpTls::StartTls => "starttls",
            SmtpTls::Tls => "tls",
            SmtpTls::None => "none",
        }
    }

    fn default_port(self) -> u16 {
        match self {
            SmtpTls::StartTls => 587,
            SmtpTls::Tls => 465,
            SmtpTls::None => 25,
        }
    }
}

#[derive(Debug, Clone)]
pub struct SmtpLogin {
    pub user: String,
    pub password: PasswordSource,
}

/// Where the SMTP password is: never the password itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PasswordSource {
    /// The name of an environment variable.
    Env(String),
    /// A file of mode 600.
    File(PathBuf),
}

pub(super) fn parse(src: &Source, raw: Spanned<RawNotify>) -> Result<Notify> {
    let span = raw.span();
    let raw = raw.into_inner();
    let on = match raw.on.as_ref().map(|o| *o.get_ref()) {
        None | Some(RawNotifyOn::Failure) => NotifyOn::Failure,
        Some(RawNotifyOn::Always) => NotifyOn::Always,
    };
    let webhook = raw.webhook.map(|w| webhook(src, &w)).transpose()?;
    let email = raw.email.map(|e| email(src, e)).transpose()?;
    if webhook.is_none() && email.is_none() {
        return Err(src.at(
            span,
            "[notify] sends nowhere: add a `webhook` URL or a [notify.email] table",
        ));
    }
    Ok(Notify { on, webhook, email })
}

/// The URL is not quoted back: its path is often the webhook's secret.
fn webhook(src: &Source, w: &Spanned<String>) -> Result<Url> {
    let url = Url::parse(w.get_ref()).map_err(|e| {
        src.at(
            w.span(),
            format_args!(
                "invalid webhook URL: {e}; expected https://HOST/PATH as the chat tool gives it"
            ),
        )
    })?;
    if !matches!(url.scheme(), "https" | "http") {
        return Err(src.at(
            w.span(),
            format_args!(
                "webhook URL with scheme {:?}: use https:// (or http://)",
                url.scheme()
            ),
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(src.at(w.span(), "webhook URL without a host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(src.at(
            w.span(),
            "webhook URL with user:password@: never write a password in a scenario; use the URL the chat tool gives",
        ));
    }
    Ok(url)
}

fn email(src: &Source, raw: Spanned<RawEmail>) -> Result<Email> {
    let raw = raw.into_inner();
    if let Some(p) = &raw.password {
        return Err(src.at(
            p.span(),
            "`password`: never write a password in a scenario: use password_env (an environment variable holding it) or password_file (a file of mode 600)",
        ));
    }
    let tls = match raw.tls.as_ref().map(|t| *t.get_ref()) {
        None | Some(RawTls::Starttls) => SmtpTls::StartTls,
        Some(RawTls::Tls) => SmtpTls::Tls,
        Some(RawTls::None) => SmtpTls::None,
    };
    let (host, port) = smtp_server(src, &raw.smtp, tls)?;
    if tls == SmtpTls::None && !is_loopback(&host) {
        let span = raw.tls.as_ref().map_or(raw.smtp.span(), |t| t.span());
        return Err(src.at(
            span,
            format_args!(
                "tls none sends the login and the alert in clear: it is only for a relay on this machine (localhost, 127.0.0.1, ::1), not {host}; use tls starttls (port 587) or tls (port 465)"
            ),
        ));
    }
    let from = mailbox(src, &raw.from, "from")?;
    if raw.to.get_ref().is_empty() {
        return Err(src.at(
            raw.to.span(),
            "`to` is empty: give at least one address, e.g. it@contractor.example",
        ));
    }
    let to = raw
        .to
        .get_ref()
        .iter()
        .map(|a| mailbox(src, a, "to"))
        .collect::<Result<_>>()?;
    let login = login(src, &raw)?;
    Ok(Email {
        host,
        port,
        tls,
        from,
        to,
        login,
    })
}

/// `smtp://HOST[:PORT]`; the port defaults to the TLS mode's.
fn smtp_server(src: &Source, s: &Spanned<String>, tls: SmtpTls) -> Result<(String, u16)> {
    let bad = |why: &str| {
        src.at(
            s.span(),
            format_args!(
                "invalid smtp {:?}: {why}; expected smtp://mail.example.org:587",
                s.get_ref()
            ),
        )
    };
    let url = Url::parse(s.get_ref()).map_err(|e| bad(&e.to_string()))?;
    if url.scheme() != "smtp" {
        return Err(bad(
            "the scheme is smtp:// (how the connection is secured is `tls`)",
        ));
    }
    if !url.username().is_empty() || url.password().is_some() {
        // Not quoted back: it may hold a password.
        return Err(src.at(
            s.span(),
            "the smtp URL holds a user name or password: put the user in `user` and never write a password in a scenario: use password_env or password_file",
        ));
    }
    let extra =
        !matches!(url.path(), "" | "/") || url.query().is_some() || url.fragment().is_some();
    if extra {
        return Err(bad("it takes a host and a port, nothing else"));
    }
    let host = url
        .host_str()
        .map(|h| h.trim_start_matches('[').trim_end_matches(']').to_string())
        .filter(|h| !h.is_empty())
        .ok_or_else(|| bad("no host"))?;
    Ok((host, url.port().unwrap_or(tls.default_port())))
}

/// localhost or a loopback address: traffic that never leaves the machine.
pub(crate) fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn mailbox(src: &Source, a: &Spanned<String>, key: &str) -> Result<Mailbox> {
    Mailbox::from_str(a.get_ref()).map_err(|e| {
        src.at(
            a.span(),
            format_args!(
                "invalid address {:?} in `{key}`: {e}; expected it@contractor.example or IT <it@contractor.example>",
                a.get_ref()
            ),
        )
    })
}

/// `user` with exactly one of password_env and password_file; neither without it.
fn login(src: &Source, raw: &RawEmail) -> Result<Option<SmtpLogin>> {
    let (env, file) = (&raw.password_env, &raw.password_file);
    let Some(user) = &raw.user else {
        return match env
            .as_ref()
            .map(Spanned::span)
            .or(file.as_ref().map(Spanned::span))
        {
            Some(span) => Err(src.at(
                span,
                "a password goes with a login: add `user` (or remove password_env / password_file)",
            )),
            None => Ok(None),
        };
    };
    if user.get_ref().trim().is_empty() {
        return Err(src.at(user.span(), "`user` is empty"));
    }
    let password = match (env, file) {
        (Some(_), Some(f)) => {
            return Err(src.at(
                f.span(),
                "give exactly one of password_env and password_file",
            ))
        }
        (None, None) => {
            return Err(src.at(
                user.span(),
                "`user` needs its password: add password_env (e.g. RESTORE_DRILL_SMTP_PASSWORD) or password_file (e.g. /etc/restore-drill/smtp.password, mode 600)",
            ))
        }
        (Some(e), None) if e.get_ref().is_empty() || e.get_ref().contains('=') => {
            return Err(src.at(e.span(), "password_env names an environment variable, e.g. RESTORE_DRILL_SMTP_PASSWORD"));
        }
        (Some(e), None) => PasswordSource::Env(e.get_ref().clone()),
        (None, Some(f)) => PasswordSource::File(src.resolve(f.get_ref())),
    };
    Ok(Some(SmtpLogin {
        user: user.get_ref().clone(),
        password,
    }))
}
