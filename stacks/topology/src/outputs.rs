//! The stack outputs the deployer and the command line read: where to upload, where to push,
//! what to print.

use std::fmt;

/// An output of one of the platform's stacks that something besides CloudFormation reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum StackOutput {
    /// The API's public endpoint (api stack).
    ApiUrl,
    /// The dashboard's address (frontend stack).
    SiteUrl,
    /// The Cognito user pool (auth stack).
    UserPoolId,
    /// The dashboard's app client (auth stack).
    DashboardClientId,
    /// The host of the hosted sign-in pages (auth stack).
    HostedUiDomain,
    /// Where the deployer uploads the Lambda zips (bootstrap stack).
    AssetBucketName,
    /// Where the deployer pushes the API image (bootstrap stack).
    ApiRepositoryUri,
    /// Where the dashboard build is uploaded (frontend stack).
    SiteBucketName,
}

impl StackOutput {
    /// Every output, in the order `cargo xtask deploy` prints them.
    pub const ALL: [StackOutput; 8] = [
        StackOutput::ApiUrl,
        StackOutput::SiteUrl,
        StackOutput::UserPoolId,
        StackOutput::DashboardClientId,
        StackOutput::HostedUiDomain,
        StackOutput::AssetBucketName,
        StackOutput::ApiRepositoryUri,
        StackOutput::SiteBucketName,
    ];

    /// The output's name in its template's `Outputs`.
    pub const fn name(self) -> &'static str {
        match self {
            Self::ApiUrl => "ApiUrl",
            Self::SiteUrl => "SiteUrl",
            Self::UserPoolId => "UserPoolId",
            Self::DashboardClientId => "DashboardClientId",
            Self::HostedUiDomain => "HostedUiDomain",
            Self::AssetBucketName => "AssetBucketName",
            Self::ApiRepositoryUri => "ApiRepositoryUri",
            Self::SiteBucketName => "SiteBucketName",
        }
    }
}

impl fmt::Display for StackOutput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
