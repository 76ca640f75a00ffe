//! The generated Groth16 verifier, compiled by npm solc and run in revm, on a toy
//! circuit whose public inputs are the packed words of signed values: the honest proof
//! is accepted; changed or out-of-range values, tampered or non-canonical proof words
//! and malformed calldata are rejected.

mod common;

use ark_bn254::{Bn254, Fr};
use ark_groth16::{Groth16, Proof};
use ark_relations::r1cs::{ConstraintSynthesizer, ConstraintSystemRef, LinearCombination, SynthesisError, Variable};
use ark_snark::SNARK;
use ark_std::rand::{rngs::StdRng, SeedableRng};
use zkinfer_verifier_contracts::groth16::{groth16_calldata, verify_groth16_calldata_on_evm, LayoutMismatch};
use zkinfer_verifier_contracts::{compile_solidity, groth16_verifier_source, verify_groth16_on_evm, EIP170_LIMIT, GROTH16_CONTRACT};

const BITS: u32 = 32;
const PER_WORD: usize = 7;

fn fr(v: i128) -> Fr {
    if v < 0 {
        -Fr::from(v.unsigned_abs())
    } else {
        Fr::from(v as u128)
    }
}

fn pow2(e: u32) -> Fr {
    use ark_ff::Field;
    Fr::from(2u8).pow([e as u64])
}

/// Knows values `v` with `|v| < 2^31`, public as packed words, and their squares.
#[derive(Clone)]
struct Packed {
    values: Vec<i128>,
}

impl ConstraintSynthesizer<Fr> for Packed {
    fn generate_constraints(self, cs: ConstraintSystemRef<Fr>) -> Result<(), SynthesisError> {
        let off = 1i128 << (BITS - 1);
        for chunk in self.values.chunks(PER_WORD) {
            let word: Fr = chunk.iter().enumerate().map(|(i, v)| fr(v + off) * pow2(BITS * i as u32)).sum();
            let w = cs.new_input_variable(|| Ok(word))?;
            let mut lc = LinearCombination(vec![(-Fr::from(1u8), w)]);
            for (i, v) in chunk.iter().enumerate() {
                let x = cs.new_witness_variable(|| Ok(fr(v + off)))?;
                let sq = cs.new_witness_variable(|| Ok(fr((v + off) * (v + off))))?;
                cs.enforce_constraint(x.into(), x.into(), sq.into())?;
                lc.0.push((pow2(BITS * i as u32), x));
            }
            cs.enforce_constraint(lc, Variable::One.into(), LinearCombination::zero())?;
        }
        Ok(())
    }
}

fn prove(values: &[i128]) -> (ark_groth16::VerifyingKey<Bn254>, Proof<Bn254>) {
    let mut rng = StdRng::seed_from_u64(7);
    let circuit = Packed { values: values.to_vec() };
    let (pk, vk) = Groth16::<Bn254>::circuit_specific_setup(circuit.clone(), &mut rng).unwrap();
    let proof = Groth16::<Bn254>::prove(&pk, circuit, &mut rng).unwrap();
    (vk, proof)
}

#[test]
fn groth16_verifier_accepts_honest_and_rejects_tampered_proofs() {
    let values: Vec<i128> = vec![3, -1, 0, (1 << 31) - 1, -(1 << 31), 42, -42, 7, 1_000_000];
    let (vk, proof) = prove(&values);
    let source = groth16_verifier_source(&vk, BITS, values.len()).unwrap();
    let contract = compile_solidity(&common::solc(), &source, Some(GROTH16_CONTRACT)).expect("verifier compiles");
    assert!(contract.runtime_code.len() <= EIP170_LIMIT);

    let honest = verify_groth16_on_evm(&contract.deployment_code, &proof, &values).unwrap();
    println!("toy groth16 verifier, {} values in 2 words: gas {}, runtime {} bytes", values.len(), honest.gas_used, honest.runtime_size);
    assert!(honest.accepted, "honest proof rejected");
    assert!(honest.gas_used < 300_000, "gas {}", honest.gas_used);

    for i in 0..values.len() {
        let mut wrong = values.clone();
        wrong[i] += if wrong[i] < (1 << 31) - 1 { 1 } else { -1 };
        assert!(!verify_groth16_on_evm(&contract.deployment_code, &proof, &wrong).unwrap().accepted, "value {i} changed");
    }
    // Out of range: 2^31 would alias -2^31 plus a carry; it is refused outright.
    let mut wrong = values.clone();
    wrong[0] = 1 << 31;
    assert!(!verify_groth16_on_evm(&contract.deployment_code, &proof, &wrong).unwrap().accepted);

    // A flipped bit in any of the eight proof words.
    let calldata = groth16_calldata(&proof, &values);
    for word in 0..8 {
        let mut c = calldata.clone();
        c[4 + 32 * word + 31] ^= 1;
        let r = verify_groth16_calldata_on_evm(&contract.deployment_code, &c).unwrap();
        assert!(!r.accepted, "proof word {word} tampered and accepted");
    }
    // A non-canonical coordinate (A.y + p) names the same point but is refused.
    let mut c = calldata.clone();
    let ay = num_add_p(&c[4 + 32..4 + 64]);
    c[4 + 32..4 + 64].copy_from_slice(&ay);
    assert!(!verify_groth16_calldata_on_evm(&contract.deployment_code, &c).unwrap().accepted);
    // Truncated calldata and a wrong selector revert.
    assert!(!verify_groth16_calldata_on_evm(&contract.deployment_code, &calldata[..calldata.len() - 32]).unwrap().accepted);
    let mut c = calldata.clone();
    c[0] ^= 1;
    assert!(!verify_groth16_calldata_on_evm(&contract.deployment_code, &c).unwrap().accepted);

    // A verifier for another number of values is not generated.
    assert!(matches!(groth16_verifier_source(&vk, BITS, 20), Err(LayoutMismatch { expected: 3, got: 2, .. })));
}

/// `x + p` for a big-endian word `x < p` (fits in 256 bits).
fn num_add_p(x: &[u8]) -> [u8; 32] {
    let p = hex::decode("30644e72e131a029b85045b68181585d97816a916871ca8d3c208c16d87cfd47").unwrap();
    let mut out = [0u8; 32];
    let mut carry = 0u16;
    for i in (0..32).rev() {
        let s = x[i] as u16 + p[i] as u16 + carry;
        out[i] = s as u8;
        carry = s >> 8;
    }
    out
}
