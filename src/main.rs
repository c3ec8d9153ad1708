fn main() -> std::process::ExitCode {
    restore_drill::cli::main()
}
