//! HTTP tests: the real server on a random port, driven over HTTP, each test
//! on SQLite and on PostgreSQL (see `helpers::on_both_backends!`).

mod helpers;

mod bundles;
mod conditional;
mod crud;
mod delivery;
mod durability;
mod errors;
mod examples;
mod feed;
mod formats;
mod history;
mod index;
mod patch;
mod search;
mod search_parameters;
mod subscription_kill;
mod subscriptions;
mod synthea;
mod terminology;
mod validation;
