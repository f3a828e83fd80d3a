//! Integration tests of the workload, compiled as one test binary.

mod contracts;
