//! ffi (issue 4)
