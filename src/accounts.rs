//! `verbatim admin …`: adding, removing and resetting the Secretariat's accounts from the
//! command line, on the embedded store (while `serve` runs or not: SQLite's WAL mode lets both
//! write) or on DynamoDB with `--store aws`. Passwords are read from standard input, without
//! echo on a terminal, never from the command line (where `ps` and shell history would show it).

use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::Subcommand;
use shared::domain::account::{AccountName, Password};
use shared::ports::SystemClock;
use shared::secretariat::people::People;
use shared::{Backend, Vars};

use crate::StoreKind;

#[derive(Subcommand)]
pub(crate) enum AdminCommand {
    /// Add a person's account; the password (at least 12 characters) is read from standard input.
    AddUser {
        name: String,
        /// The person may manage accounts in the console.
        #[arg(long)]
        admin: bool,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Remove an account; its console sessions end at once.
    RemoveUser {
        name: String,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Give an account a new password, read from standard input; its sessions end.
    ResetPassword {
        name: String,
        #[command(flatten)]
        store: StoreArgs,
    },
}

#[derive(clap::Args)]
pub(crate) struct StoreArgs {
    /// Data folder of the embedded store (as `verbatim serve --data`).
    #[arg(long, default_value = "./verbatim-data")]
    data: PathBuf,
    /// The store, as `verbatim serve --store` (with `aws`: the table named by VERBATIM_TABLE).
    #[arg(long, value_enum, default_value = "embedded")]
    store: StoreKind,
}

async fn people(args: &StoreArgs) -> anyhow::Result<People> {
    let accounts = match args.store {
        StoreKind::Embedded => Backend::embedded_accounts(&args.data)?,
        StoreKind::Aws => {
            let names = shared::AwsNames::from_vars(&Vars::from_iter(std::env::vars()))?;
            let config = aws_config::load_from_env().await;
            Backend::aws_accounts(&config, &names)
        }
    };
    Ok(People {
        accounts,
        clock: Arc::new(SystemClock),
    })
}

fn name(raw: &str) -> anyhow::Result<AccountName> {
    AccountName::parse(raw).map_err(|e| anyhow::anyhow!("the name {raw:?} {}", e.message))
}

/// The new password: asked twice on a terminal, without echo; else the first line of
/// standard input (for scripts: `printf '%s\n' "$PASSWORD" | verbatim admin add-user ada`).
fn read_password(name: &AccountName) -> anyhow::Result<Password> {
    let raw = if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password(format!("New password for {name}: "))?;
        let again = rpassword::prompt_password("The same password again: ")?;
        anyhow::ensure!(
            first == again,
            "the two passwords differ: nothing was changed"
        );
        first
    } else {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("reading the password from standard input")?;
        line.trim_end_matches(['\n', '\r']).to_owned()
    };
    Password::parse(raw).map_err(|e| anyhow::anyhow!("the password {}", e.message))
}

pub(crate) async fn run(command: AdminCommand) -> anyhow::Result<()> {
    match command {
        AdminCommand::AddUser {
            name: raw,
            admin,
            store,
        } => {
            let name = name(&raw)?;
            let password = read_password(&name)?;
            let account = people(&store).await?.add(name, password, admin).await?;
            println!(
                "Added {}{}.",
                account.name,
                if admin { " (administrator)" } else { "" }
            );
        }
        AdminCommand::RemoveUser { name: raw, store } => {
            let name = name(&raw)?;
            people(&store).await?.remove(&name).await?;
            println!("Removed {name}; their sessions have ended.");
        }
        AdminCommand::ResetPassword { name: raw, store } => {
            let name = name(&raw)?;
            let people = people(&store).await?;
            // Before asking for a password: say at once that there is no such account.
            people.get(&name).await?;
            let password = read_password(&name)?;
            people.reset_password(&name, password).await?;
            println!("New password set for {name}; their sessions have ended.");
        }
    }
    Ok(())
}
