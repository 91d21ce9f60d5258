//! The deployer's one error type; the CLI maps it to messages and exit codes.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    /// A call to an AWS (or emulator) API failed before CloudFormation did anything.
    #[error("{operation} failed: {message}")]
    Api { operation: String, message: String },
    #[error("{path} is not a synthesised assembly: {reason}; run `cargo xtask synth` again")]
    NotAnAssembly { path: PathBuf, reason: String },
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// CloudFormation rejected or rolled back a stack. `resource` and `reason` come from the
    /// first failing resource event, which is the cause; later failures are mostly cancellations.
    #[error("stack {stack} failed ({status}): {resource}: {reason}")]
    StackFailed {
        stack: String,
        status: String,
        resource: String,
        reason: String,
    },
    /// The stack is in a state CloudFormation will not deploy over until someone acts.
    #[error("stack {stack} is {status}: {explanation}; clear it with `{remedy}`")]
    Stuck {
        stack: String,
        status: String,
        explanation: String,
        remedy: String,
    },
    #[error(
        "{stage} is being deployed by {holder}. Wait for it to finish and run the command again; \
         if that deployer is gone for good, its lock goes stale {lease_seconds} s after its last \
         renewal and the next run takes it over"
    )]
    Locked {
        stage: String,
        holder: String,
        lease_seconds: u64,
    },
    #[error("a stack depends on {missing}, which is neither being deployed nor deployed already")]
    MissingDependency { missing: String },
    #[error(
        "no asset given for {0}; build it first (the Lambda zips come from `cargo lambda build`)"
    )]
    MissingAsset(String),
    #[error("the bootstrap stack {stack} has no output {output}")]
    MissingBootstrapOutput { stack: String, output: String },
    #[error("unknown stack {0}")]
    UnknownStack(String),
    #[error("container registry: {0}")]
    Registry(String),
    /// `docker <command>` failed (the `--docker` image path); `message` is its own output.
    #[error("`docker {command}` failed: {message}")]
    Docker { command: String, message: String },
    #[error("{0} stacks failed")]
    Several(usize),
}

impl DeployError {
    /// A failed call of `operation`, with the failure's own message.
    pub fn api(operation: &str, error: impl std::fmt::Display) -> Self {
        Self::Api {
            operation: operation.to_owned(),
            message: error.to_string(),
        }
    }

    /// A service error's own message, without the SDK's generic wrapper text.
    pub fn sdk<E, R>(operation: &str, error: aws_sdk_cloudformation::error::SdkError<E, R>) -> Self
    where
        E: aws_sdk_cloudformation::error::ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        Self::Api {
            operation: operation.to_owned(),
            message: sdk_message(&error),
        }
    }
}

/// The most specific message an SDK error carries: the service's own message when there is one,
/// else the whole source chain (connection refused, timeouts, ...).
pub(crate) fn sdk_message<E, R>(error: &aws_sdk_cloudformation::error::SdkError<E, R>) -> String
where
    E: aws_sdk_cloudformation::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    use aws_sdk_cloudformation::error::ProvideErrorMetadata;
    if let Some(message) = error.message() {
        return match error.code() {
            Some(code) => format!("{code}: {message}"),
            None => message.to_owned(),
        };
    }
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
