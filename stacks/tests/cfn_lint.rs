//! Every synthesised template passes cfn-lint with no error, no warning and not even an
//! informational finding, in both formats and for both stages. Needs `cfn-lint` on PATH
//! (`pip install cfn-lint==1.51.0`).

use std::process::Command;

use eventforge_stacks::manifest::Format;
use eventforge_stacks::platform::{self, Config, Stage};

fn lint(stage: Stage, format: Format) {
    let dir = tempfile::tempdir().unwrap();
    let assembly = platform::synth(&Config::for_stage(stage)).unwrap();
    let written = assembly.write(dir.path(), format).unwrap();
    let templates: Vec<_> = written
        .iter()
        .filter(|path| path.to_string_lossy().contains(".template."))
        .collect();
    assert_eq!(templates.len(), assembly.stacks.len());
    let output = Command::new("cfn-lint")
        .args(["--include-checks", "I", "--"])
        .args(&templates)
        .output()
        .unwrap_or_else(|error| {
            panic!("cannot run cfn-lint ({error}): install it with `pip install cfn-lint==1.51.0`")
        });
    let findings = String::from_utf8_lossy(&output.stdout);
    let errors = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && findings.trim().is_empty(),
        "cfn-lint found problems in the {} {:?} templates (exit {:?}):\n{findings}{errors}",
        stage.name(),
        format,
        output.status.code(),
    );
}

#[test]
fn dev_json_templates_pass_cfn_lint_without_findings() {
    lint(Stage::Dev, Format::Json);
}

#[test]
fn prod_json_templates_pass_cfn_lint_without_findings() {
    lint(Stage::Prod, Format::Json);
}

#[test]
fn dev_yaml_templates_pass_cfn_lint_without_findings() {
    lint(Stage::Dev, Format::Yaml);
}
