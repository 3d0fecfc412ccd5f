fn main() -> std::process::ExitCode {
    migrate_ledger::run()
}
