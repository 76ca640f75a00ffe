//! zkinfer patch (see PATCHES.md): the proving key's own polynomials on the parts of the
//! extended domain, computed once instead of on every proof.
//!
//! `Evaluator::evaluate_h` works on the extended domain one part (a coset of the base
//! domain) at a time, and on each part it brought every fixed column, every permutation
//! polynomial and `l0`, `l_last`, `l_active_row` to that coset with an FFT. Those depend
//! only on the key: a key may carry them, at `parts * (fixed + permutation + 3) * n` field
//! elements, and `evaluate_h` then reads them instead of recomputing them.

use std::io;

use group::ff::{PrimeField, WithSmallOrderMulGroup};

use crate::helpers::{read_polynomial_vec, write_polynomial_slice, SerdePrimeField};
use crate::poly::{Coeff, EvaluationDomain, LagrangeCoeff, Polynomial};
use crate::SerdeFormat;

/// Marks the optional trailing section of a serialized proving key ("XPRT").
const MAGIC: u32 = 0x5850_5254;

/// The key's polynomials on one part of the extended domain.
#[derive(Clone, Debug)]
pub(crate) struct ExtendedPart<F: PrimeField> {
    pub(crate) fixed: Vec<Polynomial<F, LagrangeCoeff>>,
    pub(crate) permutation: Vec<Polynomial<F, LagrangeCoeff>>,
    pub(crate) l0: Polynomial<F, LagrangeCoeff>,
    pub(crate) l_last: Polynomial<F, LagrangeCoeff>,
    pub(crate) l_active_row: Polynomial<F, LagrangeCoeff>,
}

/// Number of extended-domain parts `evaluate_h` iterates over.
pub(crate) fn num_parts<F: WithSmallOrderMulGroup<3>>(domain: &EvaluationDomain<F>) -> usize {
    domain.extended_len() >> domain.k()
}

/// Field elements the cache holds for `polys` key polynomials.
pub(crate) fn cache_len<F: WithSmallOrderMulGroup<3>>(domain: &EvaluationDomain<F>, polys: usize) -> usize {
    num_parts(domain) * polys * (1 << domain.k())
}

/// Brings every key polynomial to every part, in the order `evaluate_h` visits them.
pub(crate) fn compute<F: WithSmallOrderMulGroup<3>>(
    domain: &EvaluationDomain<F>,
    fixed: &[Polynomial<F, Coeff>],
    permutation: &[Polynomial<F, Coeff>],
    l0: &Polynomial<F, Coeff>,
    l_last: &Polynomial<F, Coeff>,
    l_active_row: &Polynomial<F, Coeff>,
) -> Vec<ExtendedPart<F>> {
    let mut factor = F::ONE;
    (0..num_parts(domain))
        .map(|_| {
            let part = compute_part(domain, fixed, permutation, l0, l_last, l_active_row, factor);
            factor *= domain.get_extended_omega();
            part
        })
        .collect()
}

/// The key's polynomials on the part `extended_omega_factor` selects.
pub(crate) fn compute_part<F: WithSmallOrderMulGroup<3>>(
    domain: &EvaluationDomain<F>,
    fixed: &[Polynomial<F, Coeff>],
    permutation: &[Polynomial<F, Coeff>],
    l0: &Polynomial<F, Coeff>,
    l_last: &Polynomial<F, Coeff>,
    l_active_row: &Polynomial<F, Coeff>,
    extended_omega_factor: F,
) -> ExtendedPart<F> {
    use rayon::prelude::*;
    let extend = |p: &Polynomial<F, Coeff>| domain.coeff_to_extended_part(p.clone(), extended_omega_factor);
    ExtendedPart {
        fixed: fixed.par_iter().map(extend).collect(),
        permutation: permutation.par_iter().map(extend).collect(),
        l0: extend(l0),
        l_last: extend(l_last),
        l_active_row: extend(l_active_row),
    }
}

/// Writes the trailing section: the magic, the part count, then each part.
pub(crate) fn write<W: io::Write, F: SerdePrimeField>(
    parts: &[ExtendedPart<F>],
    writer: &mut W,
    format: SerdeFormat,
) -> io::Result<()> {
    writer.write_all(&MAGIC.to_be_bytes())?;
    writer.write_all(&(parts.len() as u32).to_be_bytes())?;
    for part in parts {
        write_polynomial_slice(&part.fixed, writer, format);
        write_polynomial_slice(&part.permutation, writer, format);
        part.l0.write(writer, format);
        part.l_last.write(writer, format);
        part.l_active_row.write(writer, format);
    }
    Ok(())
}

/// Reads the trailing section if there is one: `Ok(None)` at the end of the input (a key
/// written without the cache, or by unpatched halo2-axiom).
pub(crate) fn read<R: io::Read, F: SerdePrimeField + WithSmallOrderMulGroup<3>>(
    reader: &mut R,
    format: SerdeFormat,
    domain: &EvaluationDomain<F>,
    num_fixed: usize,
    num_permutation: usize,
) -> io::Result<Option<Vec<ExtendedPart<F>>>> {
    let mut word = [0u8; 4];
    match reader.read_exact(&mut word) {
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        r => r?,
    }
    if u32::from_be_bytes(word) != MAGIC {
        return Err(io::Error::new(io::ErrorKind::InvalidData, "unknown data after the proving key"));
    }
    reader.read_exact(&mut word)?;
    let count = u32::from_be_bytes(word) as usize;
    if count != num_parts(domain) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("proving key caches {count} extended parts, its domain has {}", num_parts(domain)),
        ));
    }
    let n = 1usize << domain.k();
    let parts = (0..count)
        .map(|_| {
            Ok(ExtendedPart {
                fixed: read_polynomial_vec(reader, format, n)?,
                permutation: read_polynomial_vec(reader, format, n)?,
                l0: Polynomial::read(reader, format, n)?,
                l_last: Polynomial::read(reader, format, n)?,
                l_active_row: Polynomial::read(reader, format, n)?,
            })
        })
        .collect::<io::Result<Vec<_>>>()?;
    // Every polynomial has n values (checked as read); the column counts must be the key's.
    let consistent = parts
        .iter()
        .all(|p: &ExtendedPart<F>| p.fixed.len() == num_fixed && p.permutation.len() == num_permutation);
    if !consistent {
        return Err(io::Error::new(io::ErrorKind::InvalidData, "cached extended parts do not match the key's columns"));
    }
    Ok(Some(parts))
}
