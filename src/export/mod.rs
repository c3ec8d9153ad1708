//! What a drill leaves for other systems besides its report: a Prometheus
//! textfile-collector file for monitoring, and JUnit XML for CI servers.
//! Both are pure renderings of the report; writing them is the caller's.

pub mod junit;
pub mod metrics;
