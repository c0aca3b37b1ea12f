//! server (issue 3)
