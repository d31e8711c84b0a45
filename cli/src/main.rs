//! `lifeboat`: see the crate's library (`lib.rs`) and the README's "The lifeboat command line".

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::process::ExitCode {
    lifeboat_cli::main().await
}
