fn main() -> std::process::ExitCode {
    pipeaudit::cli::main()
}
