//! Lambda: the ReleaseInventory saga step.
#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    eventforge_functions::run_saga_step(eventforge_handlers::saga::Step::ReleaseInventory).await
}
