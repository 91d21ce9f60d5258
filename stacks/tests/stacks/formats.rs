//! The JSON and YAML renderings are the same document, and the manifest reads back as written:
//! the deployer consumes exactly what synthesis produced.

use eventforge_stacks::platform::{self, Config, Stage};
use serde_json::Value as Json;
use typed_cloudformation::manifest::{Format, MANIFEST_FILE, Manifest};
use typed_cloudformation::synth::Assembly;

/// Reading the YAML back gives the JSON document exactly: strings that look like numbers or
/// booleans (`PORT: "8080"`) stay strings.
#[test]
fn yaml_and_json_templates_describe_the_same_document() {
    let assembly = platform::synth(&Config::for_stage(Stage::Dev)).unwrap();
    for stack in &assembly.stacks {
        let yaml = Assembly::render(stack, Format::Yaml).unwrap();
        let from_yaml: Json = serde_yaml_ng::from_str(&yaml).unwrap();
        assert_eq!(from_yaml, stack.template, "{}", stack.name);
    }
}

#[test]
fn the_written_manifest_reads_back_in_deploy_order_with_its_template_files() {
    let dir = tempfile::tempdir().unwrap();
    let assembly = platform::synth(&Config::for_stage(Stage::Prod)).unwrap();
    assembly.write(dir.path(), Format::Yaml).unwrap();
    let text = std::fs::read_to_string(dir.path().join(MANIFEST_FILE)).unwrap();
    let manifest: Manifest = serde_json::from_str(&text).unwrap();
    assert_eq!(manifest, assembly.manifest(Format::Yaml));
    assert_eq!(manifest.app, "eventforge-prod");
    let names: Vec<&str> = manifest.stacks.iter().map(|s| s.name.as_str()).collect();
    let expected: Vec<&str> = assembly.stacks.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, expected);
    for stack in &manifest.stacks {
        assert!(
            dir.path().join(&stack.template).is_file(),
            "{}",
            stack.template
        );
        assert!(stack.template.ends_with(".template.yaml"));
        for dependency in &stack.dependencies {
            let position = |name: &str| names.iter().position(|n| *n == name).unwrap();
            assert!(position(dependency) < position(&stack.name));
        }
    }
}
