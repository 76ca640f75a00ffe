//! `fft [LOG_N]`: halo2's FFT on this machine, as the prover runs it (`parallel`) and
//! the crate's `baseline`, on the same random vector of `2^LOG_N` (default 19) field
//! elements; checks that both give the same evaluations.

use std::time::Instant;

use halo2_base::halo2_proofs::fft::{baseline, parallel};
use halo2_base::halo2_proofs::halo2curves::bn256::Fr;
use halo2_base::halo2_proofs::halo2curves::ff::Field;
use halo2_base::halo2_proofs::poly::EvaluationDomain;

fn main() {
    let log_n: u32 = std::env::args().nth(1).map(|s| s.parse().expect("LOG_N")).unwrap_or(19);
    let domain = EvaluationDomain::<Fr>::new(1, log_n);
    let n = 1usize << log_n;
    let mut rng = rand::thread_rng();
    let input: Vec<Fr> = (0..n).map(|_| Fr::random(&mut rng)).collect();
    let data = domain.get_fft_data(n);
    let mut results = Vec::new();
    for (name, f) in [("parallel", parallel::fft::<Fr, Fr> as fn(&mut [Fr], Fr, u32, _, bool)), ("baseline", baseline::fft::<Fr, Fr>)] {
        let mut a = input.clone();
        let t = Instant::now();
        f(&mut a, domain.get_omega(), log_n, data, false);
        println!("{name:<9} 2^{log_n}: {:8.1} ms", t.elapsed().as_secs_f64() * 1e3);
        results.push(a);
    }
    assert!(results[0] == results[1], "the FFTs disagree");
}
