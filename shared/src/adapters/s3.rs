//! Objects in an S3 bucket. Create-new puts are conditional (`If-None-Match: *`), so S3 itself
//! refuses to overwrite a stored response, whatever races the functions run into.

use async_trait::async_trait;
use aws_sdk_s3::Client;
use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::primitives::ByteStream as S3Bytes;
use tokio_util::io::ReaderStream;

use crate::ports::{
    Body, LIST_PAGE, Listed, Location, Object, ObjectKey, ObjectMeta, ObjectStore, PutMode,
    StoreError, Upload,
};

/// `x-amz-copy-source` is a URL path: every byte but the unreserved ones and `/` is escaped.
const COPY_SOURCE: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'/');

/// Parts of a multipart upload are buffered to this size (S3's minimum is 5 MiB): memory per
/// upload stays at one part, whatever the object's size (up to 10,000 parts: 80 GiB).
const PART_SIZE: usize = 8 * 1024 * 1024;

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

    async fn delete(&self, key: &ObjectKey) -> Result<(), StoreError> {
        // S3 answers 204 whether or not the key was there.
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(key.as_str())
            .send()
            .await
            .map(|_| ())
            .map_err(|e| {
                StoreError::backend(
                    format!("deleting s3://{}/{}", self.bucket, key.as_str()),
                    aws_sdk_s3::Error::from(e),
                )
            })
    }

    async fn list(
        &self,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Listed>, StoreError> {
        // ListObjectsV2 returns keys in UTF-8 binary order, at most 1,000 a call.
        let out = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(prefix)
            .set_start_after(after.map(str::to_owned))
            .max_keys(limit.min(LIST_PAGE) as i32)
            .send()
            .await
            .map_err(|e| {
                StoreError::backend(
                    format!("listing s3://{}/{prefix}", self.bucket),
                    aws_sdk_s3::Error::from(e),
                )
            })?;
        out.contents()
            .iter()
            .filter_map(|object| {
                let key = ObjectKey::parse(object.key()?.to_owned()).ok()?;
                let modified = object
                    .last_modified()
                    .and_then(|at| jiff::Timestamp::new(at.secs(), at.subsec_nanos() as i32).ok())
                    .unwrap_or_default();
                Some(Ok(Listed {
                    key,
                    size: object.size().unwrap_or(0).max(0) as u64,
                    modified,
                }))
            })
            .collect()
    }

    fn location(&self, key: &ObjectKey) -> Option<Location> {
        Some(Location::Bucket {
            bucket: self.bucket.clone(),
            key: key.as_str().to_owned(),
        })
    }

    /// A server-side copy (objects here are at most 25 MiB, well under CopyObject's 5 GB), so a
    /// published file never passes through the function. Create-new: a key already there is
    /// `Conflict` (the publisher of a consultation is its only writer of that key).
    async fn copy_from(
        &self,
        from: &Location,
        key: &ObjectKey,
        meta: &ObjectMeta,
    ) -> Result<bool, StoreError> {
        let Location::Bucket {
            bucket: source_bucket,
            key: source_key,
        } = from
        else {
            return Ok(false);
        };
        let target = format!("s3://{}/{}", self.bucket, key.as_str());
        let existing = self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(key.as_str())
            .send()
            .await;
        match existing {
            Ok(_) => return Err(StoreError::Conflict(key.as_str().to_owned())),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => {}
            Err(e) => {
                return Err(StoreError::backend(
                    format!("checking {target}"),
                    aws_sdk_s3::Error::from(e),
                ));
            }
        }
        let source = format!(
            "{source_bucket}/{}",
            percent_encoding::utf8_percent_encode(source_key, COPY_SOURCE)
        );
        self.client
            .copy_object()
            .bucket(&self.bucket)
            .key(key.as_str())
            .copy_source(source)
            .metadata_directive(aws_sdk_s3::types::MetadataDirective::Replace)
            .content_type(&meta.content_type)
            .set_content_disposition(meta.content_disposition.clone())
            .send()
            .await
            .map_err(|e| {
                StoreError::backend(
                    format!("copying s3://{source_bucket}/{source_key} to {target}"),
                    aws_sdk_s3::Error::from(e),
                )
            })?;
        Ok(true)
    }

    async fn upload(
        &self,
        key: &ObjectKey,
        meta: &ObjectMeta,
    ) -> Result<Box<dyn Upload>, StoreError> {
        Ok(Box::new(S3Upload {
            client: self.client.clone(),
            bucket: self.bucket.clone(),
            key: key.as_str().to_owned(),
            meta: meta.clone(),
            upload_id: None,
            parts: Vec::new(),
            buffer: Vec::with_capacity(PART_SIZE),
        }))
    }
}

/// An S3 multipart upload, started lazily: an object smaller than one part is a plain put.
struct S3Upload {
    client: Client,
    bucket: String,
    key: String,
    meta: ObjectMeta,
    upload_id: Option<String>,
    parts: Vec<aws_sdk_s3::types::CompletedPart>,
    buffer: Vec<u8>,
}

fn s3_error<E>(
    context: String,
    e: aws_sdk_s3::error::SdkError<E, aws_sdk_s3::config::http::HttpResponse>,
) -> StoreError
where
    aws_sdk_s3::Error: From<aws_sdk_s3::error::SdkError<E, aws_sdk_s3::config::http::HttpResponse>>,
{
    StoreError::backend(context, aws_sdk_s3::Error::from(e))
}

impl S3Upload {
    async fn send_part(&mut self) -> Result<(), StoreError> {
        let context = || format!("uploading s3://{}/{}", self.bucket, self.key);
        if self.upload_id.is_none() {
            let created = self
                .client
                .create_multipart_upload()
                .bucket(&self.bucket)
                .key(&self.key)
                .content_type(&self.meta.content_type)
                .set_content_disposition(self.meta.content_disposition.clone())
                .send()
                .await
                .map_err(|e| s3_error(context(), e))?;
            self.upload_id = created.upload_id;
        }
        let number = self.parts.len() as i32 + 1;
        let body = std::mem::take(&mut self.buffer);
        let part = self
            .client
            .upload_part()
            .bucket(&self.bucket)
            .key(&self.key)
            .set_upload_id(self.upload_id.clone())
            .part_number(number)
            .body(S3Bytes::from(body))
            .send()
            .await
            .map_err(|e| s3_error(context(), e))?;
        self.parts.push(
            aws_sdk_s3::types::CompletedPart::builder()
                .part_number(number)
                .set_e_tag(part.e_tag)
                .build(),
        );
        Ok(())
    }
}

#[async_trait]
impl Upload for S3Upload {
    async fn write(&mut self, chunk: bytes::Bytes) -> Result<(), StoreError> {
        self.buffer.extend_from_slice(&chunk);
        if self.buffer.len() >= PART_SIZE {
            self.send_part().await?;
        }
        Ok(())
    }

    async fn finish(mut self: Box<Self>) -> Result<(), StoreError> {
        let context = format!("finishing s3://{}/{}", self.bucket, self.key);
        if self.upload_id.is_none() {
            let body = std::mem::take(&mut self.buffer);
            return self
                .client
                .put_object()
                .bucket(&self.bucket)
                .key(&self.key)
                .body(S3Bytes::from(body))
                .content_type(&self.meta.content_type)
                .set_content_disposition(self.meta.content_disposition.clone())
                .send()
                .await
                .map(|_| ())
                .map_err(|e| s3_error(context, e));
        }
        if !self.buffer.is_empty()
            && let Err(e) = self.send_part().await
        {
            self.abort().await;
            return Err(e);
        }
        let parts = std::mem::take(&mut self.parts);
        let done = self
            .client
            .complete_multipart_upload()
            .bucket(&self.bucket)
            .key(&self.key)
            .set_upload_id(self.upload_id.clone())
            .multipart_upload(
                aws_sdk_s3::types::CompletedMultipartUpload::builder()
                    .set_parts(Some(parts))
                    .build(),
            )
            .send()
            .await;
        match done {
            Ok(_) => Ok(()),
            Err(e) => {
                let error = s3_error(context, e);
                self.abort().await;
                Err(error)
            }
        }
    }

    async fn abort(self: Box<Self>) {
        if let Some(upload_id) = &self.upload_id {
            let _ = self
                .client
                .abort_multipart_upload()
                .bucket(&self.bucket)
                .key(&self.key)
                .upload_id(upload_id)
                .send()
                .await;
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

/// Presigned PUTs straight into a bucket (the staging store on AWS): the URL is signed for one
/// key, one content length and a limited time, with the function's own credentials.
pub struct S3Staging {
    client: Client,
    bucket: String,
}

impl S3Staging {
    pub fn new(client: Client, bucket: impl Into<String>) -> Self {
        // With checksums "when supported" the SDK would sign the CRC32 of an empty body into
        // the URL (it has no body at signing time), and S3 would refuse every real upload.
        let config = client
            .config()
            .to_builder()
            .request_checksum_calculation(
                aws_sdk_s3::config::RequestChecksumCalculation::WhenRequired,
            )
            .build();
        Self {
            client: Client::from_conf(config),
            bucket: bucket.into(),
        }
    }
}

#[async_trait]
impl crate::ports::UploadStaging for S3Staging {
    async fn presign_put(
        &self,
        _consultation: &crate::domain::ConsultationId,
        _upload: &crate::domain::UploadId,
        key: &ObjectKey,
        size: u64,
        expires_in: std::time::Duration,
    ) -> Result<crate::ports::PresignedPut, StoreError> {
        let config = aws_sdk_s3::presigning::PresigningConfig::expires_in(expires_in)
            .map_err(|e| StoreError::backend("presigning an upload", e))?;
        let request = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key.as_str())
            .content_type("application/octet-stream")
            .content_length(i64::try_from(size).unwrap_or(i64::MAX))
            .presigned(config)
            .await
            .map_err(|e| StoreError::backend("presigning an upload", e))?;
        // Browsers set Host and Content-Length themselves (and may not set them by hand).
        let headers = request
            .headers()
            .filter(|(name, _)| {
                !name.eq_ignore_ascii_case("host") && !name.eq_ignore_ascii_case("content-length")
            })
            .map(|(name, value)| (name.to_owned(), value.to_owned()))
            .collect();
        Ok(crate::ports::PresignedPut {
            url: request.uri().to_owned(),
            headers,
        })
    }
}
