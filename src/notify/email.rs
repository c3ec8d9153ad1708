//! The email: lettre over tokio and rustls, one connection per attempt, the
//! TLS mode the scenario chose (STARTTLS required, implicit TLS, or none for a
//! relay on this machine), a login only when `user` is set.

use super::retry::{self, Failure, Schedule};
use super::{read_password, Alert, Channel, Delivery, Outcome};
use crate::redact::Redacted;
use crate::scenario::{Email, SmtpTls};
use lettre::message::header::ContentType;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

type Transport = AsyncSmtpTransport<Tokio1Executor>;

pub(super) async fn deliver(e: &Email, alert: &Alert, s: &Schedule) -> Delivery {
    let (attempts, result) = match prepare(e, alert, s) {
        Ok((transport, message)) => retry::run(s, || send(&transport, &message, e.tls)).await,
        Err(reason) => (0, Err(reason)),
    };
    Delivery {
        channel: Channel::Email,
        target: target(e),
        attempts,
        outcome: match result {
            Ok(()) => Outcome::Delivered,
            Err(reason) => Outcome::Failed {
                reason: Redacted::ours(reason),
            },
        },
    }
}

/// `smtp://host:port`, as the delivery record shows it.
pub(super) fn target(e: &Email) -> String {
    let host = if e.host.contains(':') {
        format!("[{}]", e.host)
    } else {
        e.host.clone()
    };
    format!("smtp://{host}:{}", e.port)
}

fn prepare(e: &Email, alert: &Alert, s: &Schedule) -> Result<(Transport, Message), String> {
    let tls = match e.tls {
        SmtpTls::StartTls => Tls::Required(tls_parameters(&e.host)?),
        SmtpTls::Tls => Tls::Wrapper(tls_parameters(&e.host)?),
        SmtpTls::None => Tls::None,
    };
    let mut builder = Transport::builder_dangerous(e.host.as_str())
        .port(e.port)
        .tls(tls)
        .timeout(Some(s.connect_timeout));
    if let Some(login) = &e.login {
        let password = read_password(&login.password).map_err(|err| err.to_string())?;
        builder = builder.credentials(Credentials::new(login.user.clone(), password));
    }
    Ok((builder.build(), message(e, alert)?))
}

fn tls_parameters(host: &str) -> Result<TlsParameters, String> {
    TlsParameters::new(host.to_string())
        .map_err(|err| format!("cannot set up TLS for {host}: {err}"))
}

fn message(e: &Email, alert: &Alert) -> Result<Message, String> {
    let mut m = Message::builder()
        .from(e.from.clone())
        .subject(alert.subject().as_str())
        // A Message-ID from this host's name: mail without one looks like spam.
        .message_id(None)
        .header(ContentType::TEXT_PLAIN);
    for to in &e.to {
        m = m.to(to.clone());
    }
    m.body(alert.summary.to_string())
        .map_err(|err| format!("cannot build the email: {err}"))
}

async fn send(transport: &Transport, message: &Message, tls: SmtpTls) -> Result<(), Failure> {
    match transport.send(message.clone()).await {
        Ok(_) => Ok(()),
        Err(err) => Err(classify(&err, tls)),
    }
}

/// A refused login or address (5xx) and a TLS failure are for the scenario's
/// author to fix: said with the key to look at, and not retried.
fn classify(err: &lettre::transport::smtp::Error, tls: SmtpTls) -> Failure {
    let code = err.status().map(|c| c.to_string());
    if code.as_deref() == Some("535") || code.as_deref() == Some("534") {
        return Failure::Permanent(format!(
            "the server refused the login ({err}): check `user` and the password"
        ));
    }
    if err.is_permanent() {
        return Failure::Permanent(format!("the server refused the email ({err})"));
    }
    if err.is_tls() || (tls != SmtpTls::None && handshake_failed(err)) {
        // No double quotes: the reason goes through the redactor, which
        // would take them for a value.
        let hint = match tls {
            SmtpTls::Tls => "tls = tls is implicit TLS (usually port 465); for a server that starts in plain text and offers STARTTLS (port 587) use tls = starttls",
            _ => "check the server's certificate and that it offers STARTTLS, or use tls = tls for port 465",
        };
        return Failure::Permanent(format!("TLS failed ({err}): {hint}"));
    }
    if err.is_timeout() {
        return Failure::Transient(format!("no answer in time ({err})"));
    }
    Failure::Transient(err.to_string())
}

/// lettre reports a failed TLS handshake as a connection error; rustls's
/// reason (a corrupt record, a bad certificate) comes as invalid data.
fn handshake_failed(err: &lettre::transport::smtp::Error) -> bool {
    let mut source = std::error::Error::source(err);
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            return io.kind() == std::io::ErrorKind::InvalidData;
        }
        source = s.source();
    }
    false
}
