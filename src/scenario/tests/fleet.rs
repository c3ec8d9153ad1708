//! Fleet files: what a valid one becomes, and each refusal at its line.

use super::super::fleet::{parse_fleet, EngineHost, Fleet};
use std::path::Path;

/// The shipped monthly drill, by absolute path: a site's scenario is read.
fn scenario() -> String {
    format!(
        "{}/scenarios/monthly-drill.toml",
        env!("CARGO_MANIFEST_DIR")
    )
}

/// A fleet of one engine (lines 1-7) and one site (lines 9-13), then `rest`.
fn fleet_with(rest: &str) -> String {
    format!(
        "name = \"Northside IT\"\nmax_parallel = 3\n\n[[engine]]\nname = \"local\"\nhost = \"unix:///var/run/docker.sock\"\nsandboxes = 2\nmemory_gb = 8\nlabels = {{ region = \"east\" }}\n\n[[site]]\nname = \"Eastside Optometry\"\nscenario = \"{}\"\nbackups = \"backups/eastside\"\n{rest}",
        scenario()
    )
}

fn parsed(text: &str) -> Fleet {
    parse_fleet(Path::new("/srv/fleet/fleet.toml"), text).expect("a valid fleet")
}

fn refused(text: &str) -> String {
    match parse_fleet(Path::new("/srv/fleet/fleet.toml"), text) {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn a_fleet_becomes_engines_and_site_plans() {
    let f = parsed(&fleet_with(
        "cadence_days = 7\nrequire = { region = \"east\" }\n",
    ));
    assert_eq!(f.max_parallel, 3);
    assert_eq!(
        f.engines[0].host,
        EngineHost::Unix("/var/run/docker.sock".into())
    );
    assert_eq!(f.engines[0].memory_bytes, 8 << 30);
    let site = &f.sites[0];
    assert_eq!(site.cadence_days, 7);
    assert_eq!(site.plan.site.as_deref(), Some("Eastside Optometry"));
    // Relative to the fleet file, not to where the command runs.
    assert_eq!(
        site.plan.backups.location.as_ref().and_then(|l| l.folder()),
        Some(Path::new("/srv/fleet/backups/eastside"))
    );
    assert_eq!(site.origin, "/srv/fleet/fleet.toml:11");
}

#[test]
fn a_misspelt_site_key_is_located_with_a_suggestion() {
    let m = refused(&fleet_with("cadense_days = 7\n"));
    assert!(m.starts_with("/srv/fleet/fleet.toml:15:1:"), "{m}");
    assert!(m.contains("did you mean `cadence_days`?"), "{m}");
}

#[test]
fn a_site_no_engine_can_take_is_refused_at_the_site() {
    let m = refused(&fleet_with("require = { region = \"west\" }\n"));
    assert!(m.starts_with("/srv/fleet/fleet.toml:"), "{m}");
    assert!(
        m.contains("no engine can run site \"Eastside Optometry\""),
        "{m}"
    );
    assert!(m.contains("region = \"west\""), "{m}");
}

#[test]
fn a_tcp_engine_without_tls_is_refused() {
    let text = fleet_with("").replace("unix:///var/run/docker.sock", "tcp://10.0.0.5:2375");
    let m = refused(&text);
    assert!(m.starts_with("/srv/fleet/fleet.toml:6:8:"), "{m}");
    assert!(m.contains("needs tls_ca, tls_cert and tls_key"), "{m}");
}

#[test]
fn an_ssh_engine_is_taken_without_a_port() {
    let text = fleet_with("").replace("unix:///var/run/docker.sock", "ssh://drill@engine-2");
    let f = parsed(&text);
    assert_eq!(f.engines[0].host, EngineHost::Ssh("drill@engine-2".into()));
}

/// The ssh client bollard drives would take `HOST:PORT` for a host name.
#[test]
fn an_ssh_engine_with_a_port_is_refused_with_where_the_port_goes() {
    let text = fleet_with("").replace("unix:///var/run/docker.sock", "ssh://drill@10.0.0.5:2222");
    let m = refused(&text);
    assert!(m.starts_with("/srv/fleet/fleet.toml:6:8:"), "{m}");
    assert!(m.contains("an ssh:// engine takes no port"), "{m}");
    assert!(
        m.contains("Host 10.0.0.5, Port 2222) and write ssh://USER@10.0.0.5"),
        "{m}"
    );
}

#[test]
fn an_engine_address_of_another_kind_suggests_the_nearest() {
    let text = fleet_with("").replace("unix:///var/run/docker.sock", "unx:///var/run/docker.sock");
    let m = refused(&text);
    assert!(m.contains("did you mean `unix`?"), "{m}");
}

#[test]
fn two_sites_of_one_name_are_refused_at_the_second() {
    let second = format!(
        "\n[[site]]\nname = \"Eastside Optometry\"\nscenario = \"{}\"\nbackups = \"b\"\n",
        scenario()
    );
    let m = refused(&fleet_with(&second));
    assert!(m.starts_with("/srv/fleet/fleet.toml:17:8:"), "{m}");
    assert!(m.contains("a second site named"), "{m}");
}

#[test]
fn a_missing_scenario_is_named_at_the_site() {
    let text = fleet_with("").replace(&scenario(), "nowhere.toml");
    let m = refused(&text);
    assert!(m.starts_with("/srv/fleet/fleet.toml:13:12:"), "{m}");
    assert!(
        m.contains("cannot read the scenario /srv/fleet/nowhere.toml"),
        "{m}"
    );
}

#[test]
fn zero_places_or_no_engine_is_refused() {
    let m = refused(&fleet_with("").replace("sandboxes = 2", "sandboxes = 0"));
    assert!(m.contains(":7:13: `sandboxes` is 0"), "{m}");
    let none = "name = \"x\"\n";
    assert!(refused(none).contains("no [[engine]]"));
}
