//! The synthetic clinic: schema and deterministic data for fixtures and tests.

pub mod generate;
pub mod mariadb;
