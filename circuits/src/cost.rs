//! What a planned circuit costs: its column counts ([`LayoutStats`]), and from them the
//! proving time ([`prove_cost`]), the verifier's gas ([`verifier_cost`], [`gas_estimate`],
//! [`balanced_cost`]) and the proving memory the service admits jobs by
//! ([`prove_memory`], [`compile_memory`]).
//!
//! Every estimate reads the layout through [`Arguments::of`], which takes each column
//! count from the one [`LayoutStats`] method that defines it: an estimate cannot count
//! columns its own way (and forget the function-table triples or the MAC groups).

use serde::{Deserialize, Serialize};

use crate::chips::table::TABLE_WIDTH;

/// Size of a planned circuit.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct LayoutStats {
    pub k: u32,
    pub lookup_bits: usize,
    /// Advice cells of the flex gate.
    pub advice_cells: usize,
    /// Cells copied into lookup columns.
    pub lookup_cells: usize,
    /// Rows used in the busiest column.
    pub rows: usize,
    pub num_advice: usize,
    pub num_lookup_advice: usize,
    pub num_fixed: usize,
    /// Rows of the function tables (0 without tables) and `(key, value)` lookups into them.
    #[serde(default)]
    pub table_rows: usize,
    #[serde(default)]
    pub table_lookups: usize,
    /// Advice column triples with the table lookup enabled.
    #[serde(default)]
    pub table_sets: usize,
    /// MAC gate: accumulators per group (0: not used), rows used and column groups.
    #[serde(default)]
    pub mac_width: usize,
    #[serde(default)]
    pub mac_rows: usize,
    #[serde(default)]
    pub mac_sets: usize,
    /// Public instances (field elements), which the verifier reads and evaluates.
    #[serde(default)]
    pub instances: usize,
    /// The range checks share the function table's lookup (then `num_lookup_advice` is
    /// 0 and `table_rows` counts the range table too).
    #[serde(default)]
    pub range_in_table: bool,
}

impl LayoutStats {
    /// Advice columns of every kind: gate, range lookup, function-table triples and MAC groups.
    pub fn advice_columns(&self) -> usize {
        self.num_advice + self.num_lookup_advice + self.table_columns() + self.mac_columns()
    }

    /// Advice columns of the function-table lookups: [`TABLE_WIDTH`] per set.
    pub fn table_columns(&self) -> usize {
        TABLE_WIDTH * self.table_sets
    }

    /// Advice columns of the MAC gate: its accumulators and input column, per group.
    pub fn mac_columns(&self) -> usize {
        (self.mac_width + 1) * self.mac_sets
    }

    /// Lookup arguments: one per range-check lookup column and per function-table set.
    pub fn lookup_arguments(&self) -> usize {
        self.num_lookup_advice + self.table_sets
    }

    /// halo2-base's gate selectors, one per gate column, as they compress into fixed
    /// columns (three to one).
    pub fn selector_columns(&self) -> usize {
        self.num_advice.div_ceil(3)
    }

    /// Advice columns counted against the planner's column budget
    /// ([`crate::layout::PlanOptions::max_advice`]): gate and range-lookup columns and the
    /// function-table triples after the first, which every model with tables needs. The
    /// MAC groups are weighed by cost instead.
    pub fn budgeted_columns(&self) -> usize {
        self.num_advice + self.num_lookup_advice + self.table_columns().saturating_sub(TABLE_WIDTH)
    }

    /// Columns in the permutation (copy constraints): every advice column but the MAC
    /// accumulators after the first of each group, halo2-base's constant columns and the
    /// instance column.
    pub fn permutation_columns(&self) -> usize {
        self.advice_columns() - self.mac_width.saturating_sub(1) * self.mac_sets + self.num_fixed + 1
    }

    /// The constraint degree to raise the system to (0: keep the gates' own, 4). At
    /// degree 5 a permutation product spans 3 columns instead of 2 and the quotient gains
    /// a fourth piece, on the same 4n extended domain: worth it, for proving time and for
    /// gas, once that saves at least two products (from 9 permutation columns on).
    pub fn degree(&self) -> usize {
        let p = self.permutation_columns();
        if p.div_ceil(2) >= p.div_ceil(3) + 2 {
            5
        } else {
            0
        }
    }

    /// Fixed columns: halo2-base's constants and range table, the function table and the
    /// MAC weights and selectors (halo2-base's gate selectors aside).
    pub fn fixed_columns(&self) -> usize {
        let mac = self.mac_width + 1 + usize::from(self.mac_width > 1);
        let range_table = usize::from(self.num_lookup_advice > 0);
        self.num_fixed + range_table + TABLE_WIDTH * usize::from(self.table_sets > 0) + mac * self.mac_sets
    }

    /// Columns of every kind, advice and fixed: what the verifier's size grows with.
    pub fn columns(&self) -> usize {
        self.advice_columns() + self.fixed_columns()
    }
}

/// The column and argument counts of a layout, each taken once from the [`LayoutStats`]
/// method that defines it. The estimates of this module read a layout through this alone
/// (with `k` and the instance count).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Arguments {
    /// Advice columns of every kind ([`LayoutStats::advice_columns`]).
    pub advice: usize,
    /// Fixed columns: constants, range and function tables, MAC weights and selectors
    /// ([`LayoutStats::fixed_columns`]).
    pub fixed: usize,
    /// halo2-base's gate selectors ([`LayoutStats::selector_columns`]).
    pub selectors: usize,
    /// Columns in the permutation ([`LayoutStats::permutation_columns`]).
    pub permutation: usize,
    /// The constraint degree (4 unless raised, [`LayoutStats::degree`]).
    pub degree: usize,
    /// Permutation product polynomials: `degree - 2` columns each.
    pub products: usize,
    /// Lookup arguments, range checks and function tables ([`LayoutStats::lookup_arguments`]).
    pub lookups: usize,
}

impl Arguments {
    /// The counts of `s`.
    pub fn of(s: &LayoutStats) -> Self {
        let degree = s.degree().max(4);
        let permutation = s.permutation_columns();
        Arguments {
            advice: s.advice_columns(),
            fixed: s.fixed_columns(),
            selectors: s.selector_columns(),
            permutation,
            degree,
            products: permutation.div_ceil(degree - 2),
            lookups: s.lookup_arguments(),
        }
    }
}

/// A rough prover cost of a shape, in hundredths of an MSM over `2^k` points with full
/// scalars, the unit that dominates: each advice column is committed with short (witness)
/// scalars and extended to the quotient domain (0.4); each permutation product and each
/// lookup argument's product are full MSMs (1.15, the lookup 1.8 with its permuted
/// columns); the quotient pieces, the vanishing argument's random polynomial and the
/// multi-opening are fixed costs. Fixed columns cost little once the proving key caches
/// them on the extended domain (zkinfer-prover does, up to a size). Fitted to measured
/// proofs of the MNIST MLP at k = 13 and 14 (`benches/results`); used only to rank shapes
/// that all fit.
pub fn prove_cost(s: &LayoutStats) -> u64 {
    let a = Arguments::of(s);
    let units = 40 * a.advice + 115 * a.products + 180 * a.lookups + 5 * a.fixed + 100 * (a.degree - 1) + 300;
    (1u64 << s.k) * units as u64
}

/// The commitments an EVM verifier of the shape multiplies out (one elliptic-curve
/// multiplication each, about 6,000 gas, plus the evaluations that come with it): the
/// advice, fixed and permutation (sigma) columns, the permutation and lookup products, the
/// lookups' permuted columns, the quotient pieces and the vanishing argument's random
/// polynomial. Ranks shapes by gas; instances cost the same in every shape of a model.
pub fn verifier_cost(s: &LayoutStats) -> u64 {
    let a = Arguments::of(s);
    (a.advice + a.fixed + a.selectors + a.permutation + a.products + 3 * a.lookups + a.degree) as u64
}

/// A rough EVM gas estimate of the shape's verifier: a fixed part (the pairing, the
/// transaction, the transcript), about 6,500 per [`verifier_cost`] commitment and about
/// 3,500 per public instance (calldata, its Lagrange evaluation and the code that grows
/// with it). Fitted to the verifiers of `benches/results`; used only to bound how much a
/// wider shape may add.
pub fn gas_estimate(s: &LayoutStats) -> u64 {
    250_000 + 6_500 * verifier_cost(s) + 3_500 * s.instances as u64
}

/// [`prove_cost`] times [`verifier_cost`]: what [`crate::layout::Optimize::Balanced`] ranks by.
pub fn balanced_cost(s: &LayoutStats) -> u64 {
    prove_cost(s).saturating_mul(verifier_cost(s))
}

/// Bytes per field element.
pub const FIELD_BYTES: u64 = 32;
/// Lagrange values, coefficients and the 4n extended evaluations of one column.
const FORMS: u64 = 6;
/// Lookup (input, table, permuted and product) and permutation product polynomials,
/// counted as this many extra columns.
const ARGUMENT_COLUMNS: u64 = 6;
/// Quotient polynomial pieces and instance columns, in columns of `n` values.
const QUOTIENT_COLUMNS: u64 = 8;
/// Witness generation, transcript and runtime: the part of a proof's memory that does
/// not grow with the circuit.
pub const RUNTIME_BYTES: u64 = 64 << 20;

/// Memory for one halo2 proof of a circuit with these statistics and a proving key of
/// `pk_bytes` serialized bytes (loaded in memory while proving).
///
/// A proof over `n = 2^k` rows keeps, per advice column, its values, its coefficients and
/// its evaluations on the extended domain (4n for halo2-base's degree-5 constraints),
/// besides the proving key (fixed columns and permutation in the same three forms, which
/// `pk_bytes` measures exactly) and the lookup and permutation argument polynomials. The
/// estimate counts each of those at [`FIELD_BYTES`] per element, plus [`RUNTIME_BYTES`].
/// It is meant to be an upper bound for halo2-base circuits; it is a model, not a
/// measurement.
pub fn prove_memory(s: &LayoutStats, pk_bytes: u64) -> u64 {
    let a = Arguments::of(s);
    let n = 1u64 << s.k;
    let columns = a.advice as u64 + ARGUMENT_COLUMNS;
    FIELD_BYTES * n * (FORMS * columns + QUOTIENT_COLUMNS) + pk_bytes + RUNTIME_BYTES
}

/// Memory for compiling a model whose circuit may reach `max_k` rows with up to
/// `max_advice` gate and as many lookup columns, where the proving key caches its
/// extended-domain polynomials up to `extended_parts_budget` bytes: key generation holds
/// the proving key it builds and runs the same polynomial work as a proof. The circuit's
/// size is unknown before the layout is planned, so this bounds the largest circuit the
/// options allow.
pub fn compile_memory(max_k: u32, max_advice: usize, extended_parts_budget: u64) -> u64 {
    let stats = LayoutStats { k: max_k, num_advice: max_advice, num_lookup_advice: max_advice, num_fixed: 2, ..Default::default() };
    let n = 1u64 << max_k;
    // Fixed, selector and permutation columns of the key, each in three forms.
    let pk = FIELD_BYTES * n * FORMS * (stats.num_fixed as u64 + max_advice as u64 * 2 + 3);
    // Plus the same columns on the 4 parts of the extended domain, which the key caches
    // up to a budget.
    let cache = (pk * 4 / FORMS).min(extended_parts_budget);
    2 * prove_memory(&stats, pk + cache)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Plain, with function tables, with a MAC gate and tables at degree 5, with the range
    /// checks in the table, and 1-wide MAC groups beside many instances.
    fn pinned_stats() -> Vec<LayoutStats> {
        let s = |k, num_advice, num_lookup_advice, num_fixed, instances| LayoutStats {
            k,
            num_advice,
            num_lookup_advice,
            num_fixed,
            instances,
            ..Default::default()
        };
        vec![
            s(9, 2, 1, 1, 10),
            LayoutStats { table_sets: 2, table_rows: 900, ..s(11, 3, 1, 1, 20) },
            LayoutStats { table_sets: 1, table_rows: 4000, mac_width: 4, mac_sets: 2, ..s(14, 4, 2, 1, 12) },
            LayoutStats { table_sets: 2, table_rows: 2500, range_in_table: true, ..s(12, 2, 0, 2, 3) },
            LayoutStats { mac_width: 1, mac_sets: 3, ..s(13, 1, 1, 1, 794) },
        ]
    }

    /// The estimates of [`pinned_stats`] as the planner's cost model computed them before it
    /// moved here: (advice, permutation, fixed columns, degree, prove_cost, verifier_cost,
    /// gas_estimate, balanced_cost).
    #[test]
    fn estimates_are_pinned() {
        type Pinned = (usize, usize, usize, usize, u64, u64, u64, u64);
        let expected: [Pinned; 5] = [
            (3, 5, 2, 0, 642_560, 21, 421_500, 13_493_760),
            (10, 12, 5, 5, 4_352_000, 46, 619_000, 200_192_000),
            (19, 15, 17, 5, 43_581_440, 72, 760_000, 3_137_863_680),
            (8, 11, 5, 5, 7_639_040, 40, 520_500, 305_561_600),
            (8, 10, 8, 0, 14_049_280, 39, 3_282_500, 547_921_920),
        ];
        for (s, e) in pinned_stats().iter().zip(expected) {
            let got = (
                s.advice_columns(),
                s.permutation_columns(),
                s.fixed_columns(),
                s.degree(),
                prove_cost(s),
                verifier_cost(s),
                gas_estimate(s),
                balanced_cost(s),
            );
            assert_eq!(got, e, "{s:?}");
        }
    }

    /// [`prove_memory`] and [`compile_memory`] of [`pinned_stats`] as the service's
    /// admission estimates computed them before they moved here (with the prover's 512 MiB
    /// extended-parts budget).
    #[test]
    fn memory_estimates_are_pinned() {
        let pk_bytes = [0, 1_000_000, 50_000_000, 7_000_000, 20_000_000];
        let expected = [68_124_672, 74_924_608, 199_946_368, 86_167_488, 111_226_112];
        for ((s, pk), e) in pinned_stats().iter().zip(pk_bytes).zip(expected) {
            assert_eq!(prove_memory(s, pk), e, "{s:?}");
        }
        assert_eq!(compile_memory(23, 6, 512 << 20), 118_245_818_368);
        assert_eq!(compile_memory(17, 6, 512 << 20), 2_533_359_616);
    }

    #[test]
    fn memory_grows_with_k_and_columns() {
        let small = LayoutStats { k: 10, num_advice: 2, num_lookup_advice: 1, ..Default::default() };
        let wide = LayoutStats { num_advice: 6, ..small.clone() };
        let tall = LayoutStats { k: 11, ..small.clone() };
        let tables = LayoutStats { table_sets: 1, ..small.clone() };
        let mac = LayoutStats { mac_width: 2, mac_sets: 1, ..small.clone() };
        for bigger in [&wide, &tall, &tables, &mac] {
            assert!(prove_memory(bigger, 0) > prove_memory(&small, 0), "{bigger:?}");
        }
        assert!(compile_memory(23, 6, 512 << 20) > compile_memory(17, 6, 512 << 20));
    }
}
