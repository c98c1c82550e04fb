//! Mutual exclusion between executions that touch the same global cluster or hosted zone,
//! across operators in different clusters. A lock is an item in the audit table
//! (`pk = LOCK#<kind>#<id>`) written with a condition: free, expired, or already ours. It
//! expires on its own, so that a dead operator blocks others for at most the lease.

use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;

use crate::config::AwsClients;
use crate::error::{self, Result};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Acquired {
    Yes,
    /// Someone else holds it: who, and until when (epoch seconds).
    HeldBy {
        holder: String,
        expires_at: i64,
    },
}

#[derive(Clone)]
pub struct Locks {
    client: aws_sdk_dynamodb::Client,
    table: String,
    lease: Duration,
}

impl Locks {
    pub fn new(clients: &AwsClients, lease: Duration) -> Self {
        Locks {
            client: clients.dynamodb.clone(),
            table: clients.audit_table.clone(),
            lease,
        }
    }

    /// Takes or renews the lock `key` for `holder`.
    pub async fn acquire(&self, key: &str, holder: &str) -> Result<Acquired> {
        let now = now_epoch();
        let expires = now + self.lease.as_secs() as i64;
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", AttributeValue::S(key.to_string()))
            .item("sk", AttributeValue::S("LOCK".into()))
            .item("holder", AttributeValue::S(holder.to_string()))
            .item("expiresAt", AttributeValue::N(expires.to_string()))
            .condition_expression("attribute_not_exists(pk) OR holder = :me OR expiresAt < :now")
            .expression_attribute_values(":me", AttributeValue::S(holder.to_string()))
            .expression_attribute_values(":now", AttributeValue::N(now.to_string()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(Acquired::Yes),
            Err(e) => {
                let err = error::aws("dynamodb", "PutItem", e);
                if err.aws_code() != Some("ConditionalCheckFailedException") {
                    return Err(err);
                }
                let (holder, expires_at) = self.holder(key).await?.unwrap_or_default();
                Ok(Acquired::HeldBy { holder, expires_at })
            }
        }
    }

    /// Releases the lock if `holder` still holds it.
    pub async fn release(&self, key: &str, holder: &str) -> Result<()> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(key.to_string()))
            .key("sk", AttributeValue::S("LOCK".into()))
            .condition_expression("holder = :me")
            .expression_attribute_values(":me", AttributeValue::S(holder.to_string()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) => {
                let err = error::aws("dynamodb", "DeleteItem", e);
                if err.aws_code() == Some("ConditionalCheckFailedException") {
                    Ok(())
                } else {
                    Err(err)
                }
            }
        }
    }

    async fn holder(&self, key: &str) -> Result<Option<(String, i64)>> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(key.to_string()))
            .key("sk", AttributeValue::S("LOCK".into()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| error::aws("dynamodb", "GetItem", e))?;
        Ok(output.item().map(|item| {
            let holder = item
                .get("holder")
                .and_then(|v| v.as_s().ok())
                .cloned()
                .unwrap_or_default();
            let expires = item
                .get("expiresAt")
                .and_then(|v| v.as_n().ok())
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
            (holder, expires)
        }))
    }
}

fn now_epoch() -> i64 {
    jiff::Timestamp::now().as_second()
}
