//! The dashboard's Node.js build, as `dev` and `test` need it: install its packages when the lock
//! file changed, rebuild `dist/` when a source is newer than the last build.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

use anyhow::{Context, Result};

use crate::process::run;

/// The files whose change makes a new build necessary.
pub const BUILD_INPUTS: &[&str] = &[
    "src",
    "public",
    "index.html",
    "package.json",
    "package-lock.json",
    "vite.config.ts",
    "tsconfig.json",
];

pub struct Frontend {
    dir: PathBuf,
}

impl Frontend {
    pub fn new(dir: PathBuf) -> Self {
        Self { dir }
    }

    pub fn exists(&self) -> bool {
        self.dir.join("package.json").exists()
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn dist(&self) -> PathBuf {
        self.dir.join("dist")
    }

    /// `npm ci`, unless node_modules already matches package-lock.json.
    pub fn install(&self) -> Result<()> {
        let installed = self.dir.join("node_modules/.package-lock.json");
        if newest_change(&installed) >= newest_change(&self.dir.join("package-lock.json"))
            && installed.exists()
        {
            return Ok(());
        }
        println!("==> dashboard dependencies (npm ci)");
        run(&mut self.npm(&["ci", "--no-audit", "--no-fund"])).context(
            "npm ci failed: Node.js 20+ and npm are needed (Debian: `apt-get install nodejs npm`)",
        )
    }

    /// Whether `dist/` is missing or older than any build input.
    pub fn is_stale(&self) -> bool {
        let built = newest_change(&self.dist().join("index.html"));
        built.is_none()
            || BUILD_INPUTS
                .iter()
                .any(|input| newest_change(&self.dir.join(input)) > built)
    }

    pub fn build(&self) -> Result<()> {
        self.install()?;
        println!("==> dashboard build (npm run build)");
        run(&mut self.npm(&["run", "build"]))
    }

    pub fn npm(&self, args: &[&str]) -> Command {
        let mut command = Command::new("npm");
        command.current_dir(&self.dir).args(args);
        command
    }
}

/// The latest modification time of a file, or of any file below a directory.
fn newest_change(path: &Path) -> Option<SystemTime> {
    let meta = fs::metadata(path).ok()?;
    if !meta.is_dir() {
        return meta.modified().ok();
    }
    fs::read_dir(path)
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|entry| newest_change(&entry.path()))
        .max()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn touch(path: &Path, age: Duration) {
        fs::create_dir_all(path.parent().expect("has a parent")).expect("mkdir");
        fs::write(path, "x").expect("write");
        let file = fs::File::options().write(true).open(path).expect("open");
        file.set_modified(SystemTime::now() - age)
            .expect("set mtime");
    }

    #[test]
    fn a_missing_build_is_stale() {
        let dir = tempfile::tempdir().expect("tempdir");
        touch(&dir.path().join("src/main.tsx"), Duration::from_secs(60));
        assert!(Frontend::new(dir.path().to_path_buf()).is_stale());
    }

    #[test]
    fn a_build_newer_than_every_source_is_fresh_until_a_source_changes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let frontend = Frontend::new(dir.path().to_path_buf());
        touch(
            &dir.path().join("src/deep/App.tsx"),
            Duration::from_secs(120),
        );
        touch(&dir.path().join("dist/index.html"), Duration::from_secs(60));
        assert!(!frontend.is_stale());
        touch(&dir.path().join("src/deep/App.tsx"), Duration::ZERO);
        assert!(frontend.is_stale());
    }
}
