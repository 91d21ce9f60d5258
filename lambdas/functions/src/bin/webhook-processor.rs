//! Lambda: the webhook queue's processor.
fn main() -> Result<(), lambda_runtime::Error> {
    eventforge_functions::run(eventforge_topology::Function::WebhookProcessor)
}
