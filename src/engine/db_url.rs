//! A database URL as it may be shown, and as it is handed to a dump tool. A
//! password can sit in the user part (`postgres://u:PW@h/db`) or in the
//! query string (`postgres://u@h/db?password=PW`, as libpq and sqlx accept
//! it): it is masked in both wherever the URL is shown, and taken out of
//! both before the URL goes on a command line, which every user of the
//! machine can read with ps.

use url::Url;

/// Query keys that hold a password.
const SECRET_KEYS: [&str; 2] = ["password", "passwd"];

fn is_secret(key: &str) -> bool {
    SECRET_KEYS.iter().any(|k| k.eq_ignore_ascii_case(key))
}

/// The URL with every password replaced by `***`, for messages.
pub fn masked(url: &str) -> String {
    let Ok(mut u) = Url::parse(url) else {
        return "<unparseable URL>".into();
    };
    if u.password().is_some() {
        let _ = u.set_password(Some("***"));
    }
    let pairs: Vec<(String, String)> = u
        .query_pairs()
        .map(|(k, v)| {
            let v = if is_secret(&k) {
                "***".into()
            } else {
                v.into_owned()
            };
            (k.into_owned(), v)
        })
        .collect();
    if !pairs.is_empty() {
        u.query_pairs_mut().clear().extend_pairs(pairs);
    }
    u.to_string()
}

/// The URL without its password, and the password (decoded), from the query
/// string if it is there (it overrides the user part for libpq), else from
/// the user part.
pub fn split_password(url: &Url) -> (Url, Option<String>) {
    let mut u = url.clone();
    let from_user = u.password().map(|p| {
        percent_encoding::percent_decode_str(p)
            .decode_utf8_lossy()
            .into_owned()
    });
    let _ = u.set_password(None);
    let mut from_query = None;
    let kept: Vec<(String, String)> = u
        .query_pairs()
        .filter_map(|(k, v)| {
            if is_secret(&k) {
                from_query = Some(v.into_owned());
                None
            } else {
                Some((k.into_owned(), v.into_owned()))
            }
        })
        .collect();
    if kept.is_empty() {
        u.set_query(None);
    } else {
        u.query_pairs_mut().clear().extend_pairs(kept);
    }
    (u, from_query.or(from_user))
}

/// A MariaDB or MySQL URL without a password gets the one in `MYSQL_PWD`
/// (read through `env`), which the MariaDB clients read too; the URL stays
/// inside this process (its connections, then `mariadb-dump`'s environment).
pub fn with_password_from(url: &str, env: impl Fn(&str) -> Option<String>) -> String {
    let Ok(mut u) = Url::parse(url) else {
        return url.to_string();
    };
    let has_password = u.password().is_some() || u.query_pairs().any(|(k, _)| is_secret(&k));
    match env("MYSQL_PWD").filter(|p| !p.is_empty()) {
        Some(p) if !has_password && !u.username().is_empty() => {
            let encoded: String =
                percent_encoding::utf8_percent_encode(&p, percent_encoding::NON_ALPHANUMERIC)
                    .to_string();
            match u.set_password(Some(&encoded)) {
                Ok(()) => u.to_string(),
                Err(()) => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_is_masked_in_the_user_part_and_the_query_string() {
        assert_eq!(
            masked("postgres://clinic:s3cret@db.example:5432/practice"),
            "postgres://clinic:***@db.example:5432/practice"
        );
        let shown = masked(
            "postgres://clinic@db.example/practice?sslmode=require&password=s3cret&PassWD=x2",
        );
        assert!(
            !shown.contains("s3cret") && !shown.contains("x2"),
            "{shown}"
        );
        assert!(
            shown.contains("sslmode=require") && shown.contains("password=***"),
            "{shown}"
        );
        assert_eq!(masked("not a url"), "<unparseable URL>");
    }

    #[test]
    fn mysql_pwd_fills_a_mariadb_url_without_a_password_only() {
        let env = |v: &str| (v == "MYSQL_PWD").then(|| "p@ss w:rd".to_string());
        let filled = with_password_from("mariadb://clinic@db:3306/practice", env);
        let (_, pw) = split_password(&Url::parse(&filled).expect("url"));
        assert_eq!(pw.as_deref(), Some("p@ss w:rd"), "{filled}");
        assert!(
            masked(&filled).contains("clinic:***@db"),
            "{}",
            masked(&filled)
        );
        let given = "mariadb://clinic:own@db/practice";
        assert_eq!(with_password_from(given, env), given);
        assert_eq!(
            with_password_from("mariadb://clinic@db/p", |_| None),
            "mariadb://clinic@db/p"
        );
    }

    #[test]
    fn the_password_is_taken_out_of_what_goes_on_a_command_line() {
        let u = Url::parse("postgres://clinic:user%20pw@h/db?password=q%26pw&sslmode=require")
            .expect("url");
        let (bare, pw) = split_password(&u);
        assert_eq!(bare.as_str(), "postgres://clinic@h/db?sslmode=require");
        assert_eq!(pw.as_deref(), Some("q&pw"));
        let u = Url::parse("postgres://clinic:user%20pw@h/db").expect("url");
        let (bare, pw) = split_password(&u);
        assert_eq!(
            (bare.as_str(), pw.as_deref()),
            ("postgres://clinic@h/db", Some("user pw"))
        );
    }
}
