//! Lambda: the receipt queue's processor.
#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    eventforge_functions::run_receipt_processor().await
}
