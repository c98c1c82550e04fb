# The maintenance flag. Terraform creates the application, environment, profile, strategy
# and the first version of the flag (off); from then on the operator writes new hosted
# versions and starts deployments, and Terraform leaves both alone.

locals {
  initial_flags = {
    version = "1"
    flags = {
      (var.maintenance_flag_name) = {
        name        = var.maintenance_flag_name
        description = "Portal and APIs answer with the maintenance page. Owned by commandbridge-operator."
      }
    }
    values = {
      (var.maintenance_flag_name) = {
        enabled = false
      }
    }
  }
}

resource "aws_appconfig_application" "platform" {
  name        = var.appconfig_application_name
  description = "ScotAccount platform configuration"
}

resource "aws_appconfig_environment" "platform" {
  name           = var.appconfig_environment_name
  description    = "Flags read by the ScotAccount portal and APIs"
  application_id = aws_appconfig_application.platform.id
}

resource "aws_appconfig_configuration_profile" "flags" {
  name           = var.appconfig_profile_name
  description    = "Feature flags, including ${var.maintenance_flag_name}"
  application_id = aws_appconfig_application.platform.id
  location_uri   = "hosted"
  type           = "AWS.AppConfig.FeatureFlags"
}

resource "aws_appconfig_deployment_strategy" "immediate" {
  name                           = var.appconfig_deployment_strategy_name
  description                    = "All targets at once, no bake time: maintenance starts and ends when asked"
  deployment_duration_in_minutes = 0
  final_bake_time_in_minutes     = 0
  growth_factor                  = 100
  growth_type                    = "LINEAR"
  replicate_to                   = "NONE"
}

resource "aws_appconfig_hosted_configuration_version" "initial" {
  application_id           = aws_appconfig_application.platform.id
  configuration_profile_id = aws_appconfig_configuration_profile.flags.configuration_profile_id
  description              = "Initial flags (maintenance off), created by Terraform"
  content_type             = "application/json"
  content                  = jsonencode(local.initial_flags)

  # Versions are immutable and the operator adds its own; a change here must never replace
  # this one and deploy it over the operator's.
  lifecycle {
    ignore_changes = all
  }
}

resource "aws_appconfig_deployment" "initial" {
  application_id           = aws_appconfig_application.platform.id
  environment_id           = aws_appconfig_environment.platform.environment_id
  configuration_profile_id = aws_appconfig_configuration_profile.flags.configuration_profile_id
  configuration_version    = aws_appconfig_hosted_configuration_version.initial.version_number
  deployment_strategy_id   = aws_appconfig_deployment_strategy.immediate.id
  description              = "Initial flags, created by Terraform"

  # Redeploying the initial version would switch maintenance off behind the operator's back.
  lifecycle {
    ignore_changes = all
  }
}
