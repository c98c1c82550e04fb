//! The CommandBridge audit trail in DynamoDB: one item per action the operator takes.
//!
//! Keys are deterministic (`pk` names the execution or window occurrence, `sk` the step and its
//! transition) and every write is conditional on `attribute_not_exists(pk)`, so a retried write
//! never duplicates and never overwrites. A `by-time` index (`day`, `at`) serves "everything in
//! a time range"; `pk` serves "everything of one execution".

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use serde::{Deserialize, Serialize};

use crate::config::AwsClients;
use crate::error::{self, Result};

/// One audit record. Serializable so that records that could not be written yet wait in the
/// resource's status, where a restart does not lose them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditItem {
    /// `EXECUTION#<id>` or `WINDOW#<namespace>/<name>#<window start>`.
    pub pk: String,
    /// `<step index>#<step>#<state>` for executions, `ON`/`OFF` for windows.
    pub sk: String,
    /// FailoverPlan or MaintenanceWindow.
    pub kind: String,
    /// `<namespace>/<name>` of the resource.
    pub resource: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
    /// The transition: Running, Succeeded, Failed, On, Off...
    pub state: String,
    /// Who asked: the approver, or the manager of the change that triggered it.
    pub actor: String,
    /// The AWS resource acted on (ARN, id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    pub outcome: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aws_request_id: Option<String>,
    /// RFC 3339 time of the transition.
    pub at: String,
    /// When it was due (a window boundary), so that a change made late, after the operator was
    /// down across the boundary, says both when it should have happened and when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due_at: Option<String>,
}

impl AuditItem {
    fn to_attributes(&self) -> HashMap<String, AttributeValue> {
        let mut item = HashMap::new();
        let mut put = |key: &str, value: &str| {
            item.insert(key.to_string(), AttributeValue::S(value.to_string()));
        };
        put("pk", &self.pk);
        put("sk", &self.sk);
        put("kind", &self.kind);
        put("resource", &self.resource);
        put("state", &self.state);
        put("actor", &self.actor);
        put("outcome", &self.outcome);
        put("at", &self.at);
        put("day", self.at.get(..10).unwrap_or(&self.at));
        for (key, value) in [
            ("execution", &self.execution),
            ("step", &self.step),
            ("target", &self.target),
            ("message", &self.message),
            ("awsRequestId", &self.aws_request_id),
            ("dueAt", &self.due_at),
        ] {
            if let Some(value) = value {
                put(key, value);
            }
        }
        item
    }
}

/// Whether a write stored a new item or found it already there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    New,
    AlreadyThere,
}

#[derive(Clone)]
pub struct AuditLog {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

impl AuditLog {
    pub fn new(clients: &AwsClients) -> Self {
        AuditLog {
            client: clients.dynamodb.clone(),
            table: clients.audit_table.clone(),
        }
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    /// Writes one item unless an item with its key exists.
    pub async fn write(&self, item: &AuditItem) -> Result<Written> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item.to_attributes()))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        match result {
            Ok(_) => Ok(Written::New),
            Err(e) => {
                let err = error::aws("dynamodb", "PutItem", e);
                if err.aws_code() == Some("ConditionalCheckFailedException") {
                    Ok(Written::AlreadyThere)
                } else {
                    Err(err)
                }
            }
        }
    }

    /// Writes items in order and returns those that could not be written (the first failure
    /// and everything after it, so that order is kept).
    pub async fn write_all(&self, items: Vec<AuditItem>) -> Vec<AuditItem> {
        let mut items = items.into_iter();
        while let Some(item) = items.next() {
            if let Err(err) = self.write(&item).await {
                tracing::warn!(error = %err, pk = %item.pk, sk = %item.sk, "audit table unreachable; keeping the item to write later");
                return std::iter::once(item).chain(items).collect();
            }
        }
        Vec::new()
    }

    /// Every item of one execution or window occurrence, in key order.
    pub async fn items_of(&self, pk: &str) -> Result<Vec<HashMap<String, String>>> {
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", AttributeValue::S(pk.to_string()))
            .send()
            .await
            .map_err(|e| error::aws("dynamodb", "Query", e))?;
        Ok(output
            .items()
            .iter()
            .map(|item| {
                item.iter()
                    .filter_map(|(k, v)| v.as_s().ok().map(|s| (k.clone(), s.clone())))
                    .collect()
            })
            .collect())
    }

    /// Checks that the table answers (a read of one key).
    pub async fn check_reachable(&self) -> Result<()> {
        self.client
            .get_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S("HEALTH".into()))
            .key("sk", AttributeValue::S("HEALTH".into()))
            .send()
            .await
            .map_err(|e| error::aws("dynamodb", "GetItem", e))?;
        Ok(())
    }
}

/// Most audit items kept in a resource's status while the table cannot be reached. Past it the
/// execution waits rather than drop a record.
pub const MAX_PENDING: usize = 64;
