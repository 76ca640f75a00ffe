//! Implementation of permutation argument.

use super::circuit::{Any, Column};
use crate::{
    arithmetic::CurveAffine,
    helpers::{
        polynomial_slice_byte_length, read_polynomial_vec, write_polynomial_slice,
        SerdeCurveAffine, SerdePrimeField,
    },
    poly::{Coeff, LagrangeCoeff, Polynomial},
    SerdeFormat,
};

pub(crate) mod keygen;
pub(crate) mod prover;
pub(crate) mod verifier;

pub use keygen::Assembly;

use std::io;

/// A permutation argument.
#[derive(Debug, Clone)]
pub struct Argument {
    /// A sequence of columns involved in the argument.
    pub(super) columns: Vec<Column<Any>>,
}

impl Argument {
    pub(crate) fn new() -> Self {
        Argument { columns: vec![] }
    }

    /// Returns the minimum circuit degree required by the permutation argument.
    /// The argument may use larger degree gates depending on the actual
    /// circuit's degree and how many columns are involved in the permutation.
    pub(crate) fn required_degree(&self) -> usize {
        // degree 2:
        // l_0(X) * (1 - z(X)) = 0
        //
        // We will fit as many polynomials p_i(X) as possible
        // into the required degree of the circuit, so the
        // following will not affect the required degree of
        // this middleware.
        //
        // (1 - (l_last(X) + l_blind(X))) * (
        //   z(\omega X) \prod (p(X) + \beta s_i(X) + \gamma)
        // - z(X) \prod (p(X) + \delta^i \beta X + \gamma)
        // )
        //
        // On the first sets of columns, except the first
        // set, we will do
        //
        // l_0(X) * (z(X) - z'(\omega^(last) X)) = 0
        //
        // where z'(X) is the permutation for the previous set
        // of columns.
        //
        // On the final set of columns, we will do
        //
        // degree 3:
        // l_last(X) * (z'(X)^2 - z'(X)) = 0
        //
        // which will allow the last value to be zero to
        // ensure the argument is perfectly complete.

        // There are constraints of degree 3 regardless of the
        // number of columns involved.
        3
    }

    pub(crate) fn add_column(&mut self, column: Column<Any>) {
        if !self.columns.contains(&column) {
            self.columns.push(column);
        }
    }

    /// Returns columns that participate on the permutation argument.
    pub fn get_columns(&self) -> Vec<Column<Any>> {
        self.columns.clone()
    }
}

/// The verifying key for a single permutation argument.
#[derive(Clone, Debug)]
pub struct VerifyingKey<C: CurveAffine> {
    commitments: Vec<C>,
}

impl<C: CurveAffine> VerifyingKey<C> {
    /// Assembles a permutation [`VerifyingKey`] from its sigma-polynomial
    /// commitments. Additive constructor for external (e.g. GPU) keygen.
    pub fn from_commitments(commitments: Vec<C>) -> Self {
        VerifyingKey { commitments }
    }

    /// Returns commitments of sigma polynomials
    pub fn commitments(&self) -> &Vec<C> {
        &self.commitments
    }

    pub(crate) fn write<W: io::Write>(&self, writer: &mut W, format: SerdeFormat) -> io::Result<()>
    where
        C: SerdeCurveAffine,
    {
        for commitment in &self.commitments {
            commitment.write(writer, format)?;
        }
        Ok(())
    }

    pub(crate) fn read<R: io::Read>(
        reader: &mut R,
        argument: &Argument,
        format: SerdeFormat,
    ) -> io::Result<Self>
    where
        C: SerdeCurveAffine,
    {
        let commitments = (0..argument.columns.len())
            .map(|_| C::read(reader, format))
            .collect::<io::Result<Vec<_>>>()?;
        Ok(VerifyingKey { commitments })
    }

    pub(crate) fn bytes_length(&self) -> usize {
        self.commitments.len() * C::default().to_bytes().as_ref().len()
    }
}

/// The proving key for a single permutation argument.
#[derive(Clone, Debug)]
pub struct ProvingKey<C: CurveAffine> {
    permutations: Vec<Polynomial<C::Scalar, LagrangeCoeff>>,
    pub(super) polys: Vec<Polynomial<C::Scalar, Coeff>>,
}

impl<C: SerdeCurveAffine> ProvingKey<C>
where
    C::Scalar: SerdePrimeField,
{
    /// Reads proving key for a single permutation argument from buffer using
    /// `Polynomial::read`, each polynomial of `n` values (zkinfer patch: errors, not panics).
    pub(super) fn read<R: io::Read>(reader: &mut R, format: SerdeFormat, n: usize) -> io::Result<Self> {
        let permutations = read_polynomial_vec(reader, format, n)?;
        let polys = read_polynomial_vec(reader, format, n)?;
        Ok(ProvingKey {
            permutations,
            polys,
        })
    }

    /// Writes proving key for a single permutation argument to buffer using `Polynomial::write`.
    pub(super) fn write<W: io::Write>(&self, writer: &mut W, format: SerdeFormat) {
        write_polynomial_slice(&self.permutations, writer, format);
        write_polynomial_slice(&self.polys, writer, format);
    }
}

impl<C: CurveAffine> ProvingKey<C> {
    /// Assembles a permutation [`ProvingKey`] from the permutation polynomials
    /// in the Lagrange (evaluation) basis and their coefficient-basis
    /// counterparts. Additive constructor for external (e.g. GPU) keygen.
    pub fn from_parts(
        permutations: Vec<Polynomial<C::Scalar, LagrangeCoeff>>,
        polys: Vec<Polynomial<C::Scalar, Coeff>>,
    ) -> Self {
        ProvingKey {
            permutations,
            polys,
        }
    }

    /// Gets the total number of bytes in the serialization of `self`
    pub(super) fn bytes_length(&self) -> usize {
        polynomial_slice_byte_length(&self.permutations) + polynomial_slice_byte_length(&self.polys)
    }

    /// Returns the permutation polynomials in the Lagrange (evaluation) basis.
    pub fn permutations(&self) -> &[Polynomial<C::Scalar, LagrangeCoeff>] {
        &self.permutations
    }

    /// Returns the permutation polynomials in the coefficient basis.
    pub fn polys(&self) -> &[Polynomial<C::Scalar, Coeff>] {
        &self.polys
    }
}
