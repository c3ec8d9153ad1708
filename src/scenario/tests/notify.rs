//! `[notify]`: where a drill's alert goes, and the refusals of what cannot work.

use super::*;

/// `GOOD` followed by `[notify]` (at line 17) and `rest` (from line 18).
fn notifying(rest: &str) -> String {
    format!("{GOOD}[notify]\n{rest}\n")
}

const EMAIL: &str = "[notify.email]\nsmtp = \"smtp://mail.example.org\"\nfrom = \"drills@clinic.example\"\nto = [\"it@contractor.example\"]\n";

#[test]
fn notify_defaults_to_failures_over_starttls() {
    let text = notifying(&format!(
        "webhook = \"https://chat.example/hooks/abc\"\n{EMAIL}user = \"drills\"\npassword_env = \"RESTORE_DRILL_SMTP_PASSWORD\"\n"
    ));
    let n = parse(Path::new("/s/x.toml"), &text)
        .expect("valid")
        .notify
        .expect("[notify]");
    assert_eq!(n.on, NotifyOn::Failure);
    assert!(n.is_due(1) && n.is_due(4) && !n.is_due(0));
    assert_eq!(
        n.webhook.map(|u| u.to_string()).as_deref(),
        Some("https://chat.example/hooks/abc")
    );
    let e = n.email.expect("email");
    assert_eq!(
        (e.host.as_str(), e.port, e.tls),
        ("mail.example.org", 587, SmtpTls::StartTls)
    );
    assert_eq!(e.to.len(), 1);
    let login = e.login.expect("login");
    assert_eq!(login.user, "drills");
    assert_eq!(
        login.password,
        PasswordSource::Env("RESTORE_DRILL_SMTP_PASSWORD".into())
    );
    let text = notifying(&format!(
        "on = \"always\"\n{EMAIL}tls = \"tls\"\nuser = \"d\"\npassword_file = \"smtp.password\"\n"
    ));
    let n = parse(Path::new("/s/x.toml"), &text)
        .expect("valid")
        .notify
        .expect("notify");
    assert!(n.is_due(0));
    let e = n.email.expect("email");
    assert_eq!((e.port, e.tls), (465, SmtpTls::Tls));
    assert_eq!(
        e.login.expect("login").password,
        PasswordSource::File(PathBuf::from("/s/smtp.password"))
    );
}

#[test]
fn a_password_in_the_scenario_is_refused_at_its_line_with_the_fix() {
    let m = refused(&notifying(&format!(
        "{EMAIL}user = \"d\"\npassword = \"hunter2\"\n"
    )));
    assert!(
        m.starts_with(
            "x.toml:23:12: `password`: never write a password in a scenario: use password_env"
        ),
        "{m}"
    );
    assert!(m.contains("password_file"), "{m}");
    assert!(!m.contains("hunter2"), "{m}");
}

/// The `[notify.email]` of [`EMAIL`] with `tls = "none"` and `smtp` set to
/// `host`.
fn in_clear(host: &str) -> String {
    notifying(
        &EMAIL
            .replace("smtp://mail.example.org", host)
            .replace("to = [", "tls = \"none\"\nto = ["),
    )
}

#[test]
fn tls_none_is_refused_for_a_remote_server() {
    let m = refused(&in_clear("smtp://mail.example.org"));
    assert!(
        m.starts_with("x.toml:21:7: tls none sends the login and the alert in clear"),
        "{m}"
    );
}

#[test]
fn tls_none_is_only_for_a_relay_on_this_machine() {
    for host in ["smtp://localhost", "smtp://127.0.0.1:2525", "smtp://[::1]"] {
        let plan =
            parse(Path::new("x.toml"), &in_clear(host)).unwrap_or_else(|e| panic!("{host}: {e}"));
        let e = plan.notify.and_then(|n| n.email).expect("email");
        assert_eq!(e.tls, SmtpTls::None);
        assert!(e.port == 25 || e.port == 2525, "{host}");
        assert!(!e.host.starts_with('['), "{}", e.host);
    }
}

/// A bad `[notify]` value, one test each, refused at the value.
mod a_bad_notify_value {
    use super::*;

    refusals! {
        misspelt_condition: notifying("on = \"allways\"\nwebhook = \"https://c.example/h\"")
            => "x.toml:18:6: unknown notify condition \"allways\": use \"failure\" or \"always\"; did you mean `always`?";
    }

    // The tails of these quote the URL and address parsers' words: the part
    // that is ours is checked, and the secret must not be echoed.
    refusals_where! {
        webhook_without_a_scheme: notifying("webhook = \"chat.example/hooks/s3cr3t\"")
            => starts "x.toml:18:11: invalid webhook URL: ", lacks "s3cr3t";
        webhook_over_ftp: notifying("webhook = \"ftp://chat.example/hooks\"")
            => starts "x.toml:18:11: webhook URL with scheme \"ftp\"";
        empty_to: notifying(&EMAIL.replace("[\"it@contractor.example\"]", "[]"))
            => starts "x.toml:21:6: `to` is empty";
        invalid_to: notifying(&EMAIL.replace("it@contractor.example", "it at contractor"))
            => starts "x.toml:21:7: invalid address \"it at contractor\" in `to`";
        invalid_from: notifying(&EMAIL.replace("drills@clinic.example", "drills@"))
            => starts "x.toml:20:8: invalid address";
        login_in_the_smtp_url: notifying(&EMAIL.replace("smtp://mail", "smtp://u:pw@mail"))
            => starts "x.toml:19:8: the smtp URL holds a user name or password", lacks "pw@";
        smtps_scheme: notifying(&EMAIL.replace("smtp://", "smtps://"))
            => has "the scheme is smtp://";
        unknown_tls_mode: notifying(&EMAIL.replace("to = [", "tls = \"ssl\"\nto = ["))
            => has "unknown tls mode \"ssl\": use \"starttls\", \"tls\" or \"none\"";
        nowhere_to_send: "name = \"t\"\n[backups]\n[target]\nimage = \"i\"\n[notify]\non = \"always\"\n"
            => has "[notify] sends nowhere";
    }
}

/// A login takes exactly one password source.
mod a_login {
    use super::*;

    refusals_where! {
        without_a_password: notifying(&format!("{EMAIL}user = \"d\"\n"))
            => starts "x.toml:22:8: `user` needs its password";
        with_two_passwords: notifying(&format!(
            "{EMAIL}user = \"d\"\npassword_env = \"P\"\npassword_file = \"f\"\n"
        ))
            => starts "x.toml:24:17: give exactly one of";
        missing_for_a_password: notifying(&format!("{EMAIL}password_env = \"P\"\n"))
            => starts "x.toml:22:16: a password goes with a login";
    }
}
