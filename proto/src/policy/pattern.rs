//! A rule's pattern on a tool's input.
