variable "region" {
  description = "Region of the audit table and the AppConfig application: the operator's --region."
  type        = string
  default     = "eu-west-2"
}

variable "name" {
  description = "Prefix of every named resource this module creates."
  type        = string
  default     = "commandbridge"
}

variable "tags" {
  description = "Tags on every resource."
  type        = map(string)
  default     = {}
}

# --- IRSA ---------------------------------------------------------------------------------

variable "oidc_provider_arn" {
  description = "ARN of the EKS cluster's IAM OIDC provider."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:oidc-provider/", var.oidc_provider_arn))
    error_message = "oidc_provider_arn is an IAM OIDC provider ARN."
  }
}

variable "oidc_provider_url" {
  description = "Issuer URL of the EKS cluster's OIDC provider, with or without https://."
  type        = string
}

variable "service_account_namespace" {
  description = "Namespace the Helm release is installed in."
  type        = string
  default     = "commandbridge"
}

variable "service_account_name" {
  description = "ServiceAccount of the operator (the chart's serviceAccount.name)."
  type        = string
  default     = "commandbridge-operator"
}

variable "permissions_boundary_arn" {
  description = "Permissions boundary for the operator's role, when the account requires one."
  type        = string
  default     = null
}

# --- Audit table --------------------------------------------------------------------------

variable "audit_table_name" {
  description = "DynamoDB table of the audit trail and the lock items: the operator's --audit-table."
  type        = string
  default     = "commandbridge-audit"
}

variable "audit_table_kms_key_arn" {
  description = "Customer-managed KMS key for the audit table. null: the AWS-managed key aws/dynamodb."
  type        = string
  default     = null
}

variable "audit_table_deletion_protection" {
  description = "Refuse DeleteTable on the audit table."
  type        = bool
  default     = true
}

# --- Aurora -------------------------------------------------------------------------------

variable "global_cluster_identifier" {
  description = "Aurora global cluster the operator switches over or fails over. null: none (plain cross-region replica)."
  type        = string
  default     = null
}

variable "db_cluster_arns" {
  description = "ARNs of the regional Aurora clusters the operator reads, promotes or makes writer, in both regions."
  type        = list(string)

  validation {
    condition     = length(var.db_cluster_arns) > 0 && alltrue([for arn in var.db_cluster_arns : can(regex("^arn:aws[a-z-]*:rds:[a-z0-9-]+:[0-9]{12}:cluster:", arn))])
    error_message = "db_cluster_arns holds at least one Aurora cluster ARN (arn:aws:rds:<region>:<account>:cluster:<id>)."
  }
}

# --- Route 53 -----------------------------------------------------------------------------

variable "hosted_zone_id" {
  description = "Hosted zone that holds the platform's failover records."
  type        = string
}

variable "health_checks" {
  description = "One Route 53 health check per region, keyed by region. The operator inverts them to move traffic."
  type = map(object({
    fqdn              = string
    port              = optional(number, 443)
    type              = optional(string, "HTTPS")
    resource_path     = optional(string, "/health")
    failure_threshold = optional(number, 3)
    request_interval  = optional(number, 30)
  }))

  validation {
    condition     = length(var.health_checks) > 0
    error_message = "health_checks holds one entry per region, at least one."
  }
}

variable "dns_records" {
  description = <<-EOT
    Failover or weighted record sets the operator moves in RecordUpsert mode, keyed by a
    short name. health_check_region names an entry of health_checks. Empty: Terraform
    manages no records here (DNS mode HealthCheckInvert, or records owned elsewhere).
  EOT
  type = map(object({
    name                   = string
    type                   = optional(string, "A")
    set_identifier         = string
    health_check_region    = string
    failover               = optional(string)
    weight                 = optional(number)
    alias_name             = string
    alias_zone_id          = string
    evaluate_target_health = optional(bool, true)
  }))
  default = {}

  validation {
    condition = alltrue([
      for record in values(var.dns_records) :
      (record.failover == null) != (record.weight == null)
    ])
    error_message = "Each record sets exactly one of failover (PRIMARY or SECONDARY) and weight."
  }
}

# --- AppConfig ----------------------------------------------------------------------------

variable "appconfig_application_name" {
  description = "AppConfig application of the platform."
  type        = string
  default     = "scotaccount"
}

variable "appconfig_environment_name" {
  description = "AppConfig environment the portal and APIs read their flags from."
  type        = string
  default     = "production"
}

variable "appconfig_profile_name" {
  description = "Feature-flag configuration profile that holds the maintenance flag."
  type        = string
  default     = "feature-flags"
}

variable "maintenance_flag_name" {
  description = "Feature flag the operator turns on and off."
  type        = string
  default     = "maintenance_mode"
}

variable "appconfig_deployment_strategy_name" {
  description = "Deployment strategy for flag changes: all at once, no bake time, so maintenance starts and ends at once."
  type        = string
  default     = "commandbridge-immediate"
}

# --- CloudWatch ---------------------------------------------------------------------------

variable "allow_replication_lag_metrics" {
  description = "Allow cloudwatch:GetMetricData, which the preflight uses to read Aurora replication lag."
  type        = bool
  default     = true
}
