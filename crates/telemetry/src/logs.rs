//! Log streams: see the crate documentation.
