//! Intake channels and their keys (being built).
