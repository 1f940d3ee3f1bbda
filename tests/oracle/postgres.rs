//! The private PostgreSQL server the oracle compares against: found on
//! `PATH` or under `/usr/lib/postgresql/*/bin`, initialised with `initdb`
//! into the temporary directory, started with `pg_ctl` on a free port (as the
//! `postgres` OS user when running as root), stopped when dropped.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::common::{free_port, is_root, tail};

const INSTALL_HINT: &str = "PostgreSQL is required by the oracle test: install it with \
     `apt-get install -y postgresql` (Debian/Ubuntu), or put initdb and pg_ctl on PATH";

pub struct Postgres {
    pub bin: PathBuf,
    data: PathBuf,
    pub log: PathBuf,
    run_as_postgres: bool,
    pub port: u16,
    cwd: PathBuf,
}

fn find_pg_bin() -> Option<PathBuf> {
    if let Some(paths) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&paths) {
            let initdb = dir.join("initdb");
            if initdb.is_file() {
                // pg_ctl normally sits beside initdb; follow symlinks to find the real dir.
                let real = fs::canonicalize(&initdb).unwrap_or(initdb.clone());
                for d in [real.parent().map(Path::to_path_buf), Some(dir.clone())]
                    .into_iter()
                    .flatten()
                {
                    if d.join("pg_ctl").is_file() {
                        return Some(d);
                    }
                }
            }
        }
    }
    let mut candidates: Vec<(u32, PathBuf)> = fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version: u32 = e.file_name().to_str()?.split('.').next()?.parse().ok()?;
            let bin = e.path().join("bin");
            (bin.join("initdb").is_file() && bin.join("pg_ctl").is_file()).then_some((version, bin))
        })
        .collect();
    candidates.sort();
    candidates.pop().map(|(_, bin)| bin)
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

impl Postgres {
    /// A command running PostgreSQL program `prog`, as the `postgres` OS user when we are root.
    fn command(&self, prog: &str, args: &[&str]) -> Command {
        let exe = self.bin.join(prog);
        let mut cmd;
        if self.run_as_postgres {
            if Path::new("/usr/sbin/runuser").exists() || Path::new("/sbin/runuser").exists() {
                cmd = Command::new("runuser");
                cmd.args(["-u", "postgres", "--"]).arg(&exe).args(args);
            } else {
                let mut line = shell_quote(&exe.to_string_lossy());
                for a in args {
                    line.push(' ');
                    line.push_str(&shell_quote(a));
                }
                cmd = Command::new("su");
                cmd.args(["postgres", "-s", "/bin/sh", "-c", &line]);
            }
        } else {
            cmd = Command::new(exe);
            cmd.args(args);
        }
        cmd.current_dir(&self.cwd);
        cmd.env("LC_ALL", "C");
        cmd
    }

    pub fn start(dir: &Path) -> Result<Postgres, String> {
        let bin = find_pg_bin().ok_or_else(|| {
            format!("initdb/pg_ctl not found in PATH or /usr/lib/postgresql/*/bin. {INSTALL_HINT}")
        })?;
        let run_as_postgres = is_root();
        if run_as_postgres {
            let status = Command::new("chown")
                .arg("postgres:postgres")
                .arg(dir)
                .status()
                .map_err(|e| format!("chown: {e}"))?;
            if !status.success() {
                return Err(format!(
                    "running as root, but cannot chown {} to the `postgres` user (does it exist? \
                     it is created by `apt-get install -y postgresql`)",
                    dir.display()
                ));
            }
        }
        let pg = Postgres {
            bin,
            data: dir.join("pgdata"),
            log: dir.join("postgres.log"),
            run_as_postgres,
            port: free_port(),
            cwd: dir.to_path_buf(),
        };
        let data = pg.data.to_string_lossy().to_string();
        let out = pg
            .command(
                "initdb",
                &[
                    "--locale=C",
                    // Bytewise collation as in eddy, Unicode upper and lower case.
                    "--lc-ctype=C.UTF-8",
                    "-E",
                    "UTF8",
                    "-U",
                    "postgres",
                    "-A",
                    "trust",
                    "--no-sync",
                    "-D",
                    &data,
                ],
            )
            .output()
            .map_err(|e| {
                format!(
                    "cannot run initdb from {}: {e}. {INSTALL_HINT}",
                    pg.bin.display()
                )
            })?;
        if !out.status.success() {
            return Err(format!(
                "initdb failed ({}):\n{}\n{}",
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        let conf = format!(
            "\n# added by tests/oracle.rs\n\
             port = {port}\n\
             listen_addresses = '127.0.0.1'\n\
             unix_socket_directories = '{dir}'\n\
             timezone = 'UTC'\n\
             log_timezone = 'UTC'\n\
             datestyle = 'iso, mdy'\n\
             intervalstyle = 'postgres'\n\
             fsync = off\n\
             synchronous_commit = off\n\
             full_page_writes = off\n\
             max_connections = 30\n",
            port = pg.port,
            dir = dir.display()
        );
        let conf_path = pg.data.join("postgresql.conf");
        let mut text =
            fs::read_to_string(&conf_path).map_err(|e| format!("read postgresql.conf: {e}"))?;
        text.push_str(&conf);
        fs::write(&conf_path, text).map_err(|e| format!("write postgresql.conf: {e}"))?;

        let log = pg.log.to_string_lossy().to_string();
        let out = pg
            .command(
                "pg_ctl",
                &["-D", &data, "-l", &log, "-w", "-t", "120", "start"],
            )
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("cannot run pg_ctl: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "pg_ctl start failed ({}):\n{}\n{}\n--- postgres.log ---\n{}",
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr),
                tail(&pg.log, 40)
            ));
        }
        Ok(pg)
    }

    pub fn conn_string(&self, db: &str) -> String {
        format!(
            "host=127.0.0.1 port={} user=postgres dbname={db}",
            self.port
        )
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let data = self.data.to_string_lossy().to_string();
        let _ = self
            .command("pg_ctl", &["-D", &data, "-m", "immediate", "-w", "stop"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}
