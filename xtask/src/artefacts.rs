//! Building what ships, with cargo: the Lambda zips (cargo-lambda, the `lambda` profile) and the
//! static API binary (release). `deploy` uploads them; `bench saga` measures the zips and their
//! cold start. The tests build neither (see `lambdas/functions/tests/packaging.rs`).

use std::ffi::OsString;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::process::{cargo, run, target_dir, workspace_root};
use crate::synth::ArchitectureArg;
use eventforge_topology::Function;

impl ArchitectureArg {
    /// The architecture of this machine.
    pub fn host() -> Self {
        if cfg!(target_arch = "aarch64") {
            Self::Arm64
        } else {
            Self::X86_64
        }
    }

    /// The name in OCI image configurations.
    pub fn oci_name(self) -> &'static str {
        match self {
            Self::Arm64 => "arm64",
            Self::X86_64 => "amd64",
        }
    }

    fn rust_arch(self) -> &'static str {
        match self {
            Self::Arm64 => "aarch64",
            Self::X86_64 => "x86_64",
        }
    }

    /// The glibc Rust target: what the functions are built for.
    pub fn gnu_target(self) -> String {
        format!("{}-unknown-linux-gnu", self.rust_arch())
    }

    pub fn flag(self) -> &'static str {
        match self {
            Self::Arm64 => "arm64",
            Self::X86_64 => "x86-64",
        }
    }
}

fn installed_targets() -> Vec<String> {
    let listed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .map(|output| String::from_utf8_lossy(&output.stdout).into_owned())
        .unwrap_or_default();
    let mut targets: Vec<String> = listed.lines().map(|line| line.trim().to_owned()).collect();
    // Without rustup, the compiler's own target is the one there is.
    if targets.is_empty() {
        targets.push(ArchitectureArg::host().gnu_target());
    }
    targets
}

/// The glibc target the functions are built for, when it is installed.
#[cfg(feature = "deploy")]
pub fn functions_target(architecture: ArchitectureArg) -> Result<String> {
    installed_target(architecture, &[architecture.gnu_target()])
}

/// The first of `candidates` that is installed, or an error saying how to get it.
fn installed_target(architecture: ArchitectureArg, candidates: &[String]) -> Result<String> {
    let installed = installed_targets();
    if let Some(found) = candidates.iter().find(|c| installed.contains(c)) {
        return Ok(found.clone());
    }
    let wanted = &candidates[0];
    bail!(
        "building for {} needs the Rust target {wanted}, which is not installed: \
         `rustup target add {wanted}`, or build for this machine with `--architecture {}` \
         (the stacks then declare that architecture)",
        architecture.flag(),
        ArchitectureArg::host().flag()
    )
}

/// The static target the API binary is built for: musl when installed, otherwise glibc with the
/// C runtime linked statically, which runs on any Linux of that architecture.
pub fn api_target(architecture: ArchitectureArg) -> Result<String> {
    let arch = architecture.rust_arch();
    installed_target(
        architecture,
        &[
            format!("{arch}-unknown-linux-musl"),
            architecture.gnu_target(),
        ],
    )
}

/// How the shipped artefacts are compiled.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum BuildProfile {
    /// What `deploy` ships: the `lambda` profile for the zips (smallest: fat LTO), `api` for
    /// the API binary (fat LTO, optimised for speed).
    #[default]
    Ship,
    /// `cargo xtask watch`: the `watch` profile for both, incremental and without LTO, so a
    /// change to one file rebuilds in seconds; bigger binaries, for development stages.
    Watch,
}

impl BuildProfile {
    fn lambda_profile(self) -> &'static str {
        match self {
            Self::Ship => "lambda",
            Self::Watch => "watch",
        }
    }

    fn api_profile(self) -> &'static str {
        match self {
            Self::Ship => "api",
            Self::Watch => "watch",
        }
    }

    /// Whether the functions of this profile unwind on panic (and so need their unwind tables):
    /// `watch` unwinds, as `release` does; the `lambda` profile aborts.
    fn unwinds(self) -> bool {
        self == Self::Watch
    }

    /// How hard the zips of this profile are compressed. A shipped zip is downloaded on every
    /// cold start, so it gets deflate's best; a watch zip is made on every save and uploaded to
    /// a stage under development, where level 9 took 1.2 s of an 11 MB binary against 0.17 s at
    /// level 1, for a zip 9% smaller (BENCHMARKS.md, "Watch: the zip's compression").
    fn zip_level(self) -> i64 {
        match self {
            Self::Ship => 9,
            Self::Watch => 1,
        }
    }

    /// Where cargo-lambda puts the zips of this profile, so a watch build never replaces the
    /// zips a deploy ships.
    pub fn lambda_dir(self) -> PathBuf {
        target_dir().join(match self {
            Self::Ship => "lambda",
            Self::Watch => "lambda-watch",
        })
    }
}

/// The glibc the functions link against: `provided.al2023`'s. Linking against it rather than
/// cargo-lambda's default (2.17) leaves libpthread and libdl out, whose loading was part of
/// every cold start (since 2.34 they are stubs inside libc).
const LAMBDA_GLIBC: &str = "2.34";

/// Builds the functions of `eventforge-functions` (all of them when `only` is empty) into
/// `<function>/bootstrap.zip` under the returned directory, with cargo-lambda (which links
/// against an old glibc through zig, so the binaries run on Lambda's `provided.al2023`).
/// `path` replaces `PATH` for cargo-lambda when given.
///
/// cargo-lambda leaves each binary as `<function>/bootstrap`; the zip is made here
/// ([`package_function`]), so what ships can lose its unwind tables first.
pub fn build_lambda_zips(
    architecture: ArchitectureArg,
    profile: BuildProfile,
    only: &[String],
    path: Option<&OsString>,
) -> Result<PathBuf> {
    let triple = installed_target(architecture, &[architecture.gnu_target()])?;
    let dir = profile.lambda_dir();
    let mut command = cargo();
    command.current_dir(workspace_root()).args([
        "lambda",
        "build",
        "--profile",
        profile.lambda_profile(),
        "--target",
        &format!("{triple}.{LAMBDA_GLIBC}"),
        "--output-format",
        "binary",
        "-p",
        "eventforge-functions",
    ]);
    command.arg("--lambda-dir").arg(&dir);
    // Not position-independent: a PIE binary carried 300 KB of relocations that the loader
    // applies on every cold start to pages it then has to copy (BENCHMARKS.md, "Functions").
    // The price is a fixed address for the binary's own code (libc and the heap are still
    // randomised); the functions are Rust without `unsafe` of our own. An explicit --target
    // keeps the flag off build scripts.
    command.env(
        format!(
            "CARGO_TARGET_{}_RUSTFLAGS",
            triple.to_uppercase().replace('-', "_")
        ),
        "-C relocation-model=static",
    );
    for function in only {
        command.args(["--bin", function]);
    }
    if let Some(path) = path {
        command.env("PATH", path);
    }
    run(&mut command).context(
        "building the Lambda zips needs cargo-lambda and zig: `cargo xtask test` installs both \
         (or `pip install cargo-lambda ziglang`)",
    )?;
    let built: Vec<&str> = if only.is_empty() {
        Function::ALL
            .iter()
            .map(|function| function.name())
            .collect()
    } else {
        only.iter().map(String::as_str).collect()
    };
    for function in built {
        package_function(&dir.join(function), profile)?;
    }
    Ok(dir)
}

/// The binary of `function` that [`build_lambda_zips`] zipped as its `bootstrap` for `deploy`.
pub fn lambda_binary(function: &str) -> PathBuf {
    BuildProfile::Ship
        .lambda_dir()
        .join(function)
        .join("bootstrap")
}

/// Zips `<dir>/bootstrap` into `<dir>/bootstrap.zip`, as Lambda's `provided` runtimes take a
/// function: one executable named `bootstrap`, compressed as `profile` says. Unless the
/// profile's binaries unwind, their unwind tables (`.eh_frame` and its index) go first.
///
/// Why: the `lambda` profile aborts on panic, so nothing ever unwinds; the tables only serve a
/// backtrace, and the shipped binary has no symbols to name a backtrace's frames with. They were
/// 0.47 MB of each 3.5 MB binary and 0.17 MB of each zip (BENCHMARKS.md, "Functions: what is in
/// a zip"), which is downloaded and loaded on every cold start. They cannot be left out at link
/// time: the standard library comes compiled with them. A panic still prints its message and
/// aborts; with `RUST_BACKTRACE` set, the backtrace finds no frames.
///
/// The zip's entry carries a fixed date, so the same binary makes the same zip and an unchanged
/// function is not uploaded again.
pub fn package_function(dir: &Path, profile: BuildProfile) -> Result<()> {
    let binary = dir.join("bootstrap");
    if !profile.unwinds() {
        let mut objcopy = Command::new("objcopy");
        objcopy
            .args(["--remove-section", ".eh_frame"])
            .args(["--remove-section", ".eh_frame_hdr"])
            .arg(&binary);
        run(&mut objcopy).context(
            "the Lambda zips are packaged with objcopy, from GNU binutils \
             (`apt-get install binutils`; it comes with gcc)",
        )?;
    }
    let code = std::fs::read(&binary)
        .with_context(|| format!("cannot read the function's binary {}", binary.display()))?;
    let zip_path = dir.join("bootstrap.zip");
    let write = || -> zip::result::ZipResult<()> {
        let mut zip = zip::ZipWriter::new(std::fs::File::create(&zip_path)?);
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .compression_level(Some(profile.zip_level()))
            .unix_permissions(0o755)
            .last_modified_time(zip::DateTime::default());
        zip.start_file("bootstrap", options)?;
        zip.write_all(&code)?;
        zip.finish()?;
        Ok(())
    };
    write().with_context(|| format!("cannot write {}", zip_path.display()))
}

/// Builds the static API binary with the profile; returns its path.
pub fn build_api_binary(architecture: ArchitectureArg, profile: BuildProfile) -> Result<PathBuf> {
    let triple = api_target(architecture)?;
    let variable = format!(
        "CARGO_TARGET_{}_RUSTFLAGS",
        triple.to_uppercase().replace('-', "_")
    );
    let mut command = cargo();
    command
        .current_dir(workspace_root())
        .args([
            "build",
            "--profile",
            profile.api_profile(),
            "-p",
            "eventforge-api",
            "--bin",
            "eventforge-api",
            "--target",
            &triple,
        ])
        // An explicit --target keeps these flags off build scripts and the host build's cache.
        // Symbols are stripped: they are a fifth of the binary and the image is pulled on every
        // task start.
        .env(variable, "-C target-feature=+crt-static -C strip=symbols");
    run(&mut command)?;
    Ok(api_binary(&triple, profile))
}

/// Where [`build_api_binary`] leaves the binary for `triple`.
pub fn api_binary(triple: &str, profile: BuildProfile) -> PathBuf {
    target_dir()
        .join(triple)
        .join(profile.api_profile())
        .join("eventforge-api")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read as _;

    /// The section names of the ELF file at `path`, as binutils reads them.
    fn section_names(path: &Path) -> Vec<String> {
        let listed = Command::new("objdump")
            .arg("--section-headers")
            .arg(path)
            .output()
            .expect("objdump runs");
        assert!(listed.status.success(), "objdump read {}", path.display());
        String::from_utf8_lossy(&listed.stdout)
            .lines()
            .filter_map(|line| line.split_whitespace().nth(1))
            .filter(|name| name.starts_with('.'))
            .map(str::to_owned)
            .collect()
    }

    /// A function directory holding this machine's `true` as its binary: a small ELF executable
    /// with unwind tables, as every Rust binary has.
    fn function_dir() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::copy("/bin/true", dir.path().join("bootstrap")).unwrap();
        assert!(section_names(&dir.path().join("bootstrap")).contains(&".eh_frame".to_owned()));
        dir
    }

    fn zipped_bootstrap(dir: &Path) -> (Vec<String>, u32, Vec<u8>) {
        let file = std::fs::File::open(dir.join("bootstrap.zip")).unwrap();
        let mut archive = zip::ZipArchive::new(file).unwrap();
        let names = archive.file_names().map(str::to_owned).collect();
        let mut entry = archive.by_name("bootstrap").unwrap();
        let mode = entry.unix_mode().unwrap();
        let mut code = Vec::new();
        entry.read_to_end(&mut code).unwrap();
        (names, mode, code)
    }

    #[test]
    fn a_shipped_function_is_zipped_without_unwind_tables_and_still_runs() {
        let dir = function_dir();
        package_function(dir.path(), BuildProfile::Ship).unwrap();

        let (names, mode, code) = zipped_bootstrap(dir.path());
        assert_eq!(
            names,
            ["bootstrap"],
            "Lambda's provided runtime starts `bootstrap`"
        );
        assert_eq!(mode & 0o777, 0o755, "bootstrap must be executable");
        assert_eq!(code, std::fs::read(dir.path().join("bootstrap")).unwrap());
        let sections = section_names(&dir.path().join("bootstrap"));
        assert!(
            !sections.iter().any(|name| name.starts_with(".eh_frame")),
            "{sections:?}"
        );
        assert!(sections.contains(&".text".to_owned()), "{sections:?}");
        let ran = Command::new(dir.path().join("bootstrap")).status().unwrap();
        assert!(
            ran.success(),
            "the binary without unwind tables runs: {ran}"
        );
    }

    #[test]
    fn a_function_that_unwinds_keeps_its_tables() {
        let dir = function_dir();
        package_function(dir.path(), BuildProfile::Watch).unwrap();
        let (_, _, code) = zipped_bootstrap(dir.path());
        assert_eq!(code, std::fs::read("/bin/true").unwrap());
    }

    #[test]
    fn a_watch_zip_is_compressed_for_speed_and_a_shipped_one_for_size() {
        let compressed_size = |dir: &Path| {
            let file = std::fs::File::open(dir.join("bootstrap.zip")).unwrap();
            let mut archive = zip::ZipArchive::new(file).unwrap();
            archive.by_index(0).unwrap().compressed_size()
        };
        let deflated_at_best = |code: &[u8]| {
            let mut encoder =
                flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
            encoder.write_all(code).unwrap();
            encoder.finish().unwrap().len() as u64
        };
        for (profile, best) in [(BuildProfile::Watch, false), (BuildProfile::Ship, true)] {
            let dir = function_dir();
            package_function(dir.path(), profile).unwrap();
            let (_, _, code) = zipped_bootstrap(dir.path());
            assert_eq!(
                compressed_size(dir.path()) == deflated_at_best(&code),
                best,
                "{profile:?}"
            );
        }
    }

    #[test]
    fn the_same_binary_makes_the_same_zip_so_an_unchanged_function_is_not_uploaded_again() {
        let dir = function_dir();
        package_function(dir.path(), BuildProfile::Ship).unwrap();
        let first = std::fs::read(dir.path().join("bootstrap.zip")).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(1100));
        package_function(dir.path(), BuildProfile::Ship).unwrap();
        let second = std::fs::read(dir.path().join("bootstrap.zip")).unwrap();
        assert_eq!(
            first, second,
            "packaging again (tables already gone) changes nothing"
        );
    }

    #[test]
    fn a_missing_binary_is_an_error_that_names_it() {
        let dir = tempfile::tempdir().unwrap();
        let error = package_function(dir.path(), BuildProfile::Watch).unwrap_err();
        assert!(format!("{error:#}").contains("bootstrap"), "{error:#}");
    }
}
