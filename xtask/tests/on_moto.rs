//! Specifications of the commands that talk to AWS, against moto (`--endpoint-url`):
//! - a deployed stage's table starts empty, and no order can be placed until the catalogue is
//!   loaded; `cargo xtask catalogue import` loads it into DynamoDB, and the API on the DynamoDB
//!   store then takes orders;
//! - `cargo xtask doctor` checks the account, the bootstrap stack, the toolchain and the SES
//!   identity, and names what is missing with its fix.

use std::process::{Command, Output};
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use eventforge_api::{ApiConfig, AppState, LocalReceiptLinks};
use eventforge_auth::DevIssuer;
use eventforge_store_dynamodb::DynamoStore;
use eventforge_store_dynamodb::moto::MotoServer;
use tower::ServiceExt;

#[path = "support/stand_ins.rs"]
mod stand_ins;
use stand_ins::StandIns;

const CATALOGUE: &str = "sku,name,unit_price_minor,currency,stock
LAMP-01,Desk lamp,3450,EUR,5
MUG-01,Mug,900,EUR,12
";

fn catalogue(moto: &MotoServer, table: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xtask"))
        .arg("catalogue")
        .args(args)
        .args(["--table", table, "--endpoint-url", moto.endpoint()])
        .env("RUST_BACKTRACE", "0")
        .output()
        .expect("xtask runs")
}

fn stdout(output: &Output) -> String {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_imported_catalogue_lets_the_api_on_dynamodb_take_orders() {
    let moto = MotoServer::start().unwrap_or_else(|error| panic!("{error}"));
    let client = moto.dynamodb_client();
    let table = "eventforge-dev-orders";
    eventforge_store_dynamodb::create_table(&client, table)
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("catalogue.csv");
    std::fs::write(&file, CATALOGUE).unwrap();
    let file = file.to_str().unwrap();

    // An empty table says so, and how to fill it.
    let empty = stdout(&catalogue(&moto, table, &["list"]));
    assert!(empty.contains("no products"), "{empty}");

    let first = stdout(&catalogue(&moto, table, &["import", file]));
    assert!(first.contains("2 new, 0 updated, 0 unchanged"), "{first}");
    let again = stdout(&catalogue(&moto, table, &["import", file]));
    assert!(again.contains("0 new, 0 updated, 2 unchanged"), "{again}");

    // A file with a bad row writes nothing, and names the row's line.
    let bad = dir.path().join("bad.csv");
    std::fs::write(
        &bad,
        format!("{CATALOGUE}PEN-01,Pen,-3,EUR,4\nINK-01,Ink,100,EUR,2\n"),
    )
    .unwrap();
    let refused = catalogue(&moto, table, &["import", bad.to_str().unwrap()]);
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("bad.csv:4: unit_price_minor"), "{stderr}");
    assert!(stderr.contains("nothing was written"), "{stderr}");

    let restocked = stdout(&catalogue(&moto, table, &["set-stock", "MUG-01", "30"]));
    assert!(restocked.contains("MUG-01: stock 12 -> 30"), "{restocked}");
    let listed = stdout(&catalogue(&moto, table, &["list"]));
    assert!(
        listed.contains("LAMP-01") && listed.contains("34.50 EUR"),
        "{listed}"
    );
    assert!(
        !listed.contains("INK-01"),
        "the refused file wrote nothing: {listed}"
    );
    assert!(listed.contains("2 product(s)"), "{listed}");

    // The API on that table takes an order for an imported product.
    let issuer = DevIssuer::generate("https://issuer.test".into(), "client".into()).unwrap();
    let config = ApiConfig::new(
        Arc::new(DynamoStore::new(client, table)),
        issuer.verifier(),
        Arc::new(LocalReceiptLinks::new("http://127.0.0.1:3000")),
        b"ingest-secret",
    );
    let router = eventforge_api::router(AppState::new(config));
    let token = issuer
        .mint_access_token("sam", std::time::Duration::from_secs(600))
        .unwrap();
    let response = router
        .oneshot(
            Request::post("/api/orders")
                .header(header::AUTHORIZATION, format!("Bearer {token}"))
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(
                    r#"{"items": [{"sku": "LAMP-01", "quantity": 2}]}"#,
                ))
                .unwrap(),
        )
        .await
        .unwrap();
    let status = response.status();
    let body = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    assert_eq!(
        status,
        StatusCode::CREATED,
        "{}",
        String::from_utf8_lossy(&body)
    );
}

#[test]
fn doctor_names_the_account_and_what_email_still_needs() {
    let moto = MotoServer::start().unwrap_or_else(|error| panic!("{error}"));
    let doctor = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args([
            "doctor",
            "--architecture",
            "x86-64",
            "--endpoint-url",
            moto.endpoint(),
        ])
        .env("RUST_BACKTRACE", "0")
        .output()
        .expect("xtask runs");
    let out = String::from_utf8_lossy(&doctor.stdout);
    assert!(
        doctor.status.success(),
        "{out}{}",
        String::from_utf8_lossy(&doctor.stderr)
    );
    // moto's account; no bootstrap stack yet; the toolchain `cargo xtask test` installs.
    assert!(
        out.contains("ok       credentials") && out.contains("123456789012"),
        "{out}"
    );
    assert!(out.contains("not deployed yet"), "{out}");
    assert!(out.contains("ok       cargo-lambda"), "{out}");
    assert!(out.contains("ok       objcopy"), "{out}");
    // The default sender identity is nobody's: a warning with the fix, not a failure.
    assert!(
        out.contains("warning  SES sender identity")
            && out.contains("example.com is not an SES identity"),
        "{out}"
    );
    assert!(out.contains("fix: create and verify it in SES"), "{out}");
}

#[test]
fn doctor_fails_on_a_missing_rust_target_and_says_how_to_add_it() {
    let moto = MotoServer::start().unwrap_or_else(|error| panic!("{error}"));
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .map(|output| String::from_utf8_lossy(&output.stdout).into_owned())
        .unwrap_or_default();
    if installed.contains("aarch64-unknown-linux-gnu") {
        // This machine can build for ARM64: nothing is missing to report.
        return;
    }
    let doctor = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args([
            "doctor",
            "--architecture",
            "arm64",
            "--endpoint-url",
            moto.endpoint(),
        ])
        .env("RUST_BACKTRACE", "0")
        .output()
        .expect("xtask runs");
    assert!(!doctor.status.success());
    let out = String::from_utf8_lossy(&doctor.stdout);
    assert!(out.contains("PROBLEM  functions' Rust target"), "{out}");
    assert!(
        out.contains("rustup target add aarch64-unknown-linux-gnu"),
        "{out}"
    );
    let err = String::from_utf8_lossy(&doctor.stderr);
    assert!(err.contains("problem(s) found"), "{err}");
}

#[test]
fn a_deploy_that_widens_access_waits_for_approval_and_seed_demo_stocks_the_empty_table_once() {
    use eventforge_deployer::local_registry::LocalRegistry;

    let moto = MotoServer::start().unwrap_or_else(|error| panic!("{error}"));
    let registry = LocalRegistry::start().unwrap_or_else(|error| panic!("{error}"));
    let stand_ins = StandIns::new();
    let deploy = |approval: &[&str]| {
        let output = Command::new(env!("CARGO_BIN_EXE_xtask"))
            .args(["deploy", "--architecture", "x86-64", "--seed-demo"])
            .args(approval)
            .args(["--endpoint-url", &moto.direct_endpoint()])
            .args(["--registry-url", &registry.endpoint])
            .args(stand_ins.flags())
            .env("RUST_BACKTRACE", "0")
            .stdin(std::process::Stdio::null())
            .output()
            .expect("xtask runs");
        (
            output.status.success(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    // New stacks grant access: without a terminal to ask at, the first deploy is refused before
    // anything is built or deployed, with every widening listed.
    let (deployed, listing, refusal) = deploy(&[]);
    assert!(!deployed, "{listing}");
    assert!(refusal.contains("--require-approval never"), "{refusal}");
    assert!(
        listing.contains("eventforge-dev-api (new stack) widens access:"),
        "{listing}"
    );
    assert!(
        listing.contains("ingress tcp port 80 from SourcePrefixListId"),
        "{listing}"
    );
    assert!(
        // (moto has no CloudFront: the emulator profile leaves the distributions out.)
        listing.contains("public endpoint: internet-facing load balancer LoadBalancer"),
        "{listing}"
    );
    assert!(
        !catalogue(&moto, "eventforge-dev-orders", &["list"])
            .status
            .success(),
        "the table exists although the deploy was refused"
    );

    let (deployed, first, errors) = deploy(&["--require-approval", "never"]);
    assert!(deployed, "{first}\n{errors}");
    assert!(
        first.contains("loaded the demo catalogue (6 products) into eventforge-dev-orders"),
        "{first}"
    );
    // Nothing widens the second time, so it needs no approval; and a table with products is
    // left alone.
    let (deployed, second, errors) = deploy(&[]);
    assert!(deployed, "{second}\n{errors}");
    assert!(!second.contains("widens access"), "{second}");
    // moto implements no drift detection: the command says which call the endpoint refused,
    // rather than reporting the stacks in sync.
    let drift = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["drift", "--endpoint-url", &moto.direct_endpoint()])
        .env("RUST_BACKTRACE", "0")
        .output()
        .expect("xtask runs");
    let refused = String::from_utf8_lossy(&drift.stderr);
    assert!(!drift.status.success(), "{refused}");
    assert!(refused.contains("DetectStackDrift"), "{refused}");
    assert!(!refused.contains("panicked"), "{refused}");
    assert!(!second.contains("loaded the demo catalogue"), "{second}");
    let listed = stdout(&catalogue(&moto, "eventforge-dev-orders", &["list"]));
    assert!(listed.contains("6 product(s)"), "{listed}");
}

/// The lines a running `watch` prints, as they come.
struct WatchOutput {
    lines: std::sync::mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl WatchOutput {
    /// The next line that starts with `prefix`, within two minutes.
    fn line_starting(&mut self, prefix: &str) -> String {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.starts_with(prefix) {
                        return line;
                    }
                }
                Err(_) => panic!(
                    "no line starting with {prefix:?}; watch printed:\n{}",
                    self.seen.join("\n")
                ),
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn watch_deploys_once_then_puts_each_changed_artefact_live_in_one_line() {
    use base64::Engine;
    use eventforge_deployer::local_registry::LocalRegistry;
    use sha2::{Digest, Sha256};
    use std::io::BufRead;

    let moto = MotoServer::start().unwrap_or_else(|error| panic!("{error}"));
    let registry = LocalRegistry::start().unwrap_or_else(|error| panic!("{error}"));
    let stand_ins = StandIns::new();
    let (lambda, api, site) = (&stand_ins.lambda, &stand_ins.api, &stand_ins.site);

    let mut child = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args([
            "watch",
            "--architecture",
            "x86-64",
            "--require-approval",
            "never",
        ])
        .args(["--debounce-ms", "100"])
        .args(["--endpoint-url", &moto.direct_endpoint()])
        .args(["--registry-url", &registry.endpoint])
        .args(stand_ins.flags())
        .env("RUST_BACKTRACE", "0")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("xtask runs");
    let stdout = child.stdout.take().unwrap();
    let (sender, lines) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            let _ = sender.send(line);
        }
    });
    let mut output = WatchOutput {
        lines,
        seen: Vec::new(),
    };
    // Stopped (by its PID) however the test ends.
    struct Stop(std::process::Child);
    impl Drop for Stop {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let _stop = Stop(child);

    // The first cycle deploys everything, as `deploy` would.
    let first = output.line_starting("[0]");
    assert!(
        first.contains("deployed") && first.contains("eventforge-dev-functions created"),
        "{first}"
    );
    let watching = output.line_starting("watching");
    assert!(watching.contains("dev stage"), "{watching}");

    // A new zip for one function: that function's code is swapped, and nothing else.
    let new_code = b"new code of charge-payment";
    std::fs::write(lambda.join("charge-payment/bootstrap.zip"), new_code).unwrap();
    let swapped = output.line_starting("[");
    assert!(
        swapped.contains("lambda/charge-payment/bootstrap.zip")
            && swapped.contains("hotswapped eventforge-dev-charge-payment in"),
        "{swapped}"
    );
    assert!(swapped.contains("after the save"), "{swapped}");
    let sdk = moto.sdk_config().await;
    let function = aws_sdk_lambda::Client::new(&sdk)
        .get_function()
        .function_name("eventforge-dev-charge-payment")
        .send()
        .await
        .unwrap();
    assert_eq!(
        function.configuration().and_then(|c| c.code_sha256()),
        Some(
            base64::engine::general_purpose::STANDARD
                .encode(Sha256::digest(new_code))
                .as_str()
        )
    );

    // A new API binary: a new image, swapped into the service; the function swapped before
    // runs its new code already and is left alone.
    std::fs::write(api, "#!/bin/true\n").unwrap();
    let image = output.line_starting("[");
    assert!(
        image.contains("the API image ready") && image.contains("hotswapped"),
        "{image}"
    );
    assert!(!image.contains("charge-payment"), "{image}");
    // `<service> (<family>:<revision>)`: the new revision runs the new image.
    let revision = image
        .split_once(" (")
        .and_then(|(_, rest)| rest.split_once(')'))
        .map(|(revision, _)| revision.to_owned())
        .unwrap_or_else(|| panic!("no task definition revision in {image}"));
    let (family, number) = revision.split_once(':').unwrap();
    let ecs = aws_sdk_ecs::Client::new(&sdk);
    let image_of = |revision: String| {
        let ecs = ecs.clone();
        async move {
            ecs.describe_task_definition()
                .task_definition(revision)
                .send()
                .await
                .unwrap()
                .task_definition()
                .unwrap()
                .container_definitions()
                .iter()
                .filter_map(|container| container.image().map(str::to_owned))
                .collect::<Vec<_>>()
        }
    };
    let previous = format!("{family}:{}", number.parse::<u32>().unwrap() - 1);
    assert_ne!(image_of(revision.clone()).await, image_of(previous).await);

    // A dashboard file: published, with no stack touched.
    std::fs::write(site.join("app.js"), "console.log('new')").unwrap();
    let published = output.line_starting("[");
    assert!(
        published.contains("dashboard: 1 uploaded") && !published.contains("hotswapped"),
        "{published}"
    );

    // Another function: only it, although the stacks still hold the keys of before the swaps.
    std::fs::write(lambda.join("confirm-order/bootstrap.zip"), "new code").unwrap();
    let second = output.line_starting("[");
    assert!(
        second.contains("hotswapped eventforge-dev-confirm-order in")
            && !second.contains("charge-payment")
            && !second.contains("eventforge-dev-api"),
        "{second}"
    );
}
