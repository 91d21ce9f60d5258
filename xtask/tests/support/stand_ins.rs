//! Stand-in artefacts for the deploy commands against moto, shared by the test programs that
//! deploy.

/// Artefacts that stand in for built ones: moto stores Lambda code and images without running
/// them, so any bytes make a zip and a binary here.
pub struct StandIns {
    _dir: tempfile::TempDir,
    /// `<function>/bootstrap.zip` for every function.
    pub lambda: std::path::PathBuf,
    /// Alone in its directory, so a watch of that directory sees nothing else.
    pub api: std::path::PathBuf,
    pub site: std::path::PathBuf,
}

impl StandIns {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let lambda = dir.path().join("lambda");
        for function in eventforge_topology::functions() {
            std::fs::create_dir_all(lambda.join(function.name)).unwrap();
            std::fs::write(
                lambda.join(function.name).join("bootstrap.zip"),
                format!("code of {}", function.name),
            )
            .unwrap();
        }
        let bin = dir.path().join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        let api = bin.join("eventforge-api");
        std::fs::write(&api, "#!/bin/false\n").unwrap();
        let site = dir.path().join("site");
        std::fs::create_dir_all(&site).unwrap();
        std::fs::write(site.join("index.html"), "<html>dashboard</html>").unwrap();
        Self {
            _dir: dir,
            lambda,
            api,
            site,
        }
    }

    /// `--lambda-dir`, `--api-binary` and `--site-dir` pointing at them.
    pub fn flags(&self) -> Vec<&std::ffi::OsStr> {
        vec![
            "--lambda-dir".as_ref(),
            self.lambda.as_os_str(),
            "--api-binary".as_ref(),
            self.api.as_os_str(),
            "--site-dir".as_ref(),
            self.site.as_os_str(),
        ]
    }
}
