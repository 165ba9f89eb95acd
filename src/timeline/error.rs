//! Why an event breaks a rule of its org's timeline.

use std::fmt;

#[derive(Debug)]
pub enum RuleError {}

impl fmt::Display for RuleError {
    fn fmt(&self, _: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {}
    }
}

impl std::error::Error for RuleError {}
