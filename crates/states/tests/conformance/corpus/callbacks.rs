//! Callbacks (`.waitForTaskToken`) and heartbeats.

use super::Case;

pub fn cases() -> Vec<Case> {
    Vec::new()
}
