//! What the ledger layer refuses or finds wrong.

use std::fmt;

use crate::error::ErrorKind;

#[derive(Debug)]
pub enum Error {}

impl Error {
    pub fn kind(&self) -> ErrorKind {
        match *self {}
    }
}

impl fmt::Display for Error {
    fn fmt(&self, _: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {}
    }
}

impl std::error::Error for Error {}
