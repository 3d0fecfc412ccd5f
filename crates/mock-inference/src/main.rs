fn main() -> std::process::ExitCode {
    mock_inference::run()
}
