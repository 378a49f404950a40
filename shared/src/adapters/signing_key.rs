//! Where the log's signing key lives: a file of mode 0600 in the local data folder (generated
//! the first time), or an SSM SecureString parameter on AWS.

use crate::ports::StoreError;
use crate::transparency::LogKey;

pub use crate::transparency::key::LOCAL_KEY_NAME;

/// The key in `path`, or a new one saved there (mode 0600, created exclusively: two processes
/// starting at once end up with the same key).
#[cfg(feature = "embedded")]
pub fn load_or_create_file(path: &std::path::Path, name: &str) -> Result<LogKey, StoreError> {
    use std::io::Write;
    let read = |path: &std::path::Path| -> Result<Option<LogKey>, StoreError> {
        match std::fs::read_to_string(path) {
            Ok(text) => LogKey::parse(&text)
                .map(Some)
                .map_err(|e| StoreError::backend(format!("reading {}", path.display()), e)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(StoreError::backend(
                format!("reading {}", path.display()),
                e,
            )),
        }
    };
    if let Some(key) = read(path)? {
        return Ok(key);
    }
    let key = LogKey::generate(name)
        .map_err(|e| StoreError::backend("generating the log signing key", e))?;
    // Written to a temporary file then linked into place, so no reader sees half a key.
    let dir = path.parent().unwrap_or(std::path::Path::new("."));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let temporary = dir.join(format!(".log-signing-key-{}", uuid::Uuid::now_v7()));
    let saving = |e: std::io::Error| StoreError::backend(format!("saving {}", path.display()), e);
    let mut file = options.open(&temporary).map_err(saving)?;
    writeln!(file, "{}", key.private_key()).map_err(saving)?;
    file.sync_all().map_err(saving)?;
    let linked = std::fs::hard_link(&temporary, path);
    let _ = std::fs::remove_file(&temporary);
    match linked {
        Ok(()) => Ok(key),
        // Another process saved its key first: use that one.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            read(path)?.ok_or_else(|| StoreError::backend(format!("reading {}", path.display()), e))
        }
        Err(e) => Err(saving(e)),
    }
}

/// The key stored in the SSM SecureString parameter `name`. With `create`, a missing
/// parameter is filled with a new key (for a local emulator or a first deployment).
#[cfg(feature = "aws")]
pub async fn from_ssm(
    client: &aws_sdk_ssm::Client,
    parameter: &str,
    create: bool,
    key_name: &str,
) -> Result<LogKey, StoreError> {
    use aws_sdk_ssm::operation::get_parameter::GetParameterError;
    use aws_sdk_ssm::operation::put_parameter::PutParameterError;
    use aws_sdk_ssm::types::ParameterType;
    let context = format!("reading the signing key from SSM parameter {parameter}");
    let read = async || -> Result<Option<LogKey>, StoreError> {
        match client
            .get_parameter()
            .name(parameter)
            .with_decryption(true)
            .send()
            .await
        {
            Ok(out) => {
                let value = out.parameter().and_then(|p| p.value()).unwrap_or_default();
                LogKey::parse(value)
                    .map(Some)
                    .map_err(|e| StoreError::backend(context.clone(), e))
            }
            Err(e)
                if matches!(
                    e.as_service_error(),
                    Some(GetParameterError::ParameterNotFound(_))
                ) =>
            {
                Ok(None)
            }
            Err(e) => Err(StoreError::backend(
                context.clone(),
                aws_sdk_ssm::error::DisplayErrorContext(e).to_string(),
            )),
        }
    };
    if let Some(key) = read().await? {
        return Ok(key);
    }
    if !create {
        return Err(StoreError::backend(
            context,
            "the parameter does not exist: store a key made by `verbatim keygen` in it",
        ));
    }
    let key = LogKey::generate(key_name)
        .map_err(|e| StoreError::backend("generating the log signing key", e))?;
    match client
        .put_parameter()
        .name(parameter)
        .value(key.private_key())
        .r#type(ParameterType::SecureString)
        .overwrite(false)
        .send()
        .await
    {
        Ok(_) => Ok(key),
        Err(e)
            if matches!(
                e.as_service_error(),
                Some(PutParameterError::ParameterAlreadyExists(_))
            ) =>
        {
            read()
                .await?
                .ok_or_else(|| StoreError::backend(context, "the parameter vanished"))
        }
        Err(e) => Err(StoreError::backend(
            format!("saving the signing key to SSM parameter {parameter}"),
            aws_sdk_ssm::error::DisplayErrorContext(e).to_string(),
        )),
    }
}
