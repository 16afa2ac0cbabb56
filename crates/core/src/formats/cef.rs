//! cef (in progress).
