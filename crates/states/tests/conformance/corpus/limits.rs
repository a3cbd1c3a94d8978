//! The service's limits (the guide's "Step Functions service quotas").

use super::Case;

pub fn cases() -> Vec<Case> {
    Vec::new()
}
