# Health checks decide where the failover records point. The operator moves traffic by
# inverting a health check (HealthCheckInvert mode) or by upserting the records' routing
# (RecordUpsert mode); Terraform ignores exactly those fields.

resource "aws_route53_health_check" "region" {
  for_each = var.health_checks

  fqdn              = each.value.fqdn
  port              = each.value.port
  type              = each.value.type
  resource_path     = each.value.resource_path
  failure_threshold = each.value.failure_threshold
  request_interval  = each.value.request_interval
  measure_latency   = true
  inverted          = false

  tags = {
    Name   = "${var.name}-${each.key}"
    Region = each.key
  }

  lifecycle {
    ignore_changes = [inverted]
  }
}

resource "aws_route53_record" "platform" {
  for_each = var.dns_records

  zone_id         = var.hosted_zone_id
  name            = each.value.name
  type            = each.value.type
  set_identifier  = each.value.set_identifier
  health_check_id = aws_route53_health_check.region[each.value.health_check_region].id

  alias {
    name                   = each.value.alias_name
    zone_id                = each.value.alias_zone_id
    evaluate_target_health = each.value.evaluate_target_health
  }

  dynamic "failover_routing_policy" {
    for_each = each.value.failover == null ? [] : [each.value.failover]

    content {
      type = failover_routing_policy.value
    }
  }

  dynamic "weighted_routing_policy" {
    for_each = each.value.weight == null ? [] : [each.value.weight]

    content {
      weight = weighted_routing_policy.value
    }
  }

  lifecycle {
    ignore_changes = [failover_routing_policy, weighted_routing_policy]
  }
}
