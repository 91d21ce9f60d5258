//! Where AWS calls go: the flags every command that talks to AWS takes (`deploy` and its
//! siblings, `catalogue` against a deployed table), and the SDK configuration they describe.

use anyhow::{Context, Result, bail};
use aws_config::{Region, SdkConfig};
use aws_credential_types::Credentials;
use clap::Args;
use eventforge_aws_https::TrustAnchors;

/// Global, so a command with subcommands (`catalogue`) takes them after the subcommand too.
#[derive(Args, Clone, Debug, Default)]
pub struct AwsArgs {
    /// AWS region [default: from AWS_REGION or the profile; us-east-1 with --endpoint-url].
    #[arg(long, global = true, value_name = "REGION")]
    pub region: Option<String>,
    /// Named profile from ~/.aws/config, SSO profiles included [default: the standard chain:
    /// environment variables, AWS_PROFILE, the default profile, instance or container roles].
    #[arg(long, global = true, value_name = "NAME")]
    pub profile: Option<String>,
    /// Send every AWS call to this endpoint, e.g. http://127.0.0.1:5000 for moto_server.
    #[arg(long, global = true, value_name = "URL")]
    pub endpoint_url: Option<String>,
}

impl AwsArgs {
    /// The SDK configuration the flags describe; an error when no region can be found.
    pub async fn sdk_config(&self) -> Result<SdkConfig> {
        // The operator's machine: the system's store, which knows a company proxy's CA.
        let mut loader = eventforge_aws_https::config_loader(TrustAnchors::System)
            .context("cannot set up the HTTPS client for AWS")?;
        if let Some(profile) = &self.profile {
            loader = loader.profile_name(profile);
        }
        if let Some(region) = &self.region {
            loader = loader.region(Region::new(region.clone()));
        }
        if let Some(endpoint) = &self.endpoint_url {
            loader = loader.endpoint_url(endpoint);
            if self.region.is_none() && std::env::var_os("AWS_REGION").is_none() {
                loader = loader.region(Region::new("us-east-1"));
            }
            let has_credentials =
                self.profile.is_some() || std::env::var_os("AWS_ACCESS_KEY_ID").is_some();
            if !has_credentials {
                // Emulators accept any credentials; do not make people invent some.
                loader = loader.credentials_provider(Credentials::new(
                    "testing", "testing", None, None, "emulator",
                ));
            }
        }
        let sdk = loader.load().await;
        if sdk.region().is_none() {
            bail!("no AWS region: pass --region, set AWS_REGION, or give the profile a region");
        }
        Ok(sdk)
    }
}
