//! Adapters: the ports implemented over real storage. Embedded (files + SQLite) for one
//! machine, S3 + DynamoDB for AWS; each behind a cargo feature so a Lambda ships only its own.

#[cfg(any(feature = "embedded", feature = "aws"))]
pub mod compose;
#[cfg(feature = "embedded")]
pub mod fs;
#[cfg(feature = "embedded")]
pub mod outbox;
#[cfg(feature = "embedded")]
pub mod sqlite;
#[cfg(feature = "embedded")]
pub mod witness_sqlite;

#[cfg(feature = "aws")]
pub mod dynamodb;
#[cfg(feature = "aws")]
pub mod events;
#[cfg(feature = "relay")]
pub mod relay;
#[cfg(feature = "aws")]
pub mod s3;
#[cfg(feature = "aws")]
pub mod scheduler;
#[cfg(feature = "aws")]
pub mod ses;
#[cfg(feature = "aws")]
pub mod witness_dynamodb;

#[cfg(any(feature = "embedded", feature = "aws"))]
pub mod signing_key;
#[cfg(feature = "witness-client")]
pub mod witness_http;
