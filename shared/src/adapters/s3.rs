//! Objects in an S3 bucket. Create-new puts are conditional (`If-None-Match: *`), so S3 itself
//! refuses to overwrite a stored response, whatever races the functions run into.

use async_trait::async_trait;
use aws_sdk_s3::Client;
use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::primitives::ByteStream as S3Bytes;
use tokio_util::io::ReaderStream;

use crate::ports::{Body, Object, ObjectKey, ObjectMeta, ObjectStore, PutMode, StoreError};

pub struct S3ObjectStore {
    client: Client,
    bucket: String,
}

impl S3ObjectStore {
    pub fn new(client: Client, bucket: impl Into<String>) -> Self {
        Self {
            client,
            bucket: bucket.into(),
        }
    }
}

/// An S3 client for `config`. Path-style addressing when an endpoint is configured (emulators
/// such as moto serve buckets by path, not by host name).
pub fn client(config: &aws_config::SdkConfig) -> Client {
    let s3_config = aws_sdk_s3::config::Builder::from(config)
        .force_path_style(config.endpoint_url().is_some())
        .build();
    Client::from_conf(s3_config)
}

#[async_trait]
impl ObjectStore for S3ObjectStore {
    async fn put(
        &self,
        key: &ObjectKey,
        body: Body,
        meta: &ObjectMeta,
        mode: PutMode,
    ) -> Result<(), StoreError> {
        let stream = match body {
            Body::Bytes(bytes) => S3Bytes::from(bytes),
            Body::File(path) => S3Bytes::from_path(&path)
                .await
                .map_err(|e| StoreError::backend(format!("reading {}", path.display()), e))?,
        };
        let mut request = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key.as_str())
            .body(stream)
            .content_type(&meta.content_type)
            .set_content_disposition(meta.content_disposition.clone());
        if mode == PutMode::CreateNew {
            request = request.if_none_match("*");
        }
        match request.send().await {
            Ok(_) => Ok(()),
            // 412: the key exists. 409: a concurrent conditional put of the same key won.
            Err(e)
                if matches!(
                    e.code(),
                    Some("PreconditionFailed" | "ConditionalRequestConflict")
                ) =>
            {
                Err(StoreError::Conflict(key.as_str().to_owned()))
            }
            Err(e) => Err(StoreError::backend(
                format!("putting s3://{}/{}", self.bucket, key.as_str()),
                aws_sdk_s3::Error::from(e),
            )),
        }
    }

    async fn get(&self, key: &ObjectKey) -> Result<Option<Object>, StoreError> {
        let result = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key.as_str())
            .send()
            .await;
        match result {
            Ok(out) => Ok(Some(Object {
                size: out.content_length.unwrap_or(0).max(0) as u64,
                body: Box::pin(ReaderStream::with_capacity(
                    out.body.into_async_read(),
                    64 * 1024,
                )),
            })),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => Ok(None),
            Err(e) => Err(StoreError::backend(
                format!("getting s3://{}/{}", self.bucket, key.as_str()),
                aws_sdk_s3::Error::from(e),
            )),
        }
    }
}

/// Creates the bucket if it does not exist (for emulators and first runs).
pub async fn ensure_bucket(client: &Client, bucket: &str) -> Result<(), StoreError> {
    if client.head_bucket().bucket(bucket).send().await.is_ok() {
        return Ok(());
    }
    match client.create_bucket().bucket(bucket).send().await {
        Ok(_) => Ok(()),
        Err(e) if matches!(e.code(), Some("BucketAlreadyOwnedByYou")) => Ok(()),
        Err(e) => Err(StoreError::backend(
            format!("creating bucket {bucket}"),
            aws_sdk_s3::Error::from(e),
        )),
    }
}
