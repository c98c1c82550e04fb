//! Narrow adapters over the AWS services the operator drives. Each file owns one service and
//! exposes only the reads and the few mutations the plan needs; every mutation returns the AWS
//! request id so that status and audit can name it.

pub mod appconfig;
pub mod metrics;
pub mod rds;
pub mod route53;

/// The region part of an ARN (`arn:aws:rds:eu-west-2:...` gives `eu-west-2`).
pub fn arn_region(arn: &str) -> Option<&str> {
    arn.split(':').nth(3).filter(|r| !r.is_empty())
}
