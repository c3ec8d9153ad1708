//! What an install ships beside the binary: shell completions and man pages.
//! Both are made from the clap definition the parser uses, so neither can
//! drift from the flags; `scripts/package` writes them for the Debian package.

use super::{exit, Cli, Output};
use crate::catalog::atomic::{create_dir, DirMode};
use crate::error::{Error, Result};
use clap::{Arg, CommandFactory};
use clap_mangen::roff::{bold, italic, roman, Inline, Roff};
use clap_mangen::Man;
use std::path::{Path, PathBuf};

const BIN: &str = "restore-drill";

/// The completion script for `shell`, as the shell's loader expects it.
pub fn completions(shell: clap_complete::Shell) -> Output {
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), BIN, &mut script);
    let script = String::from_utf8_lossy(&script).into_owned();
    Output::new(
        // `main` ends the text with its own newline.
        script.trim_end().to_string(),
        serde_json::json!({"shell": shell.to_string(), "script": script}),
    )
}

/// Writes `restore-drill.1`, which holds every command and flag, and one page
/// per command (`restore-drill-run.1`, `restore-drill-keys-generate.1` ...),
/// the pages the first one's COMMANDS section refers to.
pub fn manpages(out: &Path) -> Result<Output> {
    create_dir(out, DirMode::Shared, "man page directory", "--out")?;
    // Built once: that gives every subcommand its full name (`restore-drill-run`).
    let mut cmd = Cli::command().disable_help_subcommand(true);
    cmd.build();
    let mut written = vec![write_page(out, &format!("{BIN}.1"), |w| {
        root_page(&cmd, w)
    })?];
    for sub in visible(&cmd) {
        command_pages(sub, out, &mut written)?;
    }
    let text = written
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join("\n");
    Ok(Output::new(text, serde_json::json!({ "pages": written })))
}

fn command_pages(cmd: &clap::Command, out: &Path, written: &mut Vec<PathBuf>) -> Result<()> {
    for sub in visible(cmd) {
        command_pages(sub, out, written)?;
    }
    let man = Man::new(cmd.clone());
    written.push(write_page(out, &man.get_filename(), |w| man.render(w))?);
    Ok(())
}

fn write_page(
    out: &Path,
    name: &str,
    render: impl FnOnce(&mut Vec<u8>) -> std::io::Result<()>,
) -> Result<PathBuf> {
    let path = out.join(name);
    let mut page = Vec::new();
    render(&mut page).map_err(|e| Error::Failed(format!("cannot render {name}: {e}")))?;
    std::fs::write(&path, page).map_err(|e| Error::io("write the man page", &path, e))?;
    Ok(path)
}

fn visible(cmd: &clap::Command) -> impl Iterator<Item = &clap::Command> {
    cmd.get_subcommands().filter(|s| !s.is_hide_set())
}

/// clap_mangen's page for the top command (description, global options, the
/// list of commands), then every command with its flags, exit status and
/// files: `man restore-drill` alone answers how to call anything.
fn root_page(cmd: &clap::Command, w: &mut Vec<u8>) -> std::io::Result<()> {
    let man = Man::new(cmd.clone());
    man.render_title(w)?;
    man.render_name_section(w)?;
    man.render_synopsis_section(w)?;
    man.render_description_section(w)?;
    man.render_options_section(w)?;
    man.render_subcommands_section(w)?;
    let mut roff = Roff::new();
    roff.control("SH", ["COMMANDS AND THEIR FLAGS"]);
    for sub in visible(cmd) {
        command_section(&mut roff, sub, BIN);
    }
    exit_status_section(&mut roff);
    files_section(&mut roff);
    roff.to_writer(w)?;
    man.render_version_section(w)
}

/// `restore-drill keys generate`: its synopsis, what it does, its flags;
/// then its own subcommands.
fn command_section(roff: &mut Roff, cmd: &clap::Command, parent: &str) {
    let name = format!("{parent} {}", cmd.get_name());
    roff.control("SS", [name.as_str()]);
    if let Some(about) = cmd.get_about() {
        roff.text([roman(about.to_string())]);
    }
    let args: Vec<&Arg> = cmd
        .get_arguments()
        // --json and --quiet are said once, under OPTIONS.
        .filter(|a| !a.is_hide_set() && !a.is_global_set())
        .filter(|a| !matches!(a.get_id().as_str(), "help" | "version"))
        .collect();
    for arg in args {
        roff.control("TP", []);
        roff.text(arg_label(arg));
        roff.text([roman(arg_help(arg))]);
    }
    for sub in visible(cmd) {
        command_section(roff, sub, &name);
    }
}

/// `\fB\-\-out\fR \fIOUT\fR`, `-q, --quiet`, or `\fISCENARIO\fR` for a positional.
fn arg_label(arg: &Arg) -> Vec<Inline> {
    let values: Vec<String> = arg
        .get_value_names()
        .map(|v| v.iter().map(|n| n.to_string()).collect())
        .unwrap_or_else(|| vec![arg.get_id().as_str().to_uppercase()]);
    if arg.is_positional() {
        return vec![italic(values.join(" "))];
    }
    let mut label = Vec::new();
    if let Some(s) = arg.get_short() {
        label.push(bold(format!("-{s}")));
        label.push(roman(", "));
    }
    if let Some(l) = arg.get_long() {
        label.push(bold(format!("--{l}")));
    }
    if arg.get_num_args().is_some_and(|n| n.takes_values()) {
        label.push(roman(" "));
        label.push(italic(values.join(" ")));
    }
    label
}

fn arg_help(arg: &Arg) -> String {
    let mut help = arg.get_help().map(|h| h.to_string()).unwrap_or_default();
    let possible: Vec<String> = arg
        .get_possible_values()
        .iter()
        .filter(|v| !v.is_hide_set())
        .map(|v| v.get_name().to_string())
        .collect();
    if !possible.is_empty() {
        help.push_str(&format!(" [possible values: {}]", possible.join(", ")));
    }
    // A switch's default (false) says nothing.
    let takes_values = arg.get_num_args().is_some_and(|n| n.takes_values());
    let defaults: Vec<String> = arg
        .get_default_values()
        .iter()
        .map(|v| v.to_string_lossy().into_owned())
        .collect();
    if takes_values && !defaults.is_empty() {
        help.push_str(&format!(" [default: {}]", defaults.join(", ")));
    }
    if let Some(env) = arg.get_env() {
        help.push_str(&format!(" [env: {}]", env.to_string_lossy()));
    }
    if arg.is_required_set() && !arg.is_positional() {
        help.push_str(" [required]");
    }
    help.trim().to_string()
}

fn exit_status_section(roff: &mut Roff) {
    roff.control("SH", ["EXIT STATUS"]);
    for (code, meaning) in [
        (exit::OK, "success; for run: the drill passed, or a comparison found its targets compatible"),
        (exit::FAILED, "the work ran and failed: a check failed, an objective was missed, a failure scenario's outcome was not the expected one, a comparison found differences, a broken history chain"),
        (exit::USAGE, "invalid usage or scenario: nothing was started"),
        (exit::ENVIRONMENT, "environment not ready: Docker, images, mmdebstrap, unsafe key file, a folder that cannot be made or written, disk full, the drill history"),
        (exit::UNRECOVERABLE, "no recoverable backup, or a comparison target the backup does not restore into"),
    ] {
        roff.control("TP", []);
        roff.text([bold(code.to_string())]);
        roff.text([roman(meaning)]);
    }
}

/// Where the Debian package puts what a contractor starts from.
fn files_section(roff: &mut Roff) {
    roff.control("SH", ["FILES"]);
    for (path, what) in [
        (
            "/usr/share/restore-drill/scenarios/",
            "the shipped scenarios: copy one and edit it",
        ),
        (
            "/usr/share/restore-drill/fixtures/",
            "the synthetic clinic's schema, generator and business rules",
        ),
        (
            "/usr/share/doc/restore-drill/examples/site.toml",
            "an example site file",
        ),
        (
            "/var/lib/restore-drill/history.sqlite",
            "the drill history when run as root (else under $XDG_STATE_HOME/restore-drill/)",
        ),
        (
            "/var/lib/restore-drill/reports/",
            "the drill reports when run as root, unless --report-dir or the scenario's [report] dir says otherwise (else under $XDG_STATE_HOME/restore-drill/)",
        ),
    ] {
        roff.control("TP", []);
        roff.text([italic(path)]);
        roff.text([roman(what)]);
    }
}
