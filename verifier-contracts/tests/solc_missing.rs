//! Missing toolchain pieces give errors that say how to install them.
//! (Own test binary: it changes process environment variables.)

use zkinfer_verifier_contracts::{compile_solidity, solc_package_dir, ContractError};

const SOURCE: &str = "pragma solidity 0.8.19; contract A {}";

#[test]
fn missing_solc_and_node_are_reported_with_install_hints() {
    let real_dir = solc_package_dir().expect("npm solc installed for the test suite");

    std::env::set_var("ZKINFER_SOLC_DIR", "/nonexistent/zkinfer-solc");
    let err = compile_solidity(SOURCE, None).unwrap_err();
    assert!(matches!(err, ContractError::SolcNotFound { .. }), "{err}");
    assert!(err.to_string().contains("npm install solc@0.8.19"), "{err}");

    // The package directory itself is accepted too.
    std::env::set_var("ZKINFER_SOLC_DIR", &real_dir);
    assert_eq!(solc_package_dir().expect("package dir accepted"), real_dir);

    std::env::set_var("ZKINFER_NODE", "/nonexistent/node");
    let err = compile_solidity(SOURCE, None).unwrap_err();
    assert!(matches!(err, ContractError::NodeNotFound { .. }), "{err}");
    assert!(err.to_string().contains("install Node.js"), "{err}");

    std::env::remove_var("ZKINFER_NODE");
    let compiled = compile_solidity(SOURCE, None).expect("compiles again");
    assert_eq!(compiled.name, "A");
}
