//! Where the tools zkinfer runs are ([`Tools`]): the ONNX Runtime library and the
//! Solidity compiler (npm solc, run by Node.js). Found here, from flags (or `zkinfer
//! serve`'s config file), then the process environment, then the places scripts/setup.sh
//! installs to, and passed down as values: the library crates read no environment.
//!
//! | tool         | flag (config key)               | environment        | default                                                   |
//! |--------------|---------------------------------|--------------------|-----------------------------------------------------------|
//! | ONNX Runtime | `--ort-library` (`ort-library`) | `ORT_DYLIB_PATH`   | `$ZKINFER_HOME/venv`, else python3's `onnxruntime` package |
//! | solc         | `--solc-dir` (`solc-dir`)       | `ZKINFER_SOLC_DIR` | `$ZKINFER_HOME/solc`                                      |
//! | Node.js      | `--node` (`node`)               | `ZKINFER_NODE`     | `node` on `PATH`                                          |
//!
//! `$ZKINFER_HOME` is `~/.cache/zkinfer` unless set (as in scripts/setup.sh).

use std::path::{Path, PathBuf};
use std::process::Command;

use zkinfer_models::float::{FloatError, OrtLibrary};
use zkinfer_verifier_contracts::{ContractError, Solc};

/// Flags naming the tools; those not given come from the environment and defaults.
#[derive(clap::Args, Debug, Clone, Default, PartialEq, Eq)]
pub struct ToolArgs {
    /// The ONNX Runtime shared library (libonnxruntime.so.*). Default: ORT_DYLIB_PATH, else
    /// the newest in the venv of scripts/setup.sh ($ZKINFER_HOME/venv), else python3's onnxruntime.
    #[arg(long, value_name = "PATH")]
    pub ort_library: Option<PathBuf>,
    /// Directory holding node_modules/solc (npm solc 0.8.19), or the package itself.
    /// Default: ZKINFER_SOLC_DIR, else $ZKINFER_HOME/solc.
    #[arg(long, value_name = "DIR")]
    pub solc_dir: Option<PathBuf>,
    /// The Node.js binary that runs solc. Default: ZKINFER_NODE, else `node` on PATH.
    #[arg(long, value_name = "PATH")]
    pub node: Option<PathBuf>,
}

impl ToolArgs {
    /// These flags, each falling back to `other`'s.
    pub fn or(&self, other: ToolArgs) -> ToolArgs {
        ToolArgs {
            ort_library: self.ort_library.clone().or(other.ort_library),
            solc_dir: self.solc_dir.clone().or(other.solc_dir),
            node: self.node.clone().or(other.node),
        }
    }
}

/// The process environment variables the tools are found by (an empty value is unset).
#[derive(Clone, Debug, Default)]
pub struct Vars {
    pub ort_dylib_path: Option<PathBuf>,
    pub zkinfer_home: Option<PathBuf>,
    pub home: Option<PathBuf>,
    pub solc_dir: Option<PathBuf>,
    pub node: Option<PathBuf>,
}

impl Vars {
    /// The variables of this process.
    pub fn from_process() -> Vars {
        let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
        Vars {
            ort_dylib_path: var("ORT_DYLIB_PATH"),
            zkinfer_home: var("ZKINFER_HOME"),
            home: var("HOME"),
            solc_dir: var("ZKINFER_SOLC_DIR"),
            node: var("ZKINFER_NODE"),
        }
    }

    /// Where scripts/setup.sh installs: `$ZKINFER_HOME`, else `$HOME/.cache/zkinfer`.
    fn zkinfer_home(&self) -> Option<PathBuf> {
        self.zkinfer_home.clone().or_else(|| self.home.as_ref().map(|h| h.join(".cache").join("zkinfer")))
    }
}

/// The tools, found.
#[derive(Clone, Debug)]
pub struct Tools {
    /// The ONNX Runtime library, or why none was found, saying how to install it.
    pub ort: Result<OrtLibrary, FloatError>,
    /// The Solidity compiler (its package is checked when it first compiles).
    pub solc: Solc,
}

impl Tools {
    /// The tools `args` name, the rest found through this process's environment.
    pub fn resolve(args: &ToolArgs) -> Tools {
        Tools::resolve_with(args, &Vars::from_process(), true)
    }

    /// [`Tools::resolve`] with the variables given; `ask_python`: whether to ask
    /// `python3` where its onnxruntime package is when nothing else names a library.
    pub fn resolve_with(args: &ToolArgs, vars: &Vars, ask_python: bool) -> Tools {
        let home = vars.zkinfer_home();
        let ort = match (&args.ort_library, &vars.ort_dylib_path) {
            (Some(path), _) => existing(path, "--ort-library"),
            (None, Some(path)) => existing(path, "ORT_DYLIB_PATH"),
            (None, None) => find_onnxruntime(home.as_deref(), ask_python),
        };
        let solc_dir = args
            .solc_dir
            .clone()
            .or_else(|| vars.solc_dir.clone())
            .unwrap_or_else(|| home.unwrap_or_else(|| PathBuf::from(".cache/zkinfer")).join("solc"));
        let node = args.node.clone().or_else(|| vars.node.clone()).unwrap_or_else(|| PathBuf::from("node"));
        Tools { ort: ort.map(OrtLibrary::new), solc: Solc::in_dir(node, &solc_dir) }
    }

    /// The ONNX Runtime library, or the error saying how to install it.
    pub fn ort(&self) -> Result<&OrtLibrary, FloatError> {
        self.ort.as_ref().map_err(Clone::clone)
    }
}

/// The flag and variable that locate the tool a compilation error says is missing (the
/// library's error speaks of the [`Solc`] value only).
pub fn flag_hint(e: &ContractError) -> Option<&'static str> {
    match e {
        ContractError::SolcNotFound { .. } => Some("--solc-dir DIR (or ZKINFER_SOLC_DIR) names the folder holding node_modules/solc"),
        ContractError::NodeNotFound { .. } => Some("--node PATH (or ZKINFER_NODE) names the Node.js binary"),
        _ => None,
    }
}

/// The compilation error in an error chain, also where a transparent wrapper
/// (`CompileError`, `ServiceError`, `BackendError`) holds it.
pub fn contract_error<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a ContractError> {
    use zkinfer_compiler::CompileError;
    use zkinfer_prover::BackendError;
    let backend = |b: &'a BackendError| match b {
        BackendError::Contract(c) => Some(c),
        _ => None,
    };
    let compile = |c: &'a CompileError| match c {
        CompileError::Contract(c) => Some(c),
        CompileError::Backend(b) => backend(b),
        _ => None,
    };
    if let Some(c) = e.downcast_ref::<ContractError>() {
        return Some(c);
    }
    if let Some(c) = e.downcast_ref::<CompileError>() {
        return compile(c);
    }
    if let Some(b) = e.downcast_ref::<BackendError>() {
        return backend(b);
    }
    match e.downcast_ref::<crate::ServiceError>()? {
        crate::ServiceError::Contract(c) => Some(c),
        crate::ServiceError::Compile(c) => compile(c),
        crate::ServiceError::Backend(b) => backend(b),
        _ => None,
    }
}

/// `path` when it names a file; `named_by` says where it was named.
fn existing(path: &Path, named_by: &str) -> Result<PathBuf, FloatError> {
    if path.is_file() {
        Ok(path.to_path_buf())
    } else {
        Err(FloatError::LibraryNotFound(format!("{named_by} names {} but no such file exists", path.display())))
    }
}

/// The ONNX Runtime library in the venv under `zkinfer_home`, else (when `ask_python`)
/// in the `onnxruntime` package that `python3` imports.
fn find_onnxruntime(zkinfer_home: Option<&Path>, ask_python: bool) -> Result<PathBuf, FloatError> {
    let mut looked = Vec::new();
    if let Some(home) = zkinfer_home {
        let venv = home.join("venv");
        for site in venv_site_packages(&venv) {
            if let Some(lib) = pick_library_in(&site.join("onnxruntime").join("capi")) {
                return Ok(lib);
            }
        }
        looked.push(format!("{}/lib/python3*/site-packages/onnxruntime/capi", venv.display()));
    }
    match python_onnxruntime_dir().filter(|_| ask_python) {
        Some(dir) => {
            let capi = dir.join("capi");
            if let Some(lib) = pick_library_in(&capi) {
                return Ok(lib);
            }
            looked.push(capi.display().to_string());
        }
        None => looked.push("the onnxruntime package of `python3` (not importable)".to_string()),
    }
    Err(FloatError::LibraryNotFound(format!(
        "looked in {}. Run scripts/setup.sh (it installs onnxruntime into $ZKINFER_HOME/venv, \
         ~/.cache/zkinfer/venv by default) or `pip install onnxruntime`, or name libonnxruntime.so.* \
         with --ort-library or ORT_DYLIB_PATH",
        looked.join(" and ")
    )))
}

/// `site-packages` folders of a virtual environment (`lib/python3*/site-packages`, newest
/// Python first, and `Lib/site-packages` on Windows).
fn venv_site_packages(venv: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(venv.join("lib")) {
        let mut dirs: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().starts_with("python3"))
            .map(|e| e.path().join("site-packages"))
            .filter(|p| p.is_dir())
            .collect();
        dirs.sort();
        dirs.reverse();
        out.extend(dirs);
    }
    let win = venv.join("Lib").join("site-packages");
    if win.is_dir() {
        out.push(win);
    }
    out
}

/// Whether a file name looks like the main ONNX Runtime library on this platform.
fn is_ort_library_name(name: &str) -> bool {
    if cfg!(target_os = "windows") {
        name.eq_ignore_ascii_case("onnxruntime.dll")
    } else if cfg!(target_os = "macos") {
        name.starts_with("libonnxruntime.") && name.ends_with(".dylib")
    } else {
        name.starts_with("libonnxruntime.so")
    }
}

/// Numeric version parts found in a library file name (`libonnxruntime.so.1.32.0` -> [1, 32, 0]).
fn version_key(name: &str) -> Vec<u64> {
    name.split('.').filter_map(|p| p.parse::<u64>().ok()).collect()
}

/// The best ONNX Runtime library file in `dir`: the highest versioned file, else the plain one.
fn pick_library_in(dir: &Path) -> Option<PathBuf> {
    let entries = std::fs::read_dir(dir).ok()?;
    let mut candidates: Vec<(Vec<u64>, PathBuf)> = entries
        .filter_map(Result::ok)
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let path = e.path();
            (is_ort_library_name(&name) && path.is_file()).then(|| (version_key(&name), path))
        })
        .collect();
    candidates.sort();
    candidates.pop().map(|(_, p)| p)
}

/// The installation folder of the `onnxruntime` Python package, asked of `python3`.
fn python_onnxruntime_dir() -> Option<PathBuf> {
    let out = Command::new("python3").args(["-c", "import onnxruntime, os; print(os.path.dirname(onnxruntime.__file__))"]).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let s = String::from_utf8(out.stdout).ok()?;
    let s = s.trim();
    (!s.is_empty()).then(|| PathBuf::from(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn library_names() {
        if cfg!(target_os = "linux") {
            assert!(is_ort_library_name("libonnxruntime.so.1.32.0"));
            assert!(is_ort_library_name("libonnxruntime.so"));
            assert!(!is_ort_library_name("libonnxruntime_providers_shared.so"));
        }
        assert_eq!(version_key("libonnxruntime.so.1.32.0"), vec![1, 32, 0]);
    }

    #[test]
    fn library_discovery() {
        let tmp = tempfile::tempdir().unwrap();
        let capi = tmp.path().join(".cache/zkinfer/venv/lib/python3.11/site-packages/onnxruntime/capi");
        std::fs::create_dir_all(&capi).unwrap();
        for f in ["libonnxruntime.so", "libonnxruntime.so.1.9.0", "libonnxruntime.so.1.32.0", "libonnxruntime_providers_shared.so"] {
            std::fs::write(capi.join(f), b"").unwrap();
        }
        let vars = Vars { home: Some(tmp.path().to_path_buf()), ..Vars::default() };
        let ort = |args: &ToolArgs, vars: &Vars| Tools::resolve_with(args, vars, false).ort;

        // The flag wins over ORT_DYLIB_PATH, which wins over the venv; each must exist.
        let explicit = capi.join("libonnxruntime.so");
        let with_var = Vars { ort_dylib_path: Some(capi.join("libonnxruntime.so.1.9.0")), ..vars.clone() };
        let flag = ToolArgs { ort_library: Some(explicit.clone()), ..ToolArgs::default() };
        assert_eq!(ort(&flag, &with_var).unwrap().path, explicit);
        assert_eq!(ort(&ToolArgs::default(), &with_var).unwrap().path, capi.join("libonnxruntime.so.1.9.0"));
        let missing = Vars { ort_dylib_path: Some("/nonexistent/libonnxruntime.so".into()), ..vars.clone() };
        let err = ort(&ToolArgs::default(), &missing).unwrap_err();
        assert!(matches!(err, FloatError::LibraryNotFound(ref m) if m.contains("ORT_DYLIB_PATH")), "{err}");
        let err = ort(&ToolArgs { ort_library: Some("/nonexistent/libonnxruntime.so".into()), ..ToolArgs::default() }, &vars).unwrap_err();
        assert!(err.to_string().contains("--ort-library"), "{err}");

        // The venv under $HOME/.cache/zkinfer, or under $ZKINFER_HOME: the newest versioned file.
        if cfg!(target_os = "linux") {
            assert_eq!(ort(&ToolArgs::default(), &vars).unwrap().path, capi.join("libonnxruntime.so.1.32.0"));
            let moved =
                Vars { zkinfer_home: Some(tmp.path().join(".cache/zkinfer")), home: Some("/nonexistent".into()), ..Vars::default() };
            assert_eq!(ort(&ToolArgs::default(), &moved).unwrap().path, capi.join("libonnxruntime.so.1.32.0"));
        }

        // Nothing anywhere: an error that says how to install it.
        let nowhere = Vars { home: Some(tmp.path().join("nowhere")), ..Vars::default() };
        let err = ort(&ToolArgs::default(), &nowhere).unwrap_err();
        assert!(err.to_string().contains("pip install onnxruntime") && err.to_string().contains("scripts/setup.sh"), "{err}");
    }

    #[test]
    fn solc_location() {
        let tmp = tempfile::tempdir().unwrap();
        let package = tmp.path().join("zk/solc/node_modules/solc");
        std::fs::create_dir_all(&package).unwrap();
        for f in ["package.json", "soljson.js", "index.js"] {
            std::fs::write(package.join(f), b"").unwrap();
        }
        let solc = |args: &ToolArgs, vars: &Vars| Tools::resolve_with(args, vars, false).solc;

        // $ZKINFER_HOME/solc, run by `node` on PATH.
        let vars = Vars { zkinfer_home: Some(tmp.path().join("zk")), ..Vars::default() };
        assert_eq!(solc(&ToolArgs::default(), &vars), Solc { node: "node".into(), package: package.clone() });
        // $HOME/.cache/zkinfer/solc without it.
        let home = Vars { home: Some("/home/u".into()), ..Vars::default() };
        assert_eq!(solc(&ToolArgs::default(), &home).package, Path::new("/home/u/.cache/zkinfer/solc/node_modules/solc"));
        // ZKINFER_SOLC_DIR and ZKINFER_NODE over the default, flags over both; the package
        // directory itself is accepted.
        let set = Vars { solc_dir: Some("/elsewhere".into()), node: Some("/opt/node".into()), ..vars.clone() };
        assert_eq!(solc(&ToolArgs::default(), &set), Solc { node: "/opt/node".into(), package: "/elsewhere/node_modules/solc".into() });
        let flags = ToolArgs { solc_dir: Some(package.clone()), node: Some("/usr/bin/node".into()), ..ToolArgs::default() };
        assert_eq!(solc(&flags, &set), Solc { node: "/usr/bin/node".into(), package: package.clone() });
    }

    #[test]
    fn flags_fall_back_field_by_field() {
        let flags = ToolArgs { node: Some("/a".into()), ..ToolArgs::default() };
        let file = ToolArgs { node: Some("/b".into()), solc_dir: Some("/c".into()), ..ToolArgs::default() };
        assert_eq!(flags.or(file), ToolArgs { node: Some("/a".into()), solc_dir: Some("/c".into()), ort_library: None });
    }
}
