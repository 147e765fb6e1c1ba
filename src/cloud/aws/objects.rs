//! S3 objects for the S3 state backend (`state::s3`): get, and put and delete under a
//! condition (`If-None-Match: *`, `If-Match: ETAG`). The client is built from the verified
//! config of the account `[project.state]` names, so the state is read and written with that
//! account's credentials; a refused condition is AWS's own answer, told apart by
//! [`is_refused`].

use super::{AwsCloud, errors};
use crate::cloud::CloudError;
use crate::model::Target;
use aws_sdk_s3::primitives::ByteStream;

/// One bucket, reached with one account's credentials.
#[derive(Clone)]
pub struct ObjectStore {
    client: aws_sdk_s3::Client,
    bucket: String,
    target: Target,
}

/// An object as read: its bytes and its ETag.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Object {
    pub body: Vec<u8>,
    pub etag: String,
}

/// When a write may happen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Condition {
    /// Only if no object has the key (`If-None-Match: *`).
    Absent,
    /// Only if the object's ETag is still this one (`If-Match`).
    Matches(String),
}

/// Whether `e` is S3 refusing a write's condition: the ETag changed, the object exists, or
/// another conditional write to the key was in progress.
pub fn is_refused(e: &CloudError) -> bool {
    e.code().is_some_and(|c| {
        matches!(
            c,
            "PreconditionFailed" | "ConditionalRequestConflict" | "412" | "409"
        )
    })
}

impl AwsCloud {
    /// The bucket `bucket` in `target`'s account and region, with that account's verified
    /// credentials. Against an emulator (`AWS_ENDPOINT_URL`) requests are path-style.
    pub async fn object_store(
        &self,
        target: &Target,
        bucket: &str,
    ) -> Result<ObjectStore, CloudError> {
        let config = self.verified(target).await?;
        let path_style = config.endpoint_url().is_some();
        let config = aws_sdk_s3::config::Builder::from(&config)
            .force_path_style(path_style)
            .interceptor(errors::RetryNotice)
            .build();
        Ok(ObjectStore {
            client: aws_sdk_s3::Client::from_conf(config),
            bucket: bucket.to_string(),
            target: target.clone(),
        })
    }
}

impl ObjectStore {
    /// `s3://bucket/key`, as messages name an object.
    pub fn url(&self, key: &str) -> String {
        format!("s3://{}/{key}", self.bucket)
    }

    /// The object at `key`, or `None` if there is none.
    pub async fn get(&self, key: &str) -> Result<Option<Object>, CloudError> {
        let answer = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await;
        let out = match answer {
            Ok(out) => out,
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => return Ok(None),
            Err(e) => return Err(errors::api("GetObject", &self.target, e)),
        };
        let etag = out.e_tag().unwrap_or_default().to_string();
        let body = out
            .body
            .collect()
            .await
            .map_err(|e| CloudError::Unreadable {
                operation: "GetObject".into(),
                account_id: self.target.account_id.clone(),
                region: self.target.region.clone(),
                what: format!("the body of {} was cut short: {e}", self.url(key)),
            })?;
        Ok(Some(Object {
            body: body.into_bytes().to_vec(),
            etag,
        }))
    }

    /// Writes `body` at `key` if `condition` holds (or unconditionally), and returns the new
    /// ETag. A refused condition is an error [`is_refused`] recognises.
    pub async fn put(
        &self,
        key: &str,
        body: Vec<u8>,
        condition: Option<&Condition>,
    ) -> Result<String, CloudError> {
        let mut call = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type("application/json")
            .body(ByteStream::from(body));
        call = match condition {
            Some(Condition::Absent) => call.if_none_match("*"),
            Some(Condition::Matches(etag)) => call.if_match(etag),
            None => call,
        };
        let out = call
            .send()
            .await
            .map_err(|e| errors::api("PutObject", &self.target, e))?;
        Ok(out.e_tag().unwrap_or_default().to_string())
    }

    /// Deletes `key`, only while its ETag is `etag` when one is given.
    pub async fn delete(&self, key: &str, etag: Option<&str>) -> Result<(), CloudError> {
        let mut call = self.client.delete_object().bucket(&self.bucket).key(key);
        if let Some(etag) = etag {
            call = call.if_match(etag);
        }
        call.send()
            .await
            .map_err(|e| errors::api("DeleteObject", &self.target, e))?;
        Ok(())
    }
}
