//! What every command module uses.

pub(crate) use std::error::Error;
pub(crate) use std::io::{self, IsTerminal, Read, Write};

pub(crate) use chrono::{DateTime, Utc};
pub(crate) use clap::{Args, ValueEnum};
pub(crate) use serde_json::{Value, json};
pub(crate) use vigil_core::store::{
    AlertQuery, ErrorKind, Feedback, FeedbackQuery, FeedbackReason, IngestReport, Order,
    ResourceFilter, StatusChange, Store, StoreError, StoredAlert, TenantId, disable_rule,
};
pub(crate) use vigil_core::suppression::{SuppressionReason, SuppressionRule};
pub(crate) use vigil_core::{Alert, AlertId, KillChainIntent, Severity, Status, defender};

pub(crate) use crate::RulesCommand;
pub(crate) use crate::args::*;
pub(crate) use crate::output::*;
