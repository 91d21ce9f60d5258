//! What can go wrong publishing the dashboard; the CLI prints it.

use std::path::PathBuf;

use eventforge_deployer::DeployError;
use eventforge_deployer::error::sdk_message;

#[derive(Debug, thiserror::Error)]
pub enum SiteError {
    /// Reading the deployed stacks failed.
    #[error(transparent)]
    Deploy(#[from] DeployError),
    /// A call to S3 or CloudFront failed.
    #[error("{operation} failed: {message}")]
    Api { operation: String, message: String },
    #[error("stack {stack} has no output {output}; is it deployed?")]
    MissingOutput { stack: String, output: String },
    #[error("stack {stack} has no deployed resource {logical_id}")]
    MissingResource { stack: String, logical_id: String },
    #[error(
        "{} is not a dashboard build: it has no index.html (`npm run build` in frontend/ makes one)",
        .0.display()
    )]
    NotASiteBuild(PathBuf),
    #[error("no AWS region configured; the dashboard's configuration names the user pool's region")]
    NoRegion,
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl SiteError {
    pub(crate) fn api(operation: &str, error: impl std::fmt::Display) -> Self {
        Self::Api {
            operation: operation.to_owned(),
            message: error.to_string(),
        }
    }

    /// A service error's own message, as the deployer words it.
    pub(crate) fn sdk<E, R>(
        operation: &str,
        error: aws_sdk_cloudformation::error::SdkError<E, R>,
    ) -> Self
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
