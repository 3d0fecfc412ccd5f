fn main() -> std::process::ExitCode {
    devenv::run()
}
