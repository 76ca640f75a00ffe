//! Memory estimates that the scheduler admits jobs by.
//!
//! A halo2 proof over `n = 2^k` rows keeps, per advice column, its values, its
//! coefficients and its evaluations on the extended domain (4n for halo2-base's
//! degree-5 constraints), besides the proving key (fixed columns and permutation in the
//! same three forms, which `pk_bytes` measures exactly) and the lookup and permutation
//! argument polynomials. The estimate counts each of those at 32 bytes per field
//! element, plus a fixed allowance for the witness and runtime. It is meant to be an
//! upper bound for halo2-base circuits; it is a model, not a measurement.

use zkinfer_circuits::LayoutStats;

/// Bytes per field element.
const FE: u64 = 32;
/// Lagrange values, coefficients and the 4n extended evaluations of one column.
const FORMS: u64 = 6;
/// Lookup (input, table, permuted and product) and permutation product polynomials,
/// counted as this many extra columns.
const ARGUMENT_COLUMNS: u64 = 6;
/// Quotient polynomial pieces and instance columns, in columns of `n` values.
const QUOTIENT_COLUMNS: u64 = 8;
/// Witness generation, transcript and runtime.
const BASELINE: u64 = 64 << 20;

/// Memory for one proof of a circuit with these statistics and a proving key of
/// `pk_bytes` serialized bytes (loaded in memory while proving).
pub fn prove_estimate(stats: &LayoutStats, pk_bytes: u64) -> u64 {
    let n = 1u64 << stats.k;
    // Every advice column: gate, range lookup, function-table triples and MAC groups.
    let columns = stats.advice_columns() as u64 + ARGUMENT_COLUMNS;
    FE * n * (FORMS * columns + QUOTIENT_COLUMNS) + pk_bytes + BASELINE
}

/// Memory for one Groth16 proof: the proving key (deserialized, about twice its
/// compressed bytes, and the serialized copy), the constraint matrices and witness
/// (about 400 bytes per constraint with ark-relations' sparse rows) and the FFT
/// domains of the quotient (7 vectors of 32-byte elements per constraint, rounded up
/// to a power of two). A model, not a measurement.
pub fn groth16_prove_estimate(pk_bytes: u64, num_constraints: u64) -> u64 {
    let n = num_constraints.max(1).next_power_of_two();
    3 * pk_bytes + 400 * num_constraints + 7 * FE * n + BASELINE
}

/// Memory for compiling a model whose circuit may reach `max_k` rows with up to
/// `max_advice` advice columns: key generation holds the proving key it builds and
/// runs the same polynomial work as a proof. The circuit's size is unknown before the
/// layout is planned, so this is the bound for the largest circuit the options allow.
pub fn compile_estimate(max_k: u32, max_advice: usize) -> u64 {
    let stats = LayoutStats { k: max_k, num_advice: max_advice, num_lookup_advice: max_advice, num_fixed: 2, ..Default::default() };
    let n = 1u64 << max_k;
    // Fixed, selector and permutation columns of the key, each in three forms.
    let pk = FE * n * FORMS * (stats.num_fixed as u64 + max_advice as u64 * 2 + 3);
    // Plus the same columns on the 4 parts of the extended domain, which the key caches
    // up to a budget.
    let cache = (pk * 4 / FORMS).min(zkinfer_prover::halo2::EXTENDED_PARTS_BUDGET as u64);
    2 * prove_estimate(&stats, pk + cache)
}

/// Parses a byte count: a plain integer or one with a unit (`512MiB`, `8GiB`, `2G`,
/// `100k`); units are binary (`G` = `GiB` = 2^30).
pub fn parse_bytes(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit() && c != '_').unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num.replace('_', "").parse().map_err(|_| format!("`{s}` is not a byte count (e.g. 8GiB, 512MiB, 1073741824)"))?;
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        "t" | "tb" | "tib" => 40,
        other => return Err(format!("`{s}`: unknown unit `{other}` (use B, KiB, MiB, GiB or TiB)")),
    };
    n.checked_mul(1u64 << shift).ok_or_else(|| format!("`{s}` is too large"))
}

/// Three quarters of the machine's physical memory (from `/proc/meminfo`), or 4 GiB
/// where that cannot be read.
pub fn default_budget() -> u64 {
    let total = std::fs::read_to_string("/proc/meminfo").ok().and_then(|s| {
        let line = s.lines().find(|l| l.starts_with("MemTotal:"))?;
        let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kib * 1024)
    });
    total.map(|t| t / 4 * 3).unwrap_or(4 << 30)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_counts() {
        assert_eq!(parse_bytes("1024").unwrap(), 1024);
        assert_eq!(parse_bytes("512MiB").unwrap(), 512 << 20);
        assert_eq!(parse_bytes("8 GiB").unwrap(), 8 << 30);
        assert_eq!(parse_bytes("2g").unwrap(), 2 << 30);
        assert!(parse_bytes("lots").is_err());
        assert!(parse_bytes("3 parsecs").is_err());
    }

    #[test]
    fn estimates_grow_with_k_and_columns() {
        let small = LayoutStats { k: 10, num_advice: 2, num_lookup_advice: 1, ..Default::default() };
        let wide = LayoutStats { num_advice: 6, ..small.clone() };
        let tall = LayoutStats { k: 11, ..small.clone() };
        assert!(prove_estimate(&wide, 0) > prove_estimate(&small, 0));
        assert!(prove_estimate(&tall, 0) > prove_estimate(&small, 0));
        assert!(compile_estimate(23, 6) > compile_estimate(17, 6));
    }

    /// The estimates as they were computed before the cost model moved to one module.
    #[test]
    fn estimates_are_pinned() {
        let s = |k, num_advice, num_lookup_advice, num_fixed| LayoutStats { k, num_advice, num_lookup_advice, num_fixed, ..Default::default() };
        let cases = [
            (s(9, 2, 1, 1), 0, 68_124_672),
            (LayoutStats { table_sets: 2, ..s(11, 3, 1, 1) }, 1_000_000, 74_924_608),
            (LayoutStats { table_sets: 1, mac_width: 4, mac_sets: 2, ..s(14, 4, 2, 1) }, 50_000_000, 199_946_368),
            (LayoutStats { table_sets: 2, range_in_table: true, ..s(12, 2, 0, 2) }, 7_000_000, 86_167_488),
            (LayoutStats { mac_width: 1, mac_sets: 3, ..s(13, 1, 1, 1) }, 20_000_000, 111_226_112),
        ];
        for (stats, pk_bytes, expected) in cases {
            assert_eq!(prove_estimate(&stats, pk_bytes), expected, "{stats:?}");
        }
        assert_eq!(compile_estimate(23, 6), 118_245_818_368);
        assert_eq!(compile_estimate(17, 6), 2_533_359_616);
        assert_eq!(groth16_prove_estimate(1_000_000, 5000), 73_943_872);
        assert_eq!(groth16_prove_estimate(0, 0), 67_109_088);
        assert_eq!(groth16_prove_estimate(123_456, 1 << 16), 108_373_696);
    }
}
