//! Auth: the Cognito user pool, the dashboard's app client (authorization code with PKCE, no
//! secret: the dashboard is a public client) and the hosted sign-in domain.

use crate::generated::cognito;
use crate::generated::cognito::user_pool as pool;
use crate::handle::Handle;
use crate::stack::ResourceOptions;
use crate::sub;
use crate::synth::App;
use crate::value::{Pseudo, Value};

use super::{Built, Config, Stage, frontend};

/// Where the dashboard dev server runs (`npm run dev`).
const LOCAL_DASHBOARD: &str = "http://localhost:5173";

pub struct Outputs {
    pub user_pool: Handle<cognito::UserPool>,
    pub client: Handle<cognito::UserPoolClient>,
}

impl Outputs {
    /// The token issuer, `https://cognito-idp.<region>.amazonaws.com/<pool id>`.
    pub fn issuer(&self) -> Value<String> {
        sub!["https://", self.user_pool.provider_url()]
    }

    pub fn jwks_url(&self) -> Value<String> {
        sub![
            "https://",
            self.user_pool.provider_url(),
            "/.well-known/jwks.json"
        ]
    }
}

/// Users outlive a production stack; a dev pool goes with its stack.
fn user_pool_policy(stage: Stage) -> ResourceOptions {
    match stage {
        Stage::Prod => ResourceOptions::retain(),
        Stage::Dev => ResourceOptions::delete(),
    }
}

pub fn stack(app: &App, config: &Config, frontend: &frontend::Outputs) -> Built<Outputs> {
    let mut stack = app.new_stack(
        "auth",
        "EventForge auth: Cognito user pool and dashboard client",
    );
    let user_pool = stack.add_with(
        "UserPool",
        cognito::UserPool::new()
            .user_pool_name(config.prefix())
            .username_attributes(vec![Value::from("email")])
            .auto_verified_attributes(vec![Value::from("email")])
            .policies(
                pool::Policies::new().password_policy(
                    pool::PasswordPolicy::new()
                        .minimum_length(12)
                        .require_lowercase(true)
                        .require_uppercase(true)
                        .require_numbers(true)
                        .require_symbols(false),
                ),
            )
            .account_recovery_setting(pool::AccountRecoverySetting::new().recovery_mechanisms(
                vec![
                pool::RecoveryOption::new().name("verified_email").priority(1),
            ],
            ))
            .deletion_protection(match config.stage {
                Stage::Prod => "ACTIVE",
                Stage::Dev => "INACTIVE",
            }),
        user_pool_policy(config.stage),
    );
    let site = sub!["https://", frontend.distribution.domain_name()];
    let mut callbacks = vec![sub![site.clone(), "/callback"]];
    let mut logouts = vec![site];
    if config.stage == Stage::Dev {
        callbacks.push(format!("{LOCAL_DASHBOARD}/callback").into());
        logouts.push(LOCAL_DASHBOARD.into());
    }
    let client = stack.add(
        "DashboardClient",
        cognito::UserPoolClient::new(user_pool.reference())
            .client_name("dashboard")
            .generate_secret(false)
            .allowed_oauth_flows_user_pool_client(true)
            .allowed_oauth_flows(vec![Value::from("code")])
            .allowed_oauth_scopes(vec![
                Value::from("openid"),
                Value::from("email"),
                Value::from("profile"),
            ])
            .callback_urls(callbacks)
            .logout_urls(logouts)
            .supported_identity_providers(vec![Value::from("COGNITO")])
            .explicit_auth_flows(vec![
                Value::from("ALLOW_USER_SRP_AUTH"),
                Value::from("ALLOW_REFRESH_TOKEN_AUTH"),
            ])
            .prevent_user_existence_errors("ENABLED")
            .enable_token_revocation(true),
    );
    // Hosted UI prefixes are global: the account id makes this one unique per account.
    let domain_prefix = sub![config.prefix(), "-", Pseudo::AccountId.value()];
    stack.add(
        "UserPoolDomain",
        cognito::UserPoolDomain::new(domain_prefix.clone(), user_pool.reference()),
    );
    stack.output(
        "HostedUiDomain",
        "Host of the Cognito hosted sign-in pages the dashboard redirects to",
        sub![
            domain_prefix,
            ".auth.",
            Pseudo::Region.value(),
            ".amazoncognito.com"
        ],
    );
    stack.output("UserPoolId", "The user pool", user_pool.reference());
    stack.output(
        "DashboardClientId",
        "The dashboard's app client",
        client.reference(),
    );
    Built {
        stack,
        outputs: Outputs { user_pool, client },
    }
}
