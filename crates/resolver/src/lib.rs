//! stubborn: a stub DNS resolver with true deadlines.
