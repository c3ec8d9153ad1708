//! Every argument of every command says what it is for: a flag without help
//! shows a bare `--out <OUT>` in `--help` and in the man pages, and the
//! contractor is left to guess.

use clap::{ArgAction, CommandFactory};

/// `command path: argument id` for each argument without help, in `cmd` and
/// every subcommand below it. clap's own `--help` and `--version` are left
/// out: they are not ours to word.
fn without_help(cmd: &clap::Command, path: &str, out: &mut Vec<String>) {
    for arg in cmd.get_arguments() {
        let generated = matches!(
            arg.get_action(),
            ArgAction::Help | ArgAction::HelpShort | ArgAction::HelpLong | ArgAction::Version
        );
        if !generated && arg.get_help().is_none() && arg.get_long_help().is_none() {
            out.push(format!("{path}: {}", arg.get_id()));
        }
    }
    for sub in cmd.get_subcommands() {
        without_help(sub, &format!("{path} {}", sub.get_name()), out);
    }
}

#[test]
fn every_argument_of_every_command_has_help() {
    let cli = super::Cli::command();
    let mut missing = Vec::new();
    without_help(&cli, cli.get_name(), &mut missing);
    assert!(
        missing.is_empty(),
        "{} arguments without help (a /// comment on the field):\n  {}",
        missing.len(),
        missing.join("\n  ")
    );
}

#[test]
fn the_walk_finds_an_argument_without_help() {
    // The test above can only fail if the walk sees such an argument.
    let bare = clap::Command::new("t").subcommand(
        clap::Command::new("sub")
            .arg(clap::Arg::new("out").long("out"))
            .arg(clap::Arg::new("said").long("said").help("has help")),
    );
    let mut missing = Vec::new();
    without_help(&bare, "t", &mut missing);
    assert_eq!(missing, ["t sub: out"]);
}
