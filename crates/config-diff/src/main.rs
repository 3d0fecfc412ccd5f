fn main() -> std::process::ExitCode {
    config_diff::run()
}
