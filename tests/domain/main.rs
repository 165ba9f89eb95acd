//! Pure tests of the domain (rules, the uncertainty fold, parsers): no binary, no sled, milliseconds.

mod harness;

mod fold;
mod panel;
mod parsers;
mod rules;
