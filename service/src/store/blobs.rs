//! Content-addressed artifacts: `ROOT/<first 2 hex>/<sha256 hex>` in a local folder
//! (`file:///DIR`), or the same keys under a prefix of an S3-compatible bucket
//! (`s3://BUCKET/PREFIX`, through the `object_store` crate).
//!
//! Invariants: a blob's name is the SHA-256 of its content, so a blob is written once
//! (storing it again finds it and writes nothing). A local blob appears atomically
//! (unique temporary file, fsync, rename, fsync of the folder), so after
//! [`BlobStore::put`] returns the blob survives a crash, and a reader never sees part of
//! one; an object appears atomically by the object store's own guarantee (a single PUT,
//! or a multipart upload that is visible only once completed). Reads check the hash, so
//! a damaged blob is reported, never served.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use object_store::aws::AmazonS3Builder;
use object_store::path::Path as ObjectPath;
use object_store::{ClientOptions, ObjectStore, PutPayload, RetryConfig, WriteMultipart};

use crate::hash::sha256_hex;
use crate::store::StoreError;

/// Distinguishes temporary files of concurrent writers within one process.
static TMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Blobs larger than this are uploaded to an object store in parts of this size.
pub const MULTIPART_PART: usize = 8 << 20;

/// Content-addressed blobs in a folder or a bucket.
#[derive(Clone, Debug)]
pub struct BlobStore {
    root: PathBuf,
    object: Option<Arc<ObjectBlobs>>,
}

/// Blobs in an object store, reached from synchronous code through a runtime of its own.
struct ObjectBlobs {
    store: Box<dyn ObjectStore>,
    prefix: String,
    url: String,
    rt: Option<tokio::runtime::Runtime>,
}

impl std::fmt::Debug for ObjectBlobs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.url)
    }
}

impl Drop for ObjectBlobs {
    fn drop(&mut self) {
        // Dropping a runtime inside another one's async context is not allowed; this is.
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}

impl ObjectBlobs {
    fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        self.rt.as_ref().expect("the runtime lives until drop").block_on(f)
    }

    fn key(&self, sha256: &str) -> ObjectPath {
        let prefix = sha256.get(..2).unwrap_or("xx");
        ObjectPath::from(format!("{}{prefix}/{sha256}", self.prefix))
    }

    fn err(&self, e: impl std::fmt::Display) -> StoreError {
        StoreError::Artifacts { url: self.url.clone(), message: e.to_string() }
    }
}

fn io_err(path: &Path, e: std::io::Error) -> StoreError {
    StoreError::Io { path: path.display().to_string(), message: e.to_string() }
}

/// Where artifacts are stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ArtifactsUrl {
    /// A local (or shared network) folder: `file:///DIR`.
    File(PathBuf),
    /// An S3-compatible bucket: `s3://BUCKET/PREFIX`. Credentials, region and endpoint
    /// come from the usual `AWS_*` variables (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
    /// `AWS_REGION`, `AWS_ENDPOINT_URL` for S3-compatible servers, `AWS_ALLOW_HTTP`).
    S3 { bucket: String, prefix: String },
}

impl ArtifactsUrl {
    /// Parses `file:///DIR` or `s3://BUCKET[/PREFIX]`.
    pub fn parse(url: &str) -> Result<ArtifactsUrl, StoreError> {
        let bad = |message: &str| StoreError::BadUrl { url: url.to_string(), message: message.into() };
        if let Some(path) = url.strip_prefix("file://") {
            if !path.starts_with('/') {
                return Err(bad("expected file:///ABSOLUTE/DIR"));
            }
            return Ok(ArtifactsUrl::File(PathBuf::from(path)));
        }
        if let Some(rest) = url.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err(bad("expected s3://BUCKET/PREFIX"));
            }
            let prefix = prefix.trim_matches('/');
            let prefix = if prefix.is_empty() { String::new() } else { format!("{prefix}/") };
            return Ok(ArtifactsUrl::S3 { bucket: bucket.to_string(), prefix });
        }
        Err(bad("expected file:///DIR or s3://BUCKET/PREFIX"))
    }

    /// The URL as written.
    pub fn display(&self) -> String {
        match self {
            ArtifactsUrl::File(p) => format!("file://{}", p.display()),
            ArtifactsUrl::S3 { bucket, prefix } => format!("s3://{bucket}/{}", prefix.trim_end_matches('/')),
        }
    }
}

impl BlobStore {
    /// A blob store rooted at `root` (created if needed).
    pub fn open(root: impl Into<PathBuf>) -> Result<BlobStore, StoreError> {
        let root = root.into();
        fs::create_dir_all(&root).map_err(|e| io_err(&root, e))?;
        Ok(BlobStore { root, object: None })
    }

    /// The blob store a URL names. A bucket is checked at once (listing the prefix), so
    /// a missing bucket, bad credentials or an unreachable endpoint are an error here,
    /// after a bounded number of retries, never a hang.
    pub fn open_url(url: &ArtifactsUrl) -> Result<BlobStore, StoreError> {
        let (bucket, prefix) = match url {
            ArtifactsUrl::File(root) => return BlobStore::open(root.clone()),
            ArtifactsUrl::S3 { bucket, prefix } => (bucket, prefix),
        };
        let shown = url.display();
        let err = |m: String| StoreError::Artifacts { url: shown.clone(), message: m };
        let env = |k: &str| std::env::var(k).unwrap_or_default();
        // Plain HTTP only for an explicit http:// endpoint (a local S3-compatible server) or AWS_ALLOW_HTTP=true.
        let allow_http =
            env("AWS_ALLOW_HTTP") == "true" || env("AWS_ENDPOINT_URL").starts_with("http://") || env("AWS_ENDPOINT").starts_with("http://");
        let retry = RetryConfig { max_retries: 3, retry_timeout: Duration::from_secs(30), ..Default::default() };
        let client = ClientOptions::new().with_connect_timeout(Duration::from_secs(5)).with_timeout(Duration::from_secs(300));
        let store = AmazonS3Builder::from_env()
            .with_bucket_name(bucket)
            .with_retry(retry)
            .with_client_options(client)
            .with_allow_http(allow_http)
            .build()
            .map_err(|e| err(e.to_string()))?;
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("zkinfer-objects")
            .enable_all()
            .build()
            .map_err(|e| err(e.to_string()))?;
        let blobs = ObjectBlobs { store: Box::new(store), prefix: prefix.clone(), url: shown.clone(), rt: Some(rt) };
        let probe = ObjectPath::from(prefix.trim_end_matches('/'));
        blobs
            .block_on(blobs.store.list_with_delimiter(if prefix.is_empty() { None } else { Some(&probe) }))
            .map_err(|e| err(format!("cannot list the bucket (does it exist, and may these credentials read it?): {e}")))?;
        Ok(BlobStore { root: PathBuf::new(), object: Some(Arc::new(blobs)) })
    }

    /// Where the blob with this hash lives (local stores).
    pub fn path(&self, sha256: &str) -> PathBuf {
        let prefix = sha256.get(..2).unwrap_or("xx");
        self.root.join(prefix).join(sha256)
    }

    /// Stores `bytes` durably and returns their SHA-256 (hex). Storing the same content
    /// twice writes it once.
    pub fn put(&self, bytes: &[u8]) -> Result<String, StoreError> {
        let sha = sha256_hex(bytes);
        if let Some(o) = &self.object {
            let key = o.key(&sha);
            return o.block_on(async {
                match o.store.head(&key).await {
                    Ok(_) => return Ok(sha),
                    Err(object_store::Error::NotFound { .. }) => {}
                    Err(e) => return Err(o.err(e)),
                }
                if bytes.len() > MULTIPART_PART {
                    let upload = o.store.put_multipart(&key).await.map_err(|e| o.err(e))?;
                    let mut w = WriteMultipart::new_with_chunk_size(upload, MULTIPART_PART);
                    w.write(bytes);
                    w.finish().await.map_err(|e| o.err(e))?;
                } else {
                    o.store.put(&key, PutPayload::from(bytes.to_vec())).await.map_err(|e| o.err(e))?;
                }
                Ok(sha)
            });
        }
        let path = self.path(&sha);
        if path.exists() {
            return Ok(sha);
        }
        let dir = path.parent().expect("blob paths have a folder");
        fs::create_dir_all(dir).map_err(|e| io_err(dir, e))?;
        let n = TMP_COUNTER.fetch_add(1, Ordering::Relaxed);
        let tmp = dir.join(format!(".{sha}.tmp-{}-{n}", std::process::id()));
        let written = (|| {
            let mut f = fs::File::create(&tmp)?;
            f.write_all(bytes)?;
            f.sync_all()?;
            fs::rename(&tmp, &path)?;
            fs::File::open(dir)?.sync_all()
        })();
        if let Err(e) = written {
            let _ = fs::remove_file(&tmp);
            return Err(io_err(&path, e));
        }
        Ok(sha)
    }

    /// The blob's content, checked against its hash.
    pub fn get(&self, sha256: &str) -> Result<Vec<u8>, StoreError> {
        if let Some(o) = &self.object {
            let bytes = o.block_on(async {
                match o.store.get(&o.key(sha256)).await {
                    Ok(r) => r.bytes().await.map(|b| b.to_vec()).map_err(|e| o.err(e)),
                    Err(object_store::Error::NotFound { .. }) => Err(StoreError::MissingBlob { sha256: sha256.to_string() }),
                    Err(e) => Err(o.err(e)),
                }
            })?;
            if sha256_hex(&bytes) != sha256 {
                return Err(StoreError::Corrupt { sha256: sha256.to_string() });
            }
            return Ok(bytes);
        }
        let path = self.path(sha256);
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(StoreError::MissingBlob { sha256: sha256.to_string() }),
            Err(e) => return Err(io_err(&path, e)),
        };
        if sha256_hex(&bytes) != sha256 {
            return Err(StoreError::Corrupt { sha256: sha256.to_string() });
        }
        Ok(bytes)
    }

    /// Size in bytes of a stored blob.
    pub fn size(&self, sha256: &str) -> Result<u64, StoreError> {
        if let Some(o) = &self.object {
            return o.block_on(o.store.head(&o.key(sha256))).map(|m| m.size).map_err(|e| o.err(e));
        }
        let path = self.path(sha256);
        fs::metadata(&path).map(|m| m.len()).map_err(|e| io_err(&path, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn put_get_and_detect_corruption() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = BlobStore::open(dir.path()).unwrap();
        let sha = blobs.put(b"proof bytes").unwrap();
        assert_eq!(sha, sha256_hex(b"proof bytes"));
        assert_eq!(blobs.put(b"proof bytes").unwrap(), sha);
        assert_eq!(blobs.get(&sha).unwrap(), b"proof bytes");
        fs::write(blobs.path(&sha), b"proof bytez").unwrap();
        assert!(matches!(blobs.get(&sha), Err(StoreError::Corrupt { .. })));
        assert!(matches!(blobs.get(&"0".repeat(64)), Err(StoreError::MissingBlob { .. })));
    }
}

#[cfg(test)]
mod s3_tests {
    use super::*;
    use crate::testing::s3;

    /// The `s3://` store against a local S3-compatible server (moto): content-addressed
    /// puts written once, multipart uploads of large blobs, hash checks on reads, and a
    /// clear error for a bucket that does not exist.
    #[test]
    fn s3_bucket_put_get_multipart_and_errors() {
        let server = s3();
        for (k, v) in server.env() {
            std::env::set_var(k, v);
        }
        server.create_bucket("zkinfer-blobs");
        let url = ArtifactsUrl::parse("s3://zkinfer-blobs/deploy/one").unwrap();
        assert_eq!(url, ArtifactsUrl::S3 { bucket: "zkinfer-blobs".into(), prefix: "deploy/one/".into() });
        let blobs = BlobStore::open_url(&url).unwrap();
        let sha = blobs.put(b"proof bytes").unwrap();
        assert_eq!(sha, sha256_hex(b"proof bytes"));
        assert_eq!(blobs.put(b"proof bytes").unwrap(), sha, "stored once");
        assert_eq!(blobs.get(&sha).unwrap(), b"proof bytes");
        let large: Vec<u8> = (0..(2 * MULTIPART_PART + 12345)).map(|i| (i * 7 % 251) as u8).collect();
        let big = blobs.put(&large).unwrap();
        assert_eq!(blobs.size(&big).unwrap(), large.len() as u64);
        assert_eq!(blobs.get(&big).unwrap(), large, "a multipart upload reads back whole");
        assert!(matches!(blobs.get(&"0".repeat(64)), Err(StoreError::MissingBlob { .. })));
        // Another process's view of the same bucket and prefix sees the same blobs.
        let again = BlobStore::open_url(&url).unwrap();
        assert_eq!(again.get(&sha).unwrap(), b"proof bytes");
        // A damaged object is reported, never served.
        let o = again.object.as_ref().unwrap();
        o.block_on(o.store.put(&o.key(&sha), PutPayload::from(b"proof bytez".to_vec()))).unwrap();
        assert!(matches!(again.get(&sha), Err(StoreError::Corrupt { .. })));
        let e = BlobStore::open_url(&ArtifactsUrl::parse("s3://no-such-bucket/x").unwrap()).unwrap_err().to_string();
        assert!(e.contains("s3://no-such-bucket/x") && e.contains("cannot list the bucket"), "{e}");
        assert!(ArtifactsUrl::parse("s3:///x").is_err() && ArtifactsUrl::parse("file://rel").is_err());
    }
}
