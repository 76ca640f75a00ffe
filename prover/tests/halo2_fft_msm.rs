//! The patched prover arithmetic (`vendor/halo2-axiom/PATCHES.md`): the depth-first FFT
//! gives the evaluations of halo2-axiom's own baseline FFT and of the definition, forward
//! and inverse, at every size a model circuit uses; the MSM that sums small negative
//! scalars against negated bases gives the same group element as the unpatched MSM, for
//! witness-like, random and mixed scalars; the SRS setup by fixed-base tables gives the
//! powers of its secret and their Lagrange form as the definition does, and so does a
//! larger SRS downsized (the variable-time inverse FFT over points).

use halo2_base::halo2_proofs::arithmetic::{best_multiexp, g_to_lagrange};
use halo2_base::halo2_proofs::fft::{baseline, parallel};
use halo2_base::halo2_proofs::halo2curves::bn256::Bn256;
use halo2_base::halo2_proofs::halo2curves::bn256::{Fr, G1Affine, G1};
use halo2_base::halo2_proofs::halo2curves::ff::Field;
use halo2_base::halo2_proofs::halo2curves::group::{Curve, Group};
use halo2_base::halo2_proofs::halo2curves::msm::msm_best;
use halo2_base::halo2_proofs::poly::commitment::{Blind, Params, ParamsProver};
use halo2_base::halo2_proofs::poly::kzg::commitment::ParamsKZG;
use halo2_base::halo2_proofs::poly::EvaluationDomain;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;

fn random_vec(rng: &mut ChaCha20Rng, n: usize) -> Vec<Fr> {
    (0..n).map(|_| Fr::random(&mut *rng)).collect()
}

#[test]
fn depth_first_fft_equals_the_baseline_and_the_definition() {
    let mut rng = ChaCha20Rng::seed_from_u64(24);
    for log_n in [1u32, 2, 3, 4, 6, 9, 11, 12, 13, 14, 16] {
        let domain = EvaluationDomain::<Fr>::new(1, log_n);
        let n = 1usize << log_n;
        let data = domain.get_fft_data(n);
        let input = random_vec(&mut rng, n);
        for (omega, inverse) in [(domain.get_omega(), false), (domain.get_omega_inv(), true)] {
            let mut ours = input.clone();
            parallel::fft(&mut ours, omega, log_n, data, inverse);
            let mut base = input.clone();
            baseline::fft(&mut base, omega, log_n, data, inverse);
            assert!(ours == base, "2^{log_n}, inverse {inverse}: the FFTs disagree");
            if log_n <= 6 {
                // a_j evaluated at omega^i, by the definition.
                for (i, got) in ours.iter().enumerate() {
                    let x = omega.pow_vartime([i as u64]);
                    let want = input.iter().rev().fold(Fr::ZERO, |acc, c| acc * x + c);
                    assert_eq!(*got, want, "2^{log_n}, inverse {inverse}, point {i}");
                }
            }
        }
    }
}

#[test]
fn signed_msm_is_the_same_group_element() {
    let mut rng = ChaCha20Rng::seed_from_u64(7);
    let n = 1 << 12;
    let bases: Vec<G1Affine> = (0..n).map(|_| G1::random(&mut rng).to_affine()).collect();
    let small = |rng: &mut ChaCha20Rng| {
        let v: i64 = rng.gen_range(-(1i64 << 40)..(1i64 << 40));
        if v < 0 {
            -Fr::from(v.unsigned_abs())
        } else {
            Fr::from(v as u64)
        }
    };
    // A witness column (small signed values, zeros, a few random blinding rows), random
    // scalars (no shortcut taken), all negative, and too short for the shortcut.
    let witness: Vec<Fr> = (0..n)
        .map(|i| match i % 7 {
            0 => Fr::ZERO,
            _ if i >= n - 20 => Fr::random(&mut rng),
            _ => small(&mut rng),
        })
        .collect();
    let random = random_vec(&mut rng, n);
    let negative: Vec<Fr> = (0..n).map(|i| -Fr::from(i as u64 + 1)).collect();
    for (name, coeffs) in [("witness", &witness[..]), ("random", &random[..]), ("negative", &negative[..]), ("short", &witness[..100])] {
        let ours = best_multiexp(coeffs, &bases[..coeffs.len()]);
        let plain = msm_best(coeffs, &bases[..coeffs.len()]);
        assert_eq!(ours.to_affine(), plain.to_affine(), "{name}");
    }
    // And against the definition, on a short witness-like prefix summed naively.
    let naive = witness[..64].iter().zip(&bases).fold(G1::identity(), |acc, (c, b)| acc + *b * c);
    assert_eq!(msm_best(&witness[..64], &bases[..64]).to_affine(), naive.to_affine());
}

#[test]
fn srs_setup_gives_the_powers_of_its_secret_and_their_lagrange_form() {
    let seed = *b"zkinfer insecure test srs, k-ind";
    for k in [1u32, 3, 7] {
        let params = ParamsKZG::<Bn256>::setup(k, ChaCha20Rng::from_seed(seed));
        // `setup` draws its secret first from the rng.
        let s = Fr::random(ChaCha20Rng::from_seed(seed));
        let n = 1usize << k;
        let mut power = Fr::ONE;
        let mut want = Vec::with_capacity(n);
        for i in 0..n {
            let expected = G1::generator() * power;
            assert_eq!(params.get_g()[i], expected.to_affine(), "k = {k}: g[{i}] is not s^{i} G");
            want.push(expected);
            power *= s;
        }
        let lagrange: Vec<G1Affine> = g_to_lagrange(want, k);
        let domain = EvaluationDomain::<Fr>::new(1, k);
        for (i, expected) in lagrange.iter().enumerate() {
            let mut unit = domain.empty_lagrange();
            unit[i] = Fr::ONE;
            let got = params.commit_lagrange(&unit, Blind::default()).to_affine();
            assert_eq!(got, *expected, "k = {k}: the {i}-th Lagrange basis point differs");
        }
    }
}

#[test]
fn downsized_srs_has_the_lagrange_basis_of_its_secret() {
    let seed = *b"zkinfer insecure test srs, k-ind";
    let s = Fr::random(ChaCha20Rng::from_seed(seed));
    for k in [1u32, 2, 5] {
        let mut params = ParamsKZG::<Bn256>::setup(6, ChaCha20Rng::from_seed(seed));
        params.downsize(k);
        let n = 1u64 << k;
        let domain = EvaluationDomain::<Fr>::new(1, k);
        let omega = domain.get_omega();
        // L_i(s) = omega^i (s^n - 1) / (n (s - omega^i)).
        let vanishing = s.pow_vartime([n]) - Fr::ONE;
        let n_inv = Fr::from(n).invert().unwrap();
        for i in 0..n as usize {
            let w = omega.pow_vartime([i as u64]);
            let l_i = w * vanishing * n_inv * (s - w).invert().unwrap();
            let mut unit = domain.empty_lagrange();
            unit[i] = Fr::ONE;
            let got = params.commit_lagrange(&unit, Blind::default()).to_affine();
            assert_eq!(got, (G1::generator() * l_i).to_affine(), "k = {k}: Lagrange point {i}");
        }
        assert_eq!(params.get_g().len(), n as usize);
    }
}
