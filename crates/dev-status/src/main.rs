fn main() -> std::process::ExitCode {
    dev_status::run()
}
