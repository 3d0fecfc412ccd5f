fn main() -> std::process::ExitCode {
    secrets_sync::run()
}
