//! Frontend: the dashboard's private bucket behind CloudFront with origin access control.
//!
//! The bucket admits reads from this distribution only (signed by CloudFront with SigV4); the
//! single-page app's client-side routes are served by answering S3's 403/404 with
//! `/index.html`.

use serde_json::json;

use typed_cloudformation::generated::cloudfront::distribution as cf;
use typed_cloudformation::generated::{cloudfront, s3};
use typed_cloudformation::handle::Handle;
use typed_cloudformation::stack::{Accepted, ResourceOptions};
use typed_cloudformation::sub;
use typed_cloudformation::synth::App;
use typed_cloudformation::value::Pseudo;

use super::Built;
use super::components::{AccessLogs, private_bucket};
use eventforge_topology::StackOutput;

/// AWS's managed `CachingOptimized` cache policy.
const CACHING_OPTIMIZED: &str = "658327ea-f89d-4fab-a63d-7e88639e58f6";

pub struct Outputs {
    pub bucket: Handle<s3::Bucket>,
    pub distribution: Handle<cloudfront::Distribution>,
}

/// The dashboard is a build output: git holds every version of it.
const SITE_IS_A_BUILD_OUTPUT: Accepted = Accepted {
    check: "CKV_AWS_21",
    reason: "The bucket holds the dashboard's build output, which the deployer makes match a \
             build of the deployed commit; any earlier version is rebuilt from git. Versioning \
             would keep every replaced bundle.",
};

/// The findings both distributions accept: they have no domain of their own.
pub const DISTRIBUTION_WITHOUT_A_DOMAIN: [Accepted; 2] = [
    Accepted {
        check: "CKV_AWS_174",
        reason: "The distribution serves on its *.cloudfront.net name with CloudFront's default \
                 certificate, for which CloudFront always uses its TLSv1 security policy and \
                 ignores MinimumProtocolVersion. A stricter policy needs a domain of our own with \
                 an ACM certificate in us-east-1; clients still negotiate TLS 1.2 or 1.3.",
    },
    Accepted {
        check: "CKV_AWS_68",
        reason: "A web ACL for CloudFront must be created in us-east-1 (a stack outside the \
                 platform's region) and costs a monthly fee per ACL and rule. The dashboard is \
                 static files; every API call but health and ingest needs a Cognito token, and \
                 ingest needs its HMAC signature. Revisit when abuse shows in the metrics.",
    },
];

pub fn stack(app: &App, access_logs: &AccessLogs) -> Built<Outputs> {
    let mut stack = app.new_stack(
        "frontend",
        "EventForge frontend: dashboard bucket and CloudFront",
    );
    let (site, no_logs) = access_logs.bucket(private_bucket(), "site");
    let bucket = stack.add_with(
        "SiteBucket",
        site,
        ResourceOptions::default()
            .accept(&no_logs)
            .accept(&[SITE_IS_A_BUILD_OUTPUT]),
    );
    let access = stack.add(
        "SiteOriginAccessControl",
        cloudfront::OriginAccessControl::new(
            cloudfront::origin_access_control::OriginAccessControlConfig::new(
                sub![Pseudo::StackName.value(), "-site"],
                "s3",
                "always",
                "sigv4",
            )
            .description("CloudFront reads the dashboard bucket"),
        ),
    );
    let spa_fallback = |code: i32| {
        cf::CustomErrorResponse::new(code)
            .response_code(200)
            .response_page_path("/index.html")
            .error_caching_min_ttl(10.0)
    };
    let (site_distribution, no_logs) = access_logs.distribution(
        cf::DistributionConfig::new(
            cf::DefaultCacheBehavior::new("site", "redirect-to-https")
                .cache_policy_id(CACHING_OPTIMIZED)
                .compress(true),
            true,
        )
        .comment("EventForge dashboard")
        .default_root_object("index.html")
        .http_version("http2and3")
        .price_class("PriceClass_100")
        .origins(vec![
            cf::Origin::new(bucket.regional_domain_name(), "site")
                .origin_access_control_id(access.id())
                // Origin access control replaces the legacy identity, which must be empty.
                .s3_origin_config(cf::S3OriginConfig::new().origin_access_identity("")),
        ])
        .custom_error_responses(vec![spa_fallback(403), spa_fallback(404)])
        .viewer_certificate(cf::ViewerCertificate::new().cloud_front_default_certificate(true)),
        "site",
    );
    let distribution = stack.add_with(
        "SiteDistribution",
        cloudfront::Distribution::new(site_distribution),
        ResourceOptions::default()
            .accept(&no_logs)
            .accept(&DISTRIBUTION_WITHOUT_A_DOMAIN),
    );
    let policy = json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "CloudFrontReadsSite",
            "Effect": "Allow",
            "Principal": { "Service": "cloudfront.amazonaws.com" },
            "Action": "s3:GetObject",
            "Resource": sub![bucket.arn(), "/*"].to_json(),
            "Condition": { "StringEquals": { "AWS:SourceArn": sub![
                "arn:", Pseudo::Partition.value(), ":cloudfront::", Pseudo::AccountId.value(),
                ":distribution/", distribution.id()
            ].to_json() } },
        }],
    });
    stack.add(
        "SiteBucketPolicy",
        s3::BucketPolicy::new(bucket.reference(), policy),
    );
    stack.output(
        StackOutput::SiteBucketName.name(),
        "Bucket the dashboard build is uploaded to",
        bucket.reference(),
    );
    stack.output(
        StackOutput::SiteUrl.name(),
        "The dashboard",
        sub!["https://", distribution.domain_name()],
    );
    Built {
        stack,
        outputs: Outputs {
            bucket,
            distribution,
        },
    }
}
