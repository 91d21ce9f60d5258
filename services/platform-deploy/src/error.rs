//! What can go wrong publishing the dashboard; the CLI prints it.

use std::path::PathBuf;

use eventforge_deployer::DeployError;

#[derive(Debug, thiserror::Error)]
pub enum SiteError {
    /// A call to CloudFormation, S3 or CloudFront failed (worded as the deployer words it).
    #[error(transparent)]
    Deploy(#[from] DeployError),
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
