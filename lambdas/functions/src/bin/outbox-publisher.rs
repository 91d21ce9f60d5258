//! Lambda: the outbox publisher (table stream to bus).
fn main() -> Result<(), lambda_runtime::Error> {
    eventforge_functions::run(eventforge_topology::Function::OutboxPublisher)
}
