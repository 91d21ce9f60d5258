//! Specification: cargo-lambda packages a function of this crate into the zip Lambda runs, a
//! single executable `bootstrap` for the architecture.
//!
//! Built here with the quick `dev` profile, for this machine's architecture, into a target
//! directory of its own: the `lambda` profile (fat LTO, one codegen unit) is for what ships, and
//! `cargo xtask bench saga` measures those zips' sizes and cold starts. A target directory of its
//! own because `cargo test` holds the lock of its own while the tests run; cargo-lambda builds for
//! an explicit target triple, so nothing of the test build could be reused anyway.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The function packaged: all are binaries of this one crate, so any one shows the packaging.
const FUNCTION: &str = "validate-order";

#[test]
fn cargo_lambda_packages_a_function_into_a_zip_holding_one_executable_bootstrap() {
    let workspace =
        Path::new(&std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo")).join("../..");
    let out = tempfile::tempdir().unwrap();
    let (flag, elf_machine) = if cfg!(target_arch = "aarch64") {
        ("--arm64", 0xB7u16)
    } else {
        ("--x86-64", 0x3Eu16)
    };
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let build = Command::new(cargo)
        .current_dir(&workspace)
        .args(["lambda", "build", flag, "--output-format", "zip"])
        .args(["-p", "eventforge-functions", "--bin", FUNCTION])
        .arg("--lambda-dir")
        .arg(out.path())
        // An environment variable, not `--target-dir`: cargo-lambda hands its flags to
        // `cargo metadata` too, which refuses that one.
        .env("CARGO_TARGET_DIR", own_target_dir())
        .output()
        .expect("cargo runs");
    assert!(
        build.status.success(),
        "cargo lambda build failed (cargo-lambda and zig come with `cargo xtask test`, or \
         `pip install cargo-lambda ziglang`):\n{}",
        String::from_utf8_lossy(&build.stderr)
    );

    let zip = std::fs::File::open(out.path().join(FUNCTION).join("bootstrap.zip")).unwrap();
    let mut archive = zip::ZipArchive::new(zip).expect("a zip archive");
    let names: Vec<&str> = archive.file_names().collect();
    assert_eq!(
        names,
        ["bootstrap"],
        "Lambda's provided runtime starts `bootstrap`"
    );
    let mut bootstrap = archive.by_name("bootstrap").unwrap();
    let mode = bootstrap
        .unix_mode()
        .expect("the zip records Unix permissions");
    assert_ne!(
        mode & 0o111,
        0,
        "bootstrap must be executable: mode {mode:o}"
    );
    let mut header = [0u8; 20];
    bootstrap.read_exact(&mut header).unwrap();
    assert_eq!(&header[..4], b"\x7fELF", "an ELF executable");
    assert_eq!(
        u16::from_le_bytes([header[18], header[19]]),
        elf_machine,
        "built for this machine's architecture"
    );
}

/// `<target dir>/cargo-lambda-test`, beside the test build's `debug/`.
fn own_target_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    // <target>/debug/deps/packaging-<hash>
    exe.ancestors()
        .nth(3)
        .expect("the test binary is in <target>/debug/deps")
        .join("cargo-lambda-test")
}
