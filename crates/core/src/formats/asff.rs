//! asff (in progress).
