//! `hark user …`: staff accounts from the command line (the first owner is made here).

use std::io::BufRead;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use hark_bot::accounts::{Accounts, NewUser, normalise_email};
use hark_bot::store::{Role, Staff, Store};

#[derive(Subcommand)]
pub enum UserCommand {
    /// Add an owner or agent. Without --password-stdin, prints a one-time invitation link.
    Add(AddArgs),
    /// List staff accounts.
    List,
    /// Set a user's password (read from stdin) and end their sessions.
    Password { email: String },
    /// Print a new invitation link for a user (to set or reset their password).
    Invite { email: String },
    /// Disable a user and end their sessions.
    Disable { email: String },
    /// Enable a disabled user again.
    Enable { email: String },
}

#[derive(Args)]
pub struct AddArgs {
    #[arg(long, value_parser = parse_role)]
    role: Role,
    #[arg(long)]
    email: String,
    /// Display name shown to customers and colleagues.
    #[arg(long)]
    name: String,
    /// Conversations the agent handles at once (auto-assignment).
    #[arg(long, default_value_t = 5)]
    capacity: i64,
    /// Read the password from the first line of stdin instead of printing an invitation.
    #[arg(long)]
    password_stdin: bool,
}

fn parse_role(raw: &str) -> Result<Role, String> {
    raw.parse()
        .map_err(|_| "role must be owner or agent".to_owned())
}

fn read_password() -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("reading the password from stdin")?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

async fn find(store: &Store, email: &str) -> anyhow::Result<Staff> {
    let email = normalise_email(email)?;
    match store.staff_credentials(&email).await? {
        Some((staff, _)) => Ok(staff),
        None => bail!("no user with email {email}"),
    }
}

fn invite_link(public_url: &str, token: &str) -> String {
    format!(
        "{}/console/invite#{token}",
        public_url.trim_end_matches('/')
    )
}

pub async fn run(command: UserCommand, database_url: &str, public_url: &str) -> anyhow::Result<()> {
    let store = Store::connect(database_url).await?;
    let accounts = Accounts::new(store.clone());
    match command {
        UserCommand::Add(args) => {
            let password = if args.password_stdin {
                Some(read_password()?)
            } else {
                None
            };
            let (staff, invite) = accounts
                .add_user(NewUser {
                    email: args.email,
                    display_name: args.name,
                    role: args.role,
                    capacity: args.capacity,
                    password,
                })
                .await?;
            println!(
                "added {} {} ({})",
                staff.role, staff.email, staff.display_name
            );
            if let Some(token) = invite {
                println!(
                    "invitation (valid 7 days): {}",
                    invite_link(public_url, &token)
                );
            }
        }
        UserCommand::List => {
            for s in store.list_staff().await? {
                let state = if s.disabled { "disabled" } else { "active" };
                println!(
                    "{}\t{}\t{}\t{}\tcapacity {}",
                    s.email, s.role, s.display_name, state, s.capacity
                );
            }
        }
        UserCommand::Password { email } => {
            let staff = find(&store, &email).await?;
            accounts.set_password(staff.id, &read_password()?).await?;
            println!(
                "password set for {}; their sessions were ended",
                staff.email
            );
        }
        UserCommand::Invite { email } => {
            let staff = find(&store, &email).await?;
            let token = accounts.invite(staff.id).await?;
            println!(
                "invitation (valid 7 days): {}",
                invite_link(public_url, &token)
            );
        }
        UserCommand::Disable { email } => {
            let staff = find(&store, &email).await?;
            accounts.set_disabled(staff.id, true).await?;
            println!("disabled {}", staff.email);
        }
        UserCommand::Enable { email } => {
            let staff = find(&store, &email).await?;
            accounts.set_disabled(staff.id, false).await?;
            println!("enabled {}", staff.email);
        }
    }
    store.close().await;
    Ok(())
}
