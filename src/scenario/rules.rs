//! The business rules file (`invariants = "clinic"` or a path): `-- check:`
//! headers naming the rules each query decides, and the planner switches a
//! rule may ask for. Pure, and read when the scenario is loaded, so that a
//! mistake in it is reported before anything is restored.

/// `-- check: NAME` lines split an invariants file into named queries.
pub fn parse_invariants(text: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        if let Some(name) = line.trim().strip_prefix("-- check:") {
            out.push((name.trim().to_string(), String::new()));
        } else if let Some((_, q)) = out.last_mut() {
            q.push_str(line);
            q.push('\n');
        }
    }
    out.retain(|(_, q)| {
        q.lines()
            .any(|l| !l.trim().is_empty() && !l.trim().starts_with("--"))
    });
    out
}

/// `-- check: a, b`: the names of the rules one query decides.
pub fn rule_names(header: &str) -> Vec<String> {
    header
        .split(',')
        .map(|n| n.trim().to_string())
        .filter(|n| !n.is_empty())
        .collect()
}

/// A planner method a rule turns on or off for its own query (`SET LOCAL
/// enable_hashjoin = off;` before it): only PostgreSQL's `enable_*`
/// switches, which change how a query runs and never what it returns. After
/// a restore each table lies in the order it was written, a child's rows
/// with their parent's, and PostgreSQL has no statistics to see it: a rule
/// that joins on a key can ask for a merge join along both keys' indexes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanSwitch {
    pub name: String,
    pub on: bool,
}

impl PlanSwitch {
    pub(crate) fn sql(&self) -> String {
        format!(
            "SET LOCAL {} = {}",
            self.name,
            if self.on { "on" } else { "off" }
        )
    }
}

/// Pure: a rule's leading `SET LOCAL enable_… = on|off;` lines (comments and
/// blank lines around them skipped), and its query after them.
pub fn plan_switches(text: &str) -> std::result::Result<(Vec<PlanSwitch>, String), String> {
    let mut switches = Vec::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.peek().map(|l| l.trim()) {
        let head = line.get(..10).unwrap_or_default();
        if head.eq_ignore_ascii_case("SET LOCAL ") {
            switches.push(plan_switch(line)?);
        } else if !(line.is_empty() || line.starts_with("--")) {
            break;
        }
        lines.next();
    }
    Ok((switches, lines.collect::<Vec<_>>().join("\n")))
}

fn plan_switch(line: &str) -> std::result::Result<PlanSwitch, String> {
    let refuse = || {
        format!(
            "{line:?}: a rule may only switch one of PostgreSQL's planner methods, \
             one per line: SET LOCAL enable_hashjoin = off;"
        )
    };
    let body = line[10..].trim_end().strip_suffix(';').ok_or_else(refuse)?;
    let (name, value) = body.split_once('=').ok_or_else(refuse)?;
    let name = name.trim().to_ascii_lowercase();
    let named = name.len() > 7
        && name.starts_with("enable_")
        && name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_');
    let on = match value.trim().to_ascii_lowercase().as_str() {
        "on" | "true" => true,
        "off" | "false" => false,
        _ => return Err(refuse()),
    };
    match named {
        true => Ok(PlanSwitch { name, on }),
        false => Err(refuse()),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a test that cannot unwrap has failed
mod tests {
    use super::*;

    #[test]
    fn a_rule_may_switch_planner_methods_for_its_own_query() {
        let text = "-- why\nSET LOCAL enable_hashjoin = off;\nset local ENABLE_HASHAGG=FALSE;\n\
                    SELECT count(*)\nFROM t;\n";
        let (set, query) = plan_switches(text).unwrap();
        let off = |n: &str| PlanSwitch {
            name: n.into(),
            on: false,
        };
        assert_eq!(set, vec![off("enable_hashjoin"), off("enable_hashagg")]);
        assert_eq!(query, "SELECT count(*)\nFROM t;");
        assert_eq!(set[0].sql(), "SET LOCAL enable_hashjoin = off");
        // A SET after the query starts is the query's own text.
        let (set, query) = plan_switches("SELECT 1;\nSET LOCAL enable_sort = off;").unwrap();
        assert!(set.is_empty(), "{set:?}");
        assert!(query.ends_with("enable_sort = off;"), "{query}");
    }

    #[test]
    fn a_rule_may_not_set_anything_but_a_planner_method() {
        for bad in [
            "SET LOCAL statement_timeout = 0;",
            "SET LOCAL role = postgres;",
            "SET LOCAL enable_hashjoin = off",
            "SET LOCAL enable_hashjoin = maybe;",
            "SET LOCAL enable_ = off;",
            "SET LOCAL enable_x; DROP TABLE t = off;",
        ] {
            let err = plan_switches(&format!("{bad}\nSELECT 1")).unwrap_err();
            assert!(err.contains(bad), "{err}");
            assert!(err.contains("SET LOCAL enable_hashjoin = off;"), "{err}");
        }
    }

    #[test]
    fn a_rules_file_setting_more_than_a_planner_method_is_refused_at_load() {
        let dir = tempfile::tempdir().unwrap();
        let rules = dir.path().join("rules.sql");
        let bad = "SET LOCAL statement_timeout = 0;";
        std::fs::write(&rules, format!("-- check: slow\n{bad}\nSELECT 0;\n")).unwrap();
        let text = format!(
            "name = \"t\"\n[backups]\nlocation = \"b\"\n[target]\nimage = \"restore-drill/postgres:15\"\n\
             [checks]\ninvariants = {:?}\n",
            rules.display().to_string()
        );
        let e = crate::scenario::parse(std::path::Path::new("x.toml"), &text).unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::Usage, "{e}");
        let m = e.to_string();
        assert!(m.starts_with("x.toml:7:14: invariants file "), "{m}");
        assert!(m.contains("rule \"slow\""), "{m}");
        assert!(m.contains(bad), "{m}");
        assert!(m.contains("SET LOCAL enable_hashjoin = off;"), "{m}");
    }
}
