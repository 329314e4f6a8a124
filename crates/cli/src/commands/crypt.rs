//! `slipway encrypt`, `decrypt` and `keygen`: files for `encrypted_env_file`,
//! `encrypted_args_file` and `encrypted_dockercfg_path`, readable by Jet's v1 format too.

use std::io::{Read, Write};
use std::path::Path;
use std::process::ExitCode;

use slipway_secrets::{decrypt, encrypt, Format, Key};

use super::{fail, EXIT_FAILURE};
use crate::cli::{DecryptArgs, EncryptArgs, FormatArg, KeyArgs, KeygenArgs};
use crate::decrypt_project::find_key;

fn key(args: &KeyArgs) -> Result<Key, ExitCode> {
    match find_key(&args.key_path, Path::new(".")) {
        Ok(Some(key)) => Ok(key),
        Ok(None) => Err(fail(format!(
            "no key: `{}` {} and SLIPWAY_AES_KEY is not set. Use the project's key (Jet's codeship.aes), or make one with `slipway keygen`",
            args.key_path.display(),
            if args.key_path.is_dir() { "is a directory, not a key file," } else { "does not exist" }
        ))),
        Err(e) => Err(fail(e)),
    }
}

fn read_input(path: &Path) -> Result<Vec<u8>, ExitCode> {
    let mut bytes = Vec::new();
    let result = if path == Path::new("-") {
        std::io::stdin().read_to_end(&mut bytes).map(|_| ())
    } else {
        std::fs::read(path).map(|b| bytes = b)
    };
    result.map_err(|e| fail(format!("cannot read `{}`: {e}", path.display())))?;
    Ok(bytes)
}

/// Write `bytes`; files holding secrets are readable by their owner only.
fn write_output(path: &Path, bytes: &[u8], private: bool) -> Result<(), ExitCode> {
    if path == Path::new("-") {
        return std::io::stdout().write_all(bytes).map_err(|e| fail(format!("cannot write to standard output: {e}")));
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    if private {
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    }
    options
        .open(path)
        .and_then(|mut f| f.write_all(bytes))
        .map_err(|e| fail(format!("cannot write `{}`: {e}", path.display())))
}

pub fn encrypt_command(args: &EncryptArgs) -> ExitCode {
    let run = || -> Result<(), ExitCode> {
        let key = key(&args.key)?;
        let plain = read_input(&args.input)?;
        let format = match args.format {
            FormatArg::Slipway => Format::Slipway,
            FormatArg::JetV1 => Format::JetV1,
        };
        let sealed = encrypt(&key, &plain, format).map_err(|e| fail(format!("`{}`: {e}", args.input.display())))?;
        write_output(&args.output, &sealed, false)
    };
    run().err().unwrap_or(ExitCode::SUCCESS)
}

pub fn decrypt_command(args: &DecryptArgs) -> ExitCode {
    let run = || -> Result<(), ExitCode> {
        let key = key(&args.key)?;
        let sealed = read_input(&args.input)?;
        let plain = decrypt(&key, &sealed)
            .map_err(|e| fail(format!("`{}`: {e} (key: {})", args.input.display(), key_origin(&args.key))))?;
        write_output(&args.output, &plain, true)
    };
    run().err().unwrap_or(ExitCode::SUCCESS)
}

fn key_origin(args: &KeyArgs) -> String {
    if std::env::var_os(slipway_secrets::KEY_ENV_VAR).is_some() {
        slipway_secrets::KEY_ENV_VAR.to_string()
    } else {
        format!("`{}`", args.key_path.display())
    }
}

pub fn keygen_command(args: &KeygenArgs) -> ExitCode {
    match Key::generate().write_new_key_file(&args.path) {
        Ok(()) => {
            outln!("wrote a new key to {} (mode 0600); keep it out of version control", args.path.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            super::error(e);
            ExitCode::from(EXIT_FAILURE)
        }
    }
}
