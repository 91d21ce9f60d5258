//! The deploy commands under the faults a real AWS account produces, against moto behind
//! `eventforge-fault-proxy` (which see for what each fault looks like on the wire):
//! - throttled calls are retried with jittered backoff, and the deploy completes;
//! - a stack whose creation fails and rolls back stops the stacks that depend on it, the error
//!   names the resource and the reason, and the next deploy deletes and creates it again;
//! - a deploy, a `teardown-ecs` or a `destroy` killed (SIGKILL) while a stack operation runs
//!   finishes the job when run again, waiting the operation out; nothing is created twice and
//!   no asset is uploaded twice;
//! - a second deploy of a stage being deployed is refused, naming who holds it.
//!
//! Each test prints the faults it injected (`cargo test -- --nocapture` shows them).

use std::collections::BTreeMap;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use eventforge_deployer::local_registry::LocalRegistry;
use eventforge_fault_proxy::{Call, FailedResource, Fault, FaultProxy, Faults};
use eventforge_store_dynamodb::moto::MotoServer;

#[path = "support/stand_ins.rs"]
mod stand_ins;
use stand_ins::StandIns;

/// How long a slowed stack operation takes: long enough to kill the deployer in the middle.
const SLOW: Duration = Duration::from_secs(4);
/// How long a test waits for the deployer to reach a point.
const PATIENCE: Duration = Duration::from_secs(300);

/// moto, a registry, the proxy in front of moto, and stand-in artefacts.
struct Account {
    moto: MotoServer,
    registry: LocalRegistry,
    proxy: FaultProxy,
    stand_ins: StandIns,
}

impl Account {
    fn start(faults: Faults) -> Self {
        let moto = MotoServer::start().unwrap_or_else(|error| panic!("{error}"));
        let registry = LocalRegistry::start().unwrap_or_else(|error| panic!("{error}"));
        let proxy = FaultProxy::start(&moto.direct_endpoint(), faults).unwrap();
        Self {
            moto,
            registry,
            proxy,
            stand_ins: StandIns::new(),
        }
    }

    /// `cargo xtask <command>` through the proxy.
    fn xtask(&self, command: &[&str]) -> Command {
        let mut xtask = Command::new(env!("CARGO_BIN_EXE_xtask"));
        xtask
            .args(command)
            .args(["--endpoint-url", self.proxy.endpoint()])
            .env("RUST_BACKTRACE", "0")
            .stdin(Stdio::null());
        xtask
    }

    /// `deploy` of the stand-ins, approved, plus `extra` flags.
    fn deploy(&self, extra: &[&str]) -> Command {
        let mut deploy = self.xtask(&["deploy", "--architecture", "x86-64"]);
        deploy
            .args(["--require-approval", "never"])
            .args(["--registry-url", &self.registry.endpoint])
            .args(self.stand_ins.flags())
            .args(extra);
        deploy
    }

    /// The stacks moto has, by name, with their status (asked directly, past the proxy).
    fn stacks(&self) -> BTreeMap<String, String> {
        let output = Command::new(env!("CARGO_BIN_EXE_xtask"))
            .args(["status", "--endpoint-url", &self.moto.direct_endpoint()])
            .output()
            .unwrap();
        let listing = String::from_utf8_lossy(&output.stdout);
        assert!(output.status.success(), "status failed: {listing}");
        listing
            .lines()
            .filter_map(|line| {
                let mut words = line.split_whitespace();
                let name = words.next()?;
                let status = words.next()?;
                (name.starts_with("eventforge-dev-") && status.contains('_'))
                    .then(|| (name.to_owned(), status.to_owned()))
            })
            .collect()
    }

    /// Starts `command` and kills it (SIGKILL) once the proxy holds a slowed operation on
    /// `stack`.
    fn kill_during_slow_operation(&self, mut command: Command, stack: &str) {
        let mut child: Child = command
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let reached = self.proxy.wait_for(PATIENCE, |calls| {
            calls.iter().any(|call| slowed(call, stack))
        });
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(reached, "the command never reached {stack}");
    }
}

fn run(mut command: Command) -> (bool, String) {
    let Output {
        status,
        stdout,
        stderr,
    } = command.output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&stdout),
        String::from_utf8_lossy(&stderr)
    );
    (status.success(), text)
}

fn stack_name(short: &str) -> String {
    format!("eventforge-dev-{short}")
}

fn slowed(call: &Call, stack: &str) -> bool {
    call.fault == Some(Fault::Slowed) && call.stack.as_deref() == Some(&stack_name(stack))
}

/// The calls of `action` that reached moto (not throttled, not answered by the proxy), by stack.
fn applied(calls: &[Call], action: &str) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for call in calls {
        if call.action == action
            && !matches!(call.fault, Some(Fault::Throttled | Fault::AlreadyDeleting))
            && let Some(stack) = &call.stack
        {
            *counts.entry(stack.clone()).or_default() += 1;
        }
    }
    counts
}

/// How many times each Lambda zip was uploaded (`PUT /<bucket>/lambda/<hash>.zip`, not throttled).
fn zip_uploads(calls: &[Call]) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for call in calls {
        if call.service == "s3"
            && call.action.starts_with("PUT ")
            && call.action.ends_with(".zip")
            && call.fault != Some(Fault::Throttled)
        {
            *counts.entry(call.action.clone()).or_default() += 1;
        }
    }
    counts
}

fn injected(calls: &[Call], fault: Fault) -> usize {
    calls
        .iter()
        .filter(|call| call.fault == Some(fault))
        .count()
}

#[test]
fn throttled_calls_are_retried_with_backoff_and_the_deploy_completes() {
    let account = Account::start(Faults {
        throttle_share: 0.25,
        seed: 22,
        ..Faults::default()
    });
    let (deployed, output) = run(account.deploy(&[]));
    assert!(deployed, "{output}");
    let calls = account.proxy.calls();
    let throttled = injected(&calls, Fault::Throttled);
    let services: std::collections::BTreeSet<&str> = calls
        .iter()
        .filter(|call| call.fault == Some(Fault::Throttled))
        .map(|call| call.service.as_str())
        .collect();
    println!(
        "throttled {throttled} of {} calls, in {services:?}",
        calls.len()
    );
    assert!(throttled >= 15, "{throttled}");
    for service in ["cloudformation", "s3"] {
        assert!(services.contains(service), "{services:?}");
    }
    let stacks = account.stacks();
    assert_eq!(stacks.len(), 11, "{stacks:?}");
    assert!(
        stacks.values().all(|status| status == "CREATE_COMPLETE"),
        "{stacks:?}"
    );
    // Each stack was created once: a throttled CreateStack never reached moto, and its retry
    // is the one that did.
    assert!(
        applied(&calls, "CreateStack")
            .values()
            .all(|count| *count == 1),
        "{:?}",
        applied(&calls, "CreateStack")
    );

    // A hot-swap, whose first two calls to every service are throttled: Lambda's 429 among
    // them.
    account.proxy.set_faults(Faults {
        throttle_share: 0.25,
        seed: 23,
        throttle_first_calls: 2,
        ..Faults::default()
    });
    let before = calls.len();
    let zip = account
        .stand_ins
        .lambda
        .join("charge-payment/bootstrap.zip");
    std::fs::write(&zip, "new code of charge-payment").unwrap();
    let (deployed, output) = run(account.deploy(&["--hotswap"]));
    assert!(deployed, "{output}");
    assert!(output.contains("eventforge-dev-charge-payment"), "{output}");
    let swap = &account.proxy.calls()[before..];
    let throttled_lambda = swap
        .iter()
        .filter(|call| call.service == "lambda" && call.fault == Some(Fault::Throttled))
        .count();
    assert!(throttled_lambda >= 2, "{swap:#?}");
    assert!(
        swap.iter().any(|call| call.service == "lambda"
            && call.action.starts_with("PUT ")
            && call.fault.is_none()),
        "UpdateFunctionCode never got through: {swap:#?}"
    );
    println!(
        "hot-swap: throttled {} of {} calls, {throttled_lambda} of them Lambda's",
        injected(swap, Fault::Throttled),
        swap.len()
    );

    // Throttled again, a plain deploy brings CloudFormation up to date, and one more finds every
    // stack current and changes nothing.
    let (deployed, output) = run(account.deploy(&[]));
    assert!(deployed, "{output}");
    let before = account.proxy.calls().len();
    let (deployed, output) = run(account.deploy(&[]));
    assert!(deployed, "{output}");
    let again = &account.proxy.calls()[before..];
    assert!(injected(again, Fault::Throttled) > 0);
    assert!(applied(again, "CreateStack").is_empty() && applied(again, "UpdateStack").is_empty());
}

#[test]
fn a_failed_creation_stops_its_dependents_names_its_cause_and_is_created_again_by_the_next_deploy()
{
    let frontend = stack_name("frontend");
    let account = Account::start(Faults {
        failing_creations: BTreeMap::from([(
            frontend.clone(),
            FailedResource {
                logical_id: "SiteBucket".to_owned(),
                resource_type: "AWS::S3::Bucket".to_owned(),
                reason: "Resource handler returned message: \"The requested bucket name is not \
                         available\""
                    .to_owned(),
            },
        )]),
        ..Faults::default()
    });
    // auth depends on frontend (the dashboard's callback URLs).
    let (deployed, output) = run(account.deploy(&["--only", "frontend", "auth"]));
    assert!(!deployed, "{output}");
    assert!(output.contains("SiteBucket (AWS::S3::Bucket)"), "{output}");
    assert!(
        output.contains("requested bucket name is not available"),
        "{output}"
    );
    let calls = account.proxy.calls();
    assert_eq!(injected(&calls, Fault::FailedCreation), 1);
    assert!(
        !applied(&calls, "CreateStack").contains_key(&stack_name("auth")),
        "auth was started after frontend failed"
    );
    assert_eq!(
        account.stacks().get(&frontend).map(String::as_str),
        Some("CREATE_COMPLETE"),
        "moto has the stack; only the proxy shows it rolled back"
    );

    // The cause is fixed; the next deploy cleans up by itself.
    account.proxy.set_faults(Faults::default());
    let (deployed, output) = run(account.deploy(&["--only", "frontend", "auth"]));
    assert!(deployed, "{output}");
    assert!(
        output.contains("deleting it to create it again"),
        "{output}"
    );
    let calls = account.proxy.calls();
    assert_eq!(applied(&calls, "DeleteStack").get(&frontend), Some(&1));
    assert_eq!(applied(&calls, "CreateStack").get(&frontend), Some(&2));
    assert_eq!(
        applied(&calls, "CreateStack").get(&stack_name("auth")),
        Some(&1)
    );
}

#[test]
fn a_killed_deploy_teardown_or_destroy_finishes_when_run_again() {
    let slow = |stack: &str| Faults {
        slow_stacks: BTreeMap::from([(stack_name(stack), SLOW)]),
        ..Faults::default()
    };
    let account = Account::start(slow("messaging"));

    // Deploy, killed while messaging is being created.
    account.kill_during_slow_operation(account.deploy(&[]), "messaging");
    let uploaded = zip_uploads(&account.proxy.calls());
    assert!(!uploaded.is_empty(), "the zips go up before the stacks");
    account.proxy.set_faults(Faults::default());
    let (deployed, output) = run(account.deploy(&[]));
    assert!(deployed, "{output}");
    assert!(
        output.contains("eventforge-dev-messaging is CREATE_IN_PROGRESS")
            && output.contains("waiting for it to end"),
        "{output}"
    );
    assert!(output.contains("took over the deploy lock"), "{output}");
    assert!(output.contains("is gone"), "{output}");
    let calls = account.proxy.calls();
    assert!(
        applied(&calls, "CreateStack")
            .values()
            .all(|count| *count == 1),
        "a stack was created twice: {:?}",
        applied(&calls, "CreateStack")
    );
    assert_eq!(zip_uploads(&calls), uploaded, "a zip was uploaded again");
    let stacks = account.stacks();
    assert_eq!(stacks.len(), 11, "{stacks:?}");

    // teardown-ecs, killed while the api stack is being deleted.
    account.proxy.set_faults(slow("api"));
    account.kill_during_slow_operation(account.xtask(&["teardown-ecs", "--yes"]), "api");
    account.proxy.set_faults(Faults::default());
    let (torn_down, output) = run(account.xtask(&["teardown-ecs", "--yes"]));
    assert!(torn_down, "{output}");
    let stacks = account.stacks();
    assert!(!stacks.contains_key(&stack_name("api")), "{stacks:?}");
    assert_eq!(stacks.len(), 10, "{stacks:?}");

    // destroy, killed while the functions stack is being deleted.
    account.proxy.set_faults(slow("functions"));
    account.kill_during_slow_operation(account.xtask(&["destroy", "--yes"]), "functions");
    account.proxy.set_faults(Faults::default());
    let (_, output) = run(account.xtask(&["destroy", "--yes"]));
    assert!(
        output.contains("eventforge-dev-functions is DELETE_IN_PROGRESS")
            && output.contains("waiting for it to end"),
        "{output}"
    );
    // moto implements no deletion of route tables, so the network stack's VPC cannot go (and
    // moto forgets the stack anyway): the one failure, and an emulator's.
    let failures: Vec<&str> = output
        .lines()
        .filter(|line| line.starts_with("✗"))
        .collect();
    assert!(
        failures.len() == 1
            && failures[0].contains("eventforge-dev-network")
            && failures[0].contains("DependencyViolation"),
        "{output}"
    );
    assert!(account.stacks().is_empty(), "{:?}", account.stacks());
    let calls = account.proxy.calls();
    println!(
        "slowed {} stack operations and killed the command in 3 of them; {} calls in all",
        injected(&calls, Fault::Slowed),
        calls.len()
    );
}

#[test]
fn a_second_deploy_of_a_stage_being_deployed_is_refused_naming_the_holder() {
    let account = Account::start(Faults {
        slow_stacks: BTreeMap::from([(stack_name("network"), SLOW * 2)]),
        ..Faults::default()
    });
    let only = ["--only", "bootstrap", "network"];
    let mut first = account
        .deploy(&only)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    assert!(
        account.proxy.wait_for(PATIENCE, |calls| calls
            .iter()
            .any(|call| slowed(call, "network"))),
        "the first deploy never reached the network stack"
    );
    let (deployed, refusal) = run(account.deploy(&only));
    assert!(!deployed, "{refusal}");
    assert!(
        refusal.contains("eventforge-dev is being deployed by")
            && refusal.contains(&format!("pid {}", first.id())),
        "{refusal}"
    );
    assert!(refusal.contains("Wait for it to finish"), "{refusal}");
    let first_status = first.wait().unwrap();
    assert!(first_status.success());
    let calls = account.proxy.calls();
    assert_eq!(
        applied(&calls, "CreateStack").get(&stack_name("network")),
        Some(&1)
    );
    assert!(applied(&calls, "UpdateStack").is_empty());
    // The lock was released: the next deploy goes ahead.
    let (deployed, output) = run(account.deploy(&only));
    assert!(deployed, "{output}");
}
