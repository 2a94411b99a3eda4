//! `exec-env`/`exec-file --user`: the command runs with the user's uid, gid and supplementary
//! groups, and with `HOME`, `USER` and `LOGNAME` naming that user, as sops 3.13.2 does
//! (`cmd/sops/subcommand/exec`: `SwitchUser`, `UserEnv`).
//!
//! std's `Command::uid` drops every supplementary group and cannot set the user's own (that
//! needs `setgroups` between fork and exec, which only `unsafe` `pre_exec` could do). So rsops
//! starts itself as a small helper, [`AS_USER`], which switches the credentials of its single
//! thread with rustix's raw system calls and then replaces itself with the command.

use crate::cli::exit::{self, CliError};
use rsops::sys::scratch::Owner;
use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::Command;

/// The hidden first argument that makes rsops the credential-switching helper.
pub const AS_USER: &str = "__rsops-as-user";

/// A local user as `/etc/passwd` and `/etc/group` describe it.
#[derive(Clone, Debug)]
pub struct Account {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    pub home: String,
    /// The primary group first, then every group that lists the user as a member.
    pub groups: Vec<u32>,
}

impl Account {
    pub fn owner(&self) -> Owner {
        Owner {
            uid: self.uid,
            gid: self.gid,
        }
    }

    /// sops's `UserEnv`: set after the inherited environment, before the file's values.
    pub fn env(&self) -> [(&'static str, &str); 3] {
        [
            ("HOME", self.home.as_str()),
            ("USER", self.name.as_str()),
            ("LOGNAME", self.name.as_str()),
        ]
    }

    /// `program args…` run through the helper, as this user.
    pub fn command(&self, program: &[OsString]) -> Command {
        let groups: Vec<String> = self.groups.iter().map(u32::to_string).collect();
        let mut cmd = Command::new(own_exe());
        cmd.arg(AS_USER)
            .arg(self.uid.to_string())
            .arg(self.gid.to_string())
            .arg(groups.join(","))
            .args(program);
        cmd
    }
}

/// This very binary: `/proc/self/exe` works even when its path is not reachable for the user.
pub fn own_exe() -> PathBuf {
    let me = PathBuf::from("/proc/self/exe");
    if me.exists() {
        me
    } else {
        std::env::current_exe().unwrap_or_else(|_| "rsops".into())
    }
}

/// Looks `name` up in `/etc/passwd`, and its supplementary groups in `/etc/group`.
pub fn lookup(name: &str) -> Result<Account, CliError> {
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    let group = std::fs::read_to_string("/etc/group").unwrap_or_default();
    passwd_entry(&passwd, name)
        .map(|mut account| {
            account.groups = groups_of(&group, name, account.gid);
            account
        })
        .ok_or_else(|| CliError::new(exit::ERROR_GENERIC, format!("no user named `{name}`")))
}

fn passwd_entry(passwd: &str, name: &str) -> Option<Account> {
    passwd.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        if fields.len() < 6 || fields[0] != name {
            return None;
        }
        Some(Account {
            name: name.to_string(),
            uid: fields[2].parse().ok()?,
            gid: fields[3].parse().ok()?,
            home: fields[5].to_string(),
            groups: Vec::new(),
        })
    })
}

/// `getgrouplist`: the primary group, then each group naming `user` among its members.
fn groups_of(group: &str, user: &str, primary: u32) -> Vec<u32> {
    let mut groups = vec![primary];
    for line in group.lines() {
        let fields: Vec<&str> = line.split(':').collect();
        if fields.len() < 4 || !fields[3].split(',').any(|m| m.trim() == user) {
            continue;
        }
        if let Ok(gid) = fields[2].parse::<u32>() {
            if !groups.contains(&gid) {
                groups.push(gid);
            }
        }
    }
    groups
}

/// The helper: `uid gid groups program args…`. Switches groups, then gid, then uid (the order
/// that still has the right to each step), and replaces itself with the program.
pub fn as_user(args: &[OsString]) -> u8 {
    let [uid, gid, groups, program, rest @ ..] = args else {
        return exit::ERROR_GENERIC;
    };
    match switch_credentials(uid, gid, groups) {
        Ok(()) => {
            let err = Command::new(program).args(rest).exec();
            eprintln!("error: could not run the command: {err}");
            exit::COMMAND_NOT_FOUND
        }
        Err(e) => {
            eprintln!("error: could not switch to the user: {e}");
            exit::ERROR_GENERIC
        }
    }
}

fn switch_credentials(uid: &OsString, gid: &OsString, groups: &OsString) -> Result<(), String> {
    use rustix::process::{Gid, Uid};
    let number = |text: &str| text.parse::<u32>().map_err(|_| format!("bad id `{text}`"));
    let text = |s: &OsString| s.to_str().map(str::to_string).ok_or("bad id".to_string());
    let uid = Uid::from_raw(number(&text(uid)?)?);
    let gid = Gid::from_raw(number(&text(gid)?)?);
    let groups = text(groups)?
        .split(',')
        .filter(|g| !g.is_empty())
        .map(|g| number(g).map(Gid::from_raw))
        .collect::<Result<Vec<_>, _>>()?;
    // The helper has one thread, so these per-thread calls change the whole process.
    rustix::thread::set_thread_groups(&groups).map_err(|e| format!("setgroups: {e}"))?;
    rustix::thread::set_thread_res_gid(gid, gid, gid).map_err(|e| format!("setgid: {e}"))?;
    rustix::thread::set_thread_res_uid(uid, uid, uid).map_err(|e| format!("setuid: {e}"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str =
        "root:x:0:0:root:/root:/bin/bash\nalice:x:1000:1000:A:/home/alice:/bin/sh\n";
    const GROUP: &str =
        "root:x:0:\nalice:x:1000:\nwheel:x:10:bob,alice\ndocker:x:999:alice\nstaff:x:50:bob\n";

    #[test]
    fn account_from_passwd_and_group() {
        let mut account = passwd_entry(PASSWD, "alice").unwrap();
        account.groups = groups_of(GROUP, "alice", account.gid);
        assert_eq!((account.uid, account.gid), (1000, 1000));
        assert_eq!(account.home, "/home/alice");
        assert_eq!(account.groups, [1000, 10, 999]);
        assert_eq!(
            account.env(),
            [
                ("HOME", "/home/alice"),
                ("USER", "alice"),
                ("LOGNAME", "alice")
            ]
        );
        assert!(passwd_entry(PASSWD, "ali").is_none());
    }
}
