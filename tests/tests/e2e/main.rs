//! End-to-end tests: the whole wacrm service over HTTP against real PostgreSQL.
//! One binary, so the embedded cluster and the template database are set up
//! once per run.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod harness;

mod api_keys;
mod audience_fixtures;
mod audiences;
mod auth;
mod bots;
mod bulk_inserts;
mod campaigns;
mod consent;
mod contact_imports;
mod crash_recovery;
mod crm;
mod database_restart;
mod egress;
mod embedded;
mod errors;
mod inbound;
mod jobs;
mod login_burst;
mod notifications;
mod outbound;
mod permissions;
mod quick_replies;
mod realtime;
mod segments;
mod service;
mod staff;
mod tickets;
mod visibility;
mod webhook_endpoints;
mod whatsapp_contacts;
mod whatsapp_groups;
