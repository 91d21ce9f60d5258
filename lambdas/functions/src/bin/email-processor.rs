//! Lambda: the email queue's processor.
#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    eventforge_functions::run_email_processor().await
}
