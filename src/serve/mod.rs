//! `syncline serve`: what runs pipelines unattended, and tells people when they need them.

pub mod alerts;
