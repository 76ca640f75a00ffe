//! npm solc compilation and the in-process EVM, on small hand-written contracts.

mod common;

use zkinfer_verifier_contracts::{compile_solidity, solc_version, ContractError, Evm, EIP170_LIMIT};

const COUNTER: &str = r#"
// SPDX-License-Identifier: MIT
pragma solidity 0.8.19;

contract Helper {
    function one() external pure returns (uint256) { return 1; }
}

contract Counter {
    uint256 public count;

    function add(uint256 x) external returns (uint256) {
        count += x;
        return count * 7;
    }

    function fail() external pure {
        revert("nope");
    }
}
"#;

/// 4-byte selector + ABI-encoded uint256 arguments.
fn calldata(selector: [u8; 4], args: &[u64]) -> Vec<u8> {
    let mut data = selector.to_vec();
    for arg in args {
        let mut word = [0u8; 32];
        word[24..].copy_from_slice(&arg.to_be_bytes());
        data.extend_from_slice(&word);
    }
    data
}

fn word(value: u64) -> Vec<u8> {
    calldata([0; 4], &[value])[4..].to_vec()
}

// Selectors: keccak256("add(uint256)"), keccak256("count()"), keccak256("fail()").
const ADD: [u8; 4] = [0x10, 0x03, 0xe2, 0xd2];
const COUNT: [u8; 4] = [0x06, 0x66, 0x1a, 0xbd];
const FAIL: [u8; 4] = [0xa9, 0xcc, 0x47, 0x18];

#[test]
fn solc_is_0_8_19() {
    let version = solc_version(&common::solc()).expect("solc version");
    assert!(version.starts_with("0.8.19"), "unexpected solc version {version}");
}

#[test]
fn compile_deploy_and_call() {
    let named = compile_solidity(&common::solc(), COUNTER, Some("Counter")).expect("compile");
    assert_eq!(named.name, "Counter");
    assert!(!named.runtime_code.is_empty());
    assert!(named.deployment_code.len() > named.runtime_code.len());

    // Without a name, the last contract declared with bytecode is taken.
    let unnamed = compile_solidity(&common::solc(), COUNTER, None).expect("compile");
    assert_eq!(unnamed, named);
    let helper = compile_solidity(&common::solc(), COUNTER, Some("Helper")).expect("compile");
    assert_ne!(helper.runtime_code, named.runtime_code);

    let mut evm = Evm::new();
    let deployed = evm.deploy(&named.deployment_code).expect("deploy");
    assert_eq!(deployed.runtime_size, named.runtime_code.len());
    assert_eq!(evm.code(deployed.address), named.runtime_code);
    assert!(deployed.gas_used > 21_000);

    // Several calls on one Evm: nonces must advance, state must persist.
    let first = evm.call(deployed.address, &calldata(ADD, &[5])).expect("call");
    assert!(first.success);
    assert_eq!(first.output, word(35));
    assert!(first.gas_used > 21_000);
    let second = evm.call(deployed.address, &calldata(ADD, &[6])).expect("call");
    assert!(second.success);
    assert_eq!(second.output, word(77));
    let count = evm.call(deployed.address, &calldata(COUNT, &[])).expect("call");
    assert_eq!(count.output, word(11));

    // A revert is an unsuccessful outcome, not an error.
    let reverted = evm.call(deployed.address, &calldata(FAIL, &[])).expect("call");
    assert!(!reverted.success);
    assert!(!reverted.output.is_empty(), "revert reason expected");

    // A second deployment on the same Evm gets a new address.
    let again = evm.deploy(&named.deployment_code).expect("second deploy");
    assert_ne!(again.address, deployed.address);
    let fresh = evm.call(again.address, &calldata(COUNT, &[])).expect("call");
    assert_eq!(fresh.output, word(0));
}

#[test]
fn calling_an_address_without_code_is_an_error() {
    let mut evm = Evm::new();
    let err = evm.call([0x42; 20].into(), &[]).unwrap_err();
    assert!(matches!(err, ContractError::NoCode(_)), "{err}");
}

#[test]
fn runtime_code_over_eip170_is_refused() {
    // A 25,000-byte constant ends up in the runtime code.
    let blob = "ab".repeat(25_000);
    let source = format!(
        "// SPDX-License-Identifier: MIT\npragma solidity 0.8.19;\n\
         contract Big {{ function blob() external pure returns (bytes memory) {{ return hex\"{blob}\"; }} }}"
    );
    let big = compile_solidity(&common::solc(), &source, Some("Big")).expect("compile");
    assert!(big.runtime_code.len() > EIP170_LIMIT, "runtime {} bytes", big.runtime_code.len());

    // Refused by revm during creation, with the measured size reported.
    let mut evm = Evm::new();
    match evm.deploy(&big.deployment_code) {
        Err(ContractError::CodeTooLarge { size, limit }) => {
            assert_eq!(limit, EIP170_LIMIT);
            assert_eq!(size, big.runtime_code.len());
        }
        other => panic!("expected CodeTooLarge, got {other:?}"),
    }
    // Refused up front from the compiled runtime size.
    assert!(matches!(
        evm.deploy_contract(&big),
        Err(ContractError::CodeTooLarge { size, .. }) if size == big.runtime_code.len()
    ));

    // The Evm is still usable afterwards (nonce consumed by the failed creation).
    let small = compile_solidity(&common::solc(), COUNTER, Some("Counter")).expect("compile");
    let deployed = evm.deploy_contract(&small).expect("deploy after failure");
    assert!(evm.call(deployed.address, &calldata(ADD, &[1])).expect("call").success);
}

#[test]
fn syntax_error_is_a_compile_error() {
    let source = "pragma solidity 0.8.19; contract Broken { function f( external {} }";
    match compile_solidity(&common::solc(), source, None) {
        Err(ContractError::Compile(msg)) => {
            assert!(msg.contains("ParserError"), "message: {msg}")
        }
        other => panic!("expected Compile error, got {other:?}"),
    }
}

#[test]
fn unknown_contract_name_is_reported() {
    let err = compile_solidity(&common::solc(), COUNTER, Some("Missing")).unwrap_err();
    assert!(matches!(err, ContractError::ContractNotFound(_)), "{err}");
}
