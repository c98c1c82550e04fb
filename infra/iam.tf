# The operator's IAM role: assumed only by its ServiceAccount through IRSA, allowed only the
# calls the operator makes, each on the resources named by this module's variables where
# the AWS API accepts a resource.

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

locals {
  account_id  = data.aws_caller_identity.current.account_id
  partition   = data.aws_partition.current.partition
  oidc_issuer = trimprefix(var.oidc_provider_url, "https://")

  global_cluster_arns = var.global_cluster_identifier == null ? [] : [
    "arn:${local.partition}:rds::${local.account_id}:global-cluster:${var.global_cluster_identifier}",
  ]

  hosted_zone_arn   = "arn:${local.partition}:route53:::hostedzone/${var.hosted_zone_id}"
  health_check_arns = [for check in aws_route53_health_check.region : check.arn]
  dns_record_names  = distinct([for record in values(var.dns_records) : trimsuffix(lower(record.name), ".")])

  appconfig_application_arn = aws_appconfig_application.platform.arn
  appconfig_environment_arn = aws_appconfig_environment.platform.arn
  appconfig_profile_arn     = aws_appconfig_configuration_profile.flags.arn
  appconfig_strategy_arn    = aws_appconfig_deployment_strategy.immediate.arn

  audit_table_arns = [
    aws_dynamodb_table.audit.arn,
    "${aws_dynamodb_table.audit.arn}/index/by-time",
  ]
}

data "aws_iam_policy_document" "trust" {
  statement {
    sid     = "ServiceAccountWebIdentity"
    effect  = "Allow"
    actions = ["sts:AssumeRoleWithWebIdentity"]

    principals {
      type        = "Federated"
      identifiers = [var.oidc_provider_arn]
    }

    condition {
      test     = "StringEquals"
      variable = "${local.oidc_issuer}:sub"
      values   = ["system:serviceaccount:${var.service_account_namespace}:${var.service_account_name}"]
    }

    condition {
      test     = "StringEquals"
      variable = "${local.oidc_issuer}:aud"
      values   = ["sts.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "operator" {
  name                 = "${var.name}-operator"
  description          = "commandbridge-operator in ${var.service_account_namespace}/${var.service_account_name}"
  assume_role_policy   = data.aws_iam_policy_document.trust.json
  permissions_boundary = var.permissions_boundary_arn
  max_session_duration = 3600
}

data "aws_iam_policy_document" "operator" {
  # Aurora: read the topology, move the writer. Switchover and failover name both the global
  # cluster and the target member, so both kinds of ARN are listed.
  statement {
    sid    = "AuroraWriter"
    effect = "Allow"
    actions = [
      "rds:DescribeGlobalClusters",
      "rds:DescribeDBClusters",
      "rds:SwitchoverGlobalCluster",
      "rds:FailoverGlobalCluster",
      "rds:PromoteReadReplicaDBCluster",
    ]
    resources = concat(local.global_cluster_arns, var.db_cluster_arns)
  }

  statement {
    sid       = "Route53ReadZone"
    effect    = "Allow"
    actions   = ["route53:ListResourceRecordSets"]
    resources = [local.hosted_zone_arn]
  }

  statement {
    sid       = "Route53WaitForChange"
    effect    = "Allow"
    actions   = ["route53:GetChange"]
    resources = ["arn:${local.partition}:route53:::change/*"]
  }

  statement {
    sid    = "Route53HealthChecks"
    effect = "Allow"
    actions = [
      "route53:GetHealthCheck",
      "route53:GetHealthCheckStatus",
      "route53:UpdateHealthCheck",
    ]
    resources = local.health_check_arns
  }

  # RecordUpsert mode: only UPSERTs, only of the record names this module manages.
  dynamic "statement" {
    for_each = length(local.dns_record_names) > 0 ? [1] : []

    content {
      sid       = "Route53UpsertRecords"
      effect    = "Allow"
      actions   = ["route53:ChangeResourceRecordSets"]
      resources = [local.hosted_zone_arn]

      condition {
        test     = "ForAllValues:StringEquals"
        variable = "route53:ChangeResourceRecordSetsNormalizedRecordNames"
        values   = local.dns_record_names
      }

      condition {
        test     = "ForAllValues:StringEquals"
        variable = "route53:ChangeResourceRecordSetsActions"
        values   = ["UPSERT"]
      }
    }
  }

  # AppConfig: ListApplications and ListDeploymentStrategies accept no resource; the
  # operator uses them to resolve names to ids.
  statement {
    sid    = "AppConfigResolveNames"
    effect = "Allow"
    actions = [
      "appconfig:ListApplications",
      "appconfig:ListDeploymentStrategies",
    ]
    resources = ["*"]
  }

  statement {
    sid    = "AppConfigReadApplication"
    effect = "Allow"
    actions = [
      "appconfig:ListEnvironments",
      "appconfig:ListConfigurationProfiles",
    ]
    resources = [local.appconfig_application_arn]
  }

  statement {
    sid    = "AppConfigFlagVersions"
    effect = "Allow"
    actions = [
      "appconfig:ListHostedConfigurationVersions",
      "appconfig:CreateHostedConfigurationVersion",
      "appconfig:GetHostedConfigurationVersion",
    ]
    resources = [
      local.appconfig_profile_arn,
      "${local.appconfig_profile_arn}/hostedconfigurationversion/*",
    ]
  }

  statement {
    sid     = "AppConfigDeployFlag"
    effect  = "Allow"
    actions = ["appconfig:StartDeployment"]
    resources = [
      local.appconfig_application_arn,
      local.appconfig_environment_arn,
      local.appconfig_profile_arn,
      local.appconfig_strategy_arn,
    ]
  }

  statement {
    sid    = "AppConfigWatchDeployments"
    effect = "Allow"
    actions = [
      "appconfig:ListDeployments",
      "appconfig:GetDeployment",
    ]
    resources = [
      local.appconfig_environment_arn,
      "${local.appconfig_environment_arn}/deployment/*",
    ]
  }

  statement {
    sid    = "AuditTrailAndLocks"
    effect = "Allow"
    actions = [
      "dynamodb:PutItem",
      "dynamodb:GetItem",
      "dynamodb:DeleteItem",
      "dynamodb:Query",
    ]
    resources = local.audit_table_arns
  }

  # A customer-managed key on the table needs the caller's use of it, through DynamoDB only.
  dynamic "statement" {
    for_each = var.audit_table_kms_key_arn == null ? [] : [var.audit_table_kms_key_arn]

    content {
      sid    = "AuditTableKey"
      effect = "Allow"
      actions = [
        "kms:Decrypt",
        "kms:Encrypt",
        "kms:GenerateDataKey*",
        "kms:DescribeKey",
      ]
      resources = [statement.value]

      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = ["dynamodb.${var.region}.amazonaws.com"]
      }
    }
  }

  # GetMetricData accepts no resource; the preflight reads AuroraGlobalDBReplicationLag.
  dynamic "statement" {
    for_each = var.allow_replication_lag_metrics ? [1] : []

    content {
      sid       = "ReplicationLagMetrics"
      effect    = "Allow"
      actions   = ["cloudwatch:GetMetricData"]
      resources = ["*"]
    }
  }
}

resource "aws_iam_policy" "operator" {
  name        = "${var.name}-operator"
  description = "What commandbridge-operator calls, and nothing else."
  policy      = data.aws_iam_policy_document.operator.json
}

resource "aws_iam_role_policy_attachment" "operator" {
  role       = aws_iam_role.operator.name
  policy_arn = aws_iam_policy.operator.arn
}
