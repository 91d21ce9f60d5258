//! Content-addressed assets: a Lambda zip is stored under a key derived from its SHA-256, so an
//! upload is skipped when the key exists and a changed zip always gets a new key (which is what
//! makes CloudFormation update the function).

use std::path::{Path, PathBuf};

use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;

use crate::error::DeployError;
use crate::plan::sha256_hex;

/// A built Lambda zip.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LambdaZip {
    pub function: String,
    pub path: PathBuf,
    pub sha256: String,
    pub bytes: u64,
}

impl LambdaZip {
    pub fn read(function: &str, path: &Path) -> Result<(Self, Vec<u8>), DeployError> {
        let contents = std::fs::read(path).map_err(|source| DeployError::Io {
            path: path.to_owned(),
            source,
        })?;
        Ok((
            Self {
                function: function.to_owned(),
                path: path.to_owned(),
                sha256: sha256_hex(&contents),
                bytes: contents.len() as u64,
            },
            contents,
        ))
    }

    /// The key the zip is stored under: the function's name for people, the hash for identity.
    pub fn key(&self) -> String {
        format!("lambda/{}/{}.zip", self.function, self.sha256)
    }
}

/// The SHA-256 of the zip stored under `key`, as Lambda reports a function's code
/// (`CodeSha256`: base64), when `key` is a [`LambdaZip::key`].
pub fn code_sha256_of_key(key: &str) -> Option<String> {
    use base64::Engine;
    let (_, file) = key.strip_prefix("lambda/")?.rsplit_once('/')?;
    let digest = hex::decode(file.strip_suffix(".zip")?).ok()?;
    Some(base64::engine::general_purpose::STANDARD.encode(digest))
}

/// Uploads the zip unless its key already exists; returns it and whether it was uploaded.
pub async fn upload_zip(
    client: &Client,
    bucket: &str,
    function: &str,
    path: &Path,
) -> Result<(LambdaZip, bool), DeployError> {
    let (zip, contents) = LambdaZip::read(function, path)?;
    let key = zip.key();
    let exists = match client.head_object().bucket(bucket).key(&key).send().await {
        Ok(_) => true,
        Err(error)
            if error
                .as_service_error()
                .is_some_and(|error| error.is_not_found()) =>
        {
            false
        }
        Err(error) => {
            return Err(DeployError::sdk("HeadObject", error));
        }
    };
    if !exists {
        client
            .put_object()
            .bucket(bucket)
            .key(&key)
            .content_type("application/zip")
            .body(ByteStream::from(contents))
            .send()
            .await
            .map_err(|error| DeployError::sdk("PutObject", error))?;
    }
    Ok((zip, !exists))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_zips_key_tells_the_code_sha256_lambda_reports_for_it() {
        use base64::Engine;
        use sha2::{Digest, Sha256};
        let contents = b"the bootstrap of charge-payment";
        let zip = LambdaZip {
            function: "charge-payment".to_owned(),
            path: PathBuf::from("bootstrap.zip"),
            sha256: sha256_hex(contents),
            bytes: contents.len() as u64,
        };
        assert_eq!(
            code_sha256_of_key(&zip.key()),
            Some(base64::engine::general_purpose::STANDARD.encode(Sha256::digest(contents)))
        );
        for other in ["image/abc", "lambda/f/not-hex.zip", "lambda/f/abcd.tar"] {
            assert_eq!(code_sha256_of_key(other), None, "{other}");
        }
    }
}
