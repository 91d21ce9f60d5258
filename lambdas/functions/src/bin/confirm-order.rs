//! Lambda: the ConfirmOrder saga step.
fn main() -> Result<(), lambda_runtime::Error> {
    eventforge_functions::run(eventforge_topology::Function::ConfirmOrder)
}
