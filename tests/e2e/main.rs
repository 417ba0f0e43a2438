//! End-to-end tests against the real server: one test binary (faster to link), one module per
//! area.

mod bad_input;
mod browser;
mod console;
mod console_browser;
mod handoff;
mod learning;
mod learning_browser;
mod nps;
mod reports;
mod reports_browser;
mod store;
mod telegram;
mod value;
mod widget;
