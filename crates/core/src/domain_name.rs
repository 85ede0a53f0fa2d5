//! Domain names as a validated type (IDNA 2008, label and length rules, public suffix list).
//! Owned by the domains work; see issue 4.
