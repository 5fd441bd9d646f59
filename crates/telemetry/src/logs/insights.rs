//! Logs Insights queries: arrive in a later commit.
