# The audit trail and the lock items share one table. Audit items are never updated or
# deleted by the operator; lock items expire through TTL on expiresAt.

resource "aws_dynamodb_table" "audit" {
  #checkov:skip=CKV_AWS_119:Encryption at rest is always on (aws/dynamodb by default); a customer-managed key is opt-in through var.audit_table_kms_key_arn because its key policy belongs to the account's KMS owners.
  name                        = var.audit_table_name
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "pk"
  range_key                   = "sk"
  deletion_protection_enabled = var.audit_table_deletion_protection

  attribute {
    name = "pk"
    type = "S"
  }

  attribute {
    name = "sk"
    type = "S"
  }

  attribute {
    name = "day"
    type = "S"
  }

  attribute {
    name = "at"
    type = "S"
  }

  # "All events in a time range": one partition per UTC day, sorted by timestamp.
  global_secondary_index {
    name            = "by-time"
    hash_key        = "day"
    range_key       = "at"
    projection_type = "ALL"
  }

  ttl {
    attribute_name = "expiresAt"
    enabled        = true
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = var.audit_table_kms_key_arn
  }
}
