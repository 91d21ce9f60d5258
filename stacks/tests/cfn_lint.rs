//! Every synthesised template passes cfn-lint with no error, no warning and not even an
//! informational finding, in both formats and for both stages. Needs `cfn-lint` on PATH
//! (`pip install cfn-lint==1.51.0`).

use std::path::{Path, PathBuf};
use std::process::Command;

use eventforge_stacks::platform::{self, Architecture, Config, Stage};
use serde_json::Value as Json;
use typed_cloudformation::manifest::Format;

/// cfn-lint with informational checks on; its exit status and findings.
fn cfn_lint(templates: &[&Path]) -> (Option<i32>, String) {
    let output = Command::new("cfn-lint")
        .args(["--include-checks", "I", "--"])
        .args(templates)
        .output()
        .unwrap_or_else(|error| {
            panic!("cannot run cfn-lint ({error}): install it with `pip install cfn-lint==1.51.0`")
        });
    let findings = String::from_utf8_lossy(&output.stdout);
    let errors = String::from_utf8_lossy(&output.stderr);
    (output.status.code(), format!("{findings}{errors}"))
}

fn lint(config: &Config, format: Format) {
    let dir = tempfile::tempdir().unwrap();
    let assembly = platform::synth(config).unwrap();
    let written = assembly.write(dir.path(), format).unwrap();
    let templates: Vec<&Path> = written
        .iter()
        .filter(|path| path.to_string_lossy().contains(".template."))
        .map(PathBuf::as_path)
        .collect();
    assert_eq!(templates.len(), assembly.stacks.len());
    let (status, findings) = cfn_lint(&templates);
    assert!(
        status == Some(0) && findings.trim().is_empty(),
        "cfn-lint found problems in the {} {:?} templates (exit {status:?}):\n{findings}",
        config.stage.name(),
        format,
    );
}

#[test]
fn dev_json_templates_pass_cfn_lint_without_findings() {
    lint(&Config::for_stage(Stage::Dev), Format::Json);
}

#[test]
fn prod_json_templates_pass_cfn_lint_without_findings() {
    lint(&Config::for_stage(Stage::Prod), Format::Json);
}

#[test]
fn dev_yaml_templates_pass_cfn_lint_without_findings() {
    lint(&Config::for_stage(Stage::Dev), Format::Yaml);
}

#[test]
fn prod_yaml_templates_pass_cfn_lint_without_findings() {
    lint(&Config::for_stage(Stage::Prod), Format::Yaml);
}

#[test]
fn x86_64_templates_pass_cfn_lint_without_findings() {
    let config = Config {
        architecture: Architecture::X86_64,
        ..Config::for_stage(Stage::Dev)
    };
    lint(&config, Format::Json);
}

/// The saga's ASL document is checked by cfn-lint's Step Functions schema, not only by our own
/// `Definition::validate`: a state naming a type ASL does not have is a finding.
#[test]
fn cfn_lint_validates_the_state_machine_definition() {
    let dir = tempfile::tempdir().unwrap();
    let assembly = platform::synth(&Config::for_stage(Stage::Dev)).unwrap();
    let written = assembly.write(dir.path(), Format::Json).unwrap();
    let workflow = written
        .iter()
        .find(|path| path.to_string_lossy().ends_with("-workflow.template.json"))
        .expect("a workflow template");
    let mut template: Json = serde_json::from_slice(&std::fs::read(workflow).unwrap()).unwrap();
    let definition = &mut template["Resources"]["Saga"]["Properties"]["Definition"];
    assert!(definition["States"]["ValidateOrder"].is_object());
    definition["States"]["ValidateOrder"]["Type"] = Json::from("Teleport");
    let broken = dir.path().join("broken-workflow.template.json");
    std::fs::write(&broken, serde_json::to_vec_pretty(&template).unwrap()).unwrap();

    let (status, findings) = cfn_lint(&[broken.as_path()]);
    assert_ne!(status, Some(0), "{findings}");
    assert!(findings.contains("Teleport"), "{findings}");
}
