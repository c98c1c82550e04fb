output "role_arn" {
  description = "IAM role of the operator: the chart's serviceAccount.roleArn."
  value       = aws_iam_role.operator.arn
}

output "policy_arn" {
  description = "Least-privilege policy attached to the role."
  value       = aws_iam_policy.operator.arn
}

output "audit_table_name" {
  description = "Audit table: the chart's auditTable."
  value       = aws_dynamodb_table.audit.name
}

output "audit_table_arn" {
  description = "ARN of the audit table."
  value       = aws_dynamodb_table.audit.arn
}

output "hosted_zone_id" {
  description = "Hosted zone of the failover records: a FailoverPlan's DNS hosted zone."
  value       = var.hosted_zone_id
}

output "health_check_ids" {
  description = "Route 53 health check id per region: a FailoverPlan's health checks."
  value       = { for region, check in aws_route53_health_check.region : region => check.id }
}

output "appconfig_application_id" {
  description = "AppConfig application id."
  value       = aws_appconfig_application.platform.id
}

output "appconfig_environment_id" {
  description = "AppConfig environment id."
  value       = aws_appconfig_environment.platform.environment_id
}

output "appconfig_configuration_profile_id" {
  description = "Feature-flag configuration profile id."
  value       = aws_appconfig_configuration_profile.flags.configuration_profile_id
}

output "appconfig_deployment_strategy_id" {
  description = "Deployment strategy id for flag changes."
  value       = aws_appconfig_deployment_strategy.immediate.id
}

output "maintenance_flag_name" {
  description = "Feature flag the operator turns on and off."
  value       = var.maintenance_flag_name
}
