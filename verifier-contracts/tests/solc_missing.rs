//! Missing toolchain pieces give errors that say how to install them.

mod common;

use std::path::Path;

use zkinfer_verifier_contracts::{compile_solidity, ContractError, Solc};

const SOURCE: &str = "pragma solidity 0.8.19; contract A {}";

#[test]
fn missing_solc_and_node_are_reported_with_install_hints() {
    let installed = common::solc();
    installed.check().expect("npm solc installed for the test suite");

    let missing = Solc::in_dir("node", Path::new("/nonexistent/zkinfer-solc"));
    assert_eq!(missing.package, Path::new("/nonexistent/zkinfer-solc/node_modules/solc"));
    let err = compile_solidity(&missing, SOURCE, None).unwrap_err();
    assert!(matches!(err, ContractError::SolcNotFound { .. }), "{err}");
    assert!(err.to_string().contains("cd /nonexistent/zkinfer-solc && npm install solc@0.8.19"), "{err}");

    // The package directory itself is accepted too.
    assert_eq!(Solc::in_dir("node", &installed.package).package, installed.package);

    let no_node = Solc { node: "/nonexistent/node".into(), ..installed.clone() };
    let err = compile_solidity(&no_node, SOURCE, None).unwrap_err();
    assert!(matches!(err, ContractError::NodeNotFound { .. }), "{err}");
    assert!(err.to_string().contains("install Node.js"), "{err}");

    let compiled = compile_solidity(&installed, SOURCE, None).expect("compiles");
    assert_eq!(compiled.name, "A");
}
